"""The papers' recipes: their values, their schedules, and a tiny real fit with each."""

import math

import keras
import pytest
from conftest import keras_accuracy

import keras_arches
from keras_arches import recipes, training
from keras_arches.recipes import RECIPES, recipe_for

FAMILIES = (
    "lenet", "alexnet", "vgg", "nin", "googlenet", "squeezenet", "inception", "xception",
    "resnet", "resnext", "wide_resnet", "senet", "densenet", "fractalnet",
)
CIFAR_RESNETS = ("resnet20", "resnet32", "resnet44", "resnet56", "resnet110")


def test_every_family_and_registered_model_has_a_recipe():
    for family in FAMILIES:
        assert recipe_for(family).name in RECIPES
    for name in keras_arches.list_models():
        assert recipe_for(name) is recipe_for(keras_arches.model_info(name).family) or (
            name in CIFAR_RESNETS
        )
    assert recipe_for("zfnet").name == "alexnet"
    assert recipe_for("resnet110").name == "stochastic_depth"  # Huang et al.'s schedule
    for name in ("resnet20", "resnet32", "resnet44", "resnet56"):
        assert recipe_for(name).name == "resnet_cifar"
    with pytest.raises(ValueError, match="Unknown recipe 'adamw'"):
        recipes.get_recipe("adamw")


def test_the_papers_values():
    for name in ("alexnet", "vgg"):
        r = RECIPES[name]
        assert (r.optimizer_name, r.momentum, r.weight_decay, r.learning_rate) == (
            "sgd", 0.9, 5e-4, 0.01)
        assert (r.schedule, r.gamma) == ("plateau", 0.1)
    assert RECIPES["googlenet"].aux_loss_weights == (0.3, 0.3)
    v3 = RECIPES["inception"]
    assert (v3.optimizer_name, v3.epsilon, v3.label_smoothing, v3.aux_loss_weights) == (
        "rmsprop", 1.0, 0.1, (0.4,))
    assert (v3.learning_rate, v3.gamma, v3.decay_every, v3.clipnorm) == (0.045, 0.94, 2, 2.0)
    for name in ("resnet", "resnext", "wide_resnet"):
        assert RECIPES[name].optimizer_name == "sgd" and RECIPES[name].schedule == "step"
    assert RECIPES["resnet"].warmup_epochs == 5


def test_he_et_al_cifar_recipe_is_section_4_2_in_epochs():
    # 0.1, /10 at 32k and 48k iterations, 64k in all, batch 128 on the 50k training images.
    r = RECIPES["resnet_cifar"]
    per_epoch = math.ceil(50_000 / 128)
    assert r.boundaries == tuple(round(i / per_epoch) for i in (32_000, 48_000))
    assert r.epochs == round(64_000 / per_epoch)
    assert (r.learning_rate, r.batch_size, r.weight_decay, r.momentum, r.gamma) == (
        0.1, 128, 1e-4, 0.9, 0.1)
    assert (r.schedule, r.nesterov, r.warmup_epochs) == ("step", False, 0.0)


def _lr(schedule, step):
    return float(schedule(step)) if callable(schedule) else schedule


def test_schedules_keep_the_papers_shape_at_any_length():
    v3 = RECIPES["inception"]
    full = v3.schedule_for(steps_per_epoch=100, batch_size=32)
    assert _lr(full, 199) == pytest.approx(0.045)
    assert _lr(full, 200) == pytest.approx(0.045 * 0.94)
    # A 2-epoch run of 10 steps cannot decay every 0.04 steps: an interval shorter than one
    # step is one step, so it decays 10 times (100 epochs decayed 50 times).
    tiny = v3.schedule_for(steps_per_epoch=5, batch_size=32, epochs=2)
    assert _lr(tiny, 10) == pytest.approx(0.045 * 0.94**10, rel=1e-5)
    resnet = RECIPES["resnet"]
    lr = resnet.schedule_for(steps_per_epoch=10, batch_size=512)  # linear scaling: 0.2
    assert _lr(lr, 0) == pytest.approx(0.2 / 50)  # warm-up over 5 epochs = 50 steps
    assert _lr(lr, 24) == pytest.approx(0.2 * 25 / 50)
    assert [_lr(lr, s) for s in (299, 300, 600, 800)] == pytest.approx([0.2, 0.02, 0.002, 2e-4])
    lenet = RECIPES["lenet"].schedule_for(steps_per_epoch=10, batch_size=64)
    assert [_lr(lenet, s) for s in (0, 20, 50, 80, 120)] == pytest.approx(
        [0.01, 0.004, 0.002, 0.001, 0.0002])
    squeeze = RECIPES["squeezenet"].schedule_for(steps_per_epoch=10, batch_size=512, epochs=4)
    assert _lr(squeeze, 0) == pytest.approx(0.04) and _lr(squeeze, 40) == pytest.approx(0)
    cosine = recipes.Recipe("c", "", "sgd", 0.1, 256, 10, schedule="cosine", warmup_epochs=1)
    cos = cosine.schedule_for(steps_per_epoch=10, batch_size=256)
    assert _lr(cos, 10) == pytest.approx(0.1) and _lr(cos, 100) == pytest.approx(0, abs=1e-6)
    assert _lr(cos, 55) == pytest.approx(0.05, rel=1e-3)
    one_step = cosine.schedule_for(steps_per_epoch=1, batch_size=256, epochs=1)  # no warm-up
    assert _lr(one_step, 0) == pytest.approx(0.1) and _lr(one_step, 1) == pytest.approx(0)
    plateau = RECIPES["vgg"]
    (callback,) = plateau.callbacks(epochs=74)
    assert (callback.factor, callback.patience) == (0.1, 5)


def _divide_at(base, factor, boundaries):
    """The rate of a paper that multiplies ``base`` by ``factor`` at each of ``boundaries``."""
    return lambda epoch: base * factor ** sum(epoch >= b for b in boundaries)


def _every(base, factor, interval):
    return lambda epoch: base * factor ** math.floor(epoch / interval)


# LeNet-5: the paper's SDLM rates for passes 1-2, 3-5, 6-8, 9-12 and 13-20, as ratios to 0.01.
_LENET_RATES = (5e-4, 2e-4, 1e-4, 5e-5, 1e-5)
_LENET_ENDS = (2, 5, 8, 12)
# (base rate, factor, every so many epochs): GoogLeNet "decreasing the learning rate by 4% every
# 8 epochs"; Inception v3 and Xception 0.045 "decayed every two epoch using an exponential rate
# of 0.94".
_EXPONENTIAL = {"googlenet": (0.01, 0.96, 8), "inception": (0.045, 0.94, 2),
                "xception": (0.045, 0.94, 2)}
# Each paper's learning rate at its own batch size as a function of the epoch, restated from
# the papers (and the reproductions a recipe cites where a paper is silent), not from
# keras_arches.recipes. The warm-up epochs of Goyal et al. are left to the test above.
PAPER_SCHEDULES = {
    "lenet": lambda epoch: 0.01 * _LENET_RATES[sum(epoch >= e for e in _LENET_ENDS)] / 5e-4,
    "alexnet": lambda epoch: 0.01,  # divided by hand on plateaus: ReduceLROnPlateau's job
    "vgg": lambda epoch: 0.01,
    "nin": lambda epoch: 0.01,
    **{name: _every(*rule) for name, rule in _EXPONENTIAL.items()},
    "resnet": _divide_at(0.1, 0.1, (30, 60, 80)),
    "resnext": _divide_at(0.1, 0.1, (30, 60, 90)),
    "wide_resnet": _divide_at(0.1, 0.2, (60, 120, 160)),
    "senet": _divide_at(0.6, 0.1, (30, 60, 90)),
    "densenet": _divide_at(0.1, 0.1, (30, 60)),
    "squeezenet": lambda epoch: 0.04 * (1 - epoch / 68),  # poly, power 1, to 0
    "fractalnet": _divide_at(0.02, 0.1, (200, 300, 350, 375)),
    "stochastic_depth": _divide_at(0.1, 0.1, (250, 375)),
    # He et al.: /10 at 32k and 48k iterations of batch 128 on 50k images.
    "resnet_cifar": lambda epoch: 0.1 * 0.1 ** sum(
        epoch * math.ceil(50_000 / 128) >= i for i in (32_000, 48_000)),
}
PAPER_EPOCHS = {"lenet": 20, "alexnet": 90, "vgg": 74, "nin": 90, "googlenet": 60,
                "inception": 100, "xception": 100, "resnet": 90, "resnext": 120,
                "wide_resnet": 200, "senet": 100, "densenet": 90, "squeezenet": 68,
                "fractalnet": 400, "stochastic_depth": 500, "resnet_cifar": 164}


def test_every_schedule_follows_its_paper():
    """Each recipe's full-length schedule, sampled in the middle of every epoch, against the
    paper's rule above."""
    assert set(PAPER_SCHEDULES) == set(RECIPES)
    for name, paper in PAPER_SCHEDULES.items():
        recipe = RECIPES[name]
        assert recipe.epochs == PAPER_EPOCHS[name], name
        steps_per_epoch = 10
        schedule = recipe.schedule_for(steps_per_epoch, recipe.batch_size)
        first = recipe.warmup_epochs or 0
        for epoch in range(first, PAPER_EPOCHS[name]):
            step = epoch * steps_per_epoch + steps_per_epoch // 2
            assert _lr(schedule, step) == pytest.approx(
                paper(step / steps_per_epoch), rel=1e-5, abs=1e-12), (name, epoch)


def test_recipe_validation():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        recipes.Recipe("x", "", "lbfgs", 0.1, 1, 1)
    with pytest.raises(ValueError, match="one factor per interval"):
        recipes.Recipe("x", "", "sgd", 0.1, 1, 1, schedule="piecewise", boundaries=(1,))
    with pytest.raises(ValueError, match="2 auxiliary output"):
        RECIPES["inception"].loss_weights(3)


# -- a tiny real fit per recipe -----------------------------------------------------------

# Small registered models of the families present now; other families use the smallest
# registered model under 2M parameters once they are registered, else a stand-in.
SMALL = {
    "lenet": ("lenet5", {"variant": "modern", "input_shape": (28, 28, 1)}),
    "nin": ("nin", {"variant": "cifar10", "input_shape": (32, 32, 3)}),
    "googlenet": ("googlenet", {"aux_classifiers": True, "input_shape": (79, 79, 3)}),
    "squeezenet": ("squeezenet1_1", {"input_shape": (64, 64, 3)}),
    # Shallow members of the deep families: the same layers, a fraction of the tracing time.
    "densenet": ("densenet_bc", {"depth": 22, "input_shape": (32, 32, 3)}),
    "resnet": ("resnet18", {"input_shape": (32, 32, 3)}),
    "stochastic_depth": ("resnet18", {"drop_path_rate": 0.5, "input_shape": (32, 32, 3)}),
    "wide_resnet": ("wide_resnet", {"depth": 10, "width": 2, "input_shape": (32, 32, 3)}),
    "resnet_cifar": ("resnet20", {"input_shape": (32, 32, 3)}),
}


def _small_model(recipe):
    family = recipe.name
    if family in SMALL:
        return SMALL[family]
    try:
        names = keras_arches.list_models(family=family)
    except ValueError:
        names = []
    small = [n for n in names if (keras_arches.model_info(n).params or 1e9) <= 2_000_000]
    if small:
        info = keras_arches.model_info(min(small, key=lambda n: keras_arches.model_info(n).params))
        size = info.test_size or info.min_size
        return info.name, {"input_shape": (size, size, info.channels)}
    return None, {}


def _stand_in(aux_heads):
    """conv-BN-ReLU, pooled, softmax head (+ auxiliary heads): any family's shape of model."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.ReLU(name="relu")(x))
    outputs = [keras.layers.Dense(10, activation="softmax", name="predictions")(x)]
    outputs += [keras.layers.Dense(10, activation="softmax", name=f"aux{i + 1}")(x)
                for i in range(aux_heads)]
    return keras.Model(inputs, outputs if aux_heads else outputs[0], name="stand_in")


_REAL = {"nin", "googlenet", "squeezenet", "densenet", "resnet", "stochastic_depth",
         "wide_resnet", "resnet_cifar"}  # real registered models: a few seconds more


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in _REAL else n for n in sorted(RECIPES)]
)
def test_a_tiny_fit_with_each_recipe(name, tmp_path):
    recipe = RECIPES[name]
    model, options = _small_model(recipe)
    if model is None:
        model = lambda: _stand_in(len(recipe.aux_loss_weights))  # noqa: E731
    result = training.train(
        model, options=options, recipe=recipe, epochs=2, steps_per_epoch=3, batch_size=8,
        test_steps=1, run_dir=str(tmp_path), verbose=0,
    )
    losses = result.history["loss"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    net = result.model
    optimizer = net.optimizer
    expected = {"sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    assert type(optimizer) is expected[recipe.optimizer_name]
    assert optimizer.momentum == recipe.momentum
    if recipe.optimizer_name == "sgd":
        assert optimizer.nesterov == recipe.nesterov
    else:
        assert (optimizer.epsilon, optimizer.rho) == (recipe.epsilon, recipe.rho)
    assert (optimizer.weight_decay or 0.0) == recipe.weight_decay
    assert optimizer.clipnorm == recipe.clipnorm
    assert optimizer.use_ema == (recipe.ema_momentum is not None)
    if optimizer.use_ema:  # 6 steps: no averaging horizon left, the weights are the last ones
        assert optimizer.ema_momentum == 0.0 and recipe.ema_momentum_for(1e6) == 0.9999
    # The learning rate after the 6 steps, the whole 2-epoch run: the paper's at the end of its
    # run (its rule above), at batch 8 by the linear scaling rule, except that a decay interval
    # shorter than one step is one step (6 decays).
    assert int(optimizer.iterations) == 6
    end = PAPER_SCHEDULES[name](PAPER_EPOCHS[name]) * 8 / recipe.batch_size
    if name in _EXPONENTIAL:
        base, factor, _ = _EXPONENTIAL[name]
        end = base * 8 / recipe.batch_size * factor**6
    expected_lr = end
    if recipe.schedule == "plateau":  # ReduceLROnPlateau may have divided it already
        reductions = math.log(float(optimizer.learning_rate) / expected_lr, recipe.gamma)
        assert reductions == pytest.approx(round(reductions), abs=1e-4)
    else:
        assert float(optimizer.learning_rate) == pytest.approx(expected_lr, rel=1e-5)
    for loss in net.loss if isinstance(net.loss, list) else [net.loss]:
        assert loss.get_config()["label_smoothing"] == recipe.label_smoothing
    if len(net.outputs) > 1:
        assert list(net._compile_loss._user_loss_weights) == [1.0, *recipe.aux_loss_weights]
        assert recipe.aux_loss_weights
    inference = keras_arches.strip_auxiliary(net)
    assert result.test_accuracy == pytest.approx(
        keras_accuracy(inference, result.test_data.take(1)), abs=1e-6)


def test_lenet_recipe_learns(tmp_path):
    """A short real run of the LeNet recipe lowers the loss and beats chance by far."""
    result = training.train(
        "lenet5", options={"variant": "modern"}, input_shape=(28, 28, 1), epochs=2,
        steps_per_epoch=30, batch_size=64, verbose=0, run_dir=str(tmp_path),
    )
    losses = result.history["loss"]
    assert losses[1] < losses[0]
    assert result.test_accuracy > 0.3  # chance is 0.1
    assert result.config["recipe"] == "lenet"
