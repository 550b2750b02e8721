"""The papers' training recipes, as data: one frozen :class:`Recipe` per paper.

A recipe states the optimizer, base learning rate at its reference batch size, schedule,
weight decay, label smoothing, auxiliary-loss weights and epochs the paper reports (where a
paper leaves a value out, ``notes`` says what was chosen and why). ``recipe_for(model)`` reads
the recipe named on a model's card. ``recipe.optimizer(steps_per_epoch, batch_size,
epochs)`` builds the Keras optimizer and schedule for a run of any length: the schedule keeps
the paper's shape (decay points at the same fractions of training), so a 2-epoch test and the
paper's 90 epochs use one code path. The learning rate follows the linear scaling rule (Goyal
et al. 2017): ``learning_rate * batch_size / recipe.batch_size``.
"""

import dataclasses

import keras

OPTIMIZERS = ("sgd", "rmsprop", "adam")
SCHEDULES = ("constant", "plateau", "step", "piecewise", "exponential", "cosine", "poly")


@keras.saving.register_keras_serializable(package="keras_arches")
class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to ``after(warmup_steps)`` over ``warmup_steps``, then ``after``.

    Goyal et al. 2017, "Accurate, Large Minibatch SGD" (gradual warm-up over 5 epochs).
    """

    def __init__(self, after, warmup_steps):
        self.after = after
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        ramp = self.after(self.warmup_steps) * (step + 1.0) / self.warmup_steps
        return keras.ops.where(step < self.warmup_steps, ramp, self.after(step))

    def get_config(self):
        return {
            "after": keras.saving.serialize_keras_object(self.after),
            "warmup_steps": self.warmup_steps,
        }

    @classmethod
    def from_config(cls, config):
        after = keras.saving.deserialize_keras_object(config["after"])
        return cls(after, config["warmup_steps"])


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one paper trained its networks.

    ``schedule``: ``"constant"``; ``"plateau"`` (divide by ``1 / gamma`` when the validation
    loss stops improving for ``patience`` epochs: a ReduceLROnPlateau callback);
    ``"step"`` (times ``gamma`` at each epoch in ``boundaries``); ``"piecewise"`` (the
    learning rate times ``factors[i]`` from ``boundaries[i - 1]`` on); ``"exponential"``
    (times ``gamma`` every ``decay_every`` epochs); ``"cosine"`` (to 0); ``"poly"`` (linear to
    0). ``warmup_epochs`` adds a linear warm-up. Epoch figures refer to ``epochs``.
    """

    name: str
    paper: str
    optimizer_name: str
    learning_rate: float
    batch_size: int
    epochs: int
    schedule: str = "constant"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    rho: float = 0.9
    epsilon: float = 1e-7
    clipnorm: float = None
    boundaries: tuple = ()
    factors: tuple = ()
    gamma: float = 0.1
    decay_every: float = None
    patience: int = 5
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    aux_loss_weights: tuple = ()
    ema_momentum: float = None
    augment: tuple = ("crop", "flip")
    notes: str = ""

    def __post_init__(self):
        if self.optimizer_name not in OPTIMIZERS:
            raise ValueError(f"Recipe {self.name!r}: optimizer must be one of {OPTIMIZERS}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Recipe {self.name!r}: schedule must be one of {SCHEDULES}.")
        if self.schedule == "piecewise" and len(self.factors) != len(self.boundaries) + 1:
            raise ValueError(f"Recipe {self.name!r}: piecewise needs one factor per interval.")

    def scaled_learning_rate(self, batch_size):
        """The base learning rate at ``batch_size`` by the linear scaling rule."""
        return self.learning_rate * batch_size / self.batch_size

    def schedule_for(self, steps_per_epoch, batch_size, epochs=None):
        """The learning rate (a float or a Keras schedule) of a run of ``epochs`` epochs.

        Decay points, warm-up and decay intervals are moved to the same fraction of the run
        as in the paper's ``self.epochs``; steps are optimizer iterations.
        """
        epochs = epochs or self.epochs
        if steps_per_epoch < 1 or epochs < 1:
            raise ValueError(
                f"steps_per_epoch and epochs must be positive. Received: {steps_per_epoch}, "
                f"{epochs}"
            )
        stretch = epochs / self.epochs

        def steps(paper_epochs):
            return max(1, round(paper_epochs * stretch * steps_per_epoch))

        lr = self.scaled_learning_rate(batch_size)
        total = epochs * steps_per_epoch
        warmup = steps(self.warmup_epochs) if self.warmup_epochs else 0
        schedules = keras.optimizers.schedules
        if self.schedule in ("constant", "plateau"):
            rate = lr
        elif self.schedule in ("step", "piecewise"):
            factors = self.factors or [self.gamma**i for i in range(len(self.boundaries) + 1)]
            # Keras switches after a boundary step; the paper's epoch e starts at step e * n.
            bounds = [steps(b) - 1 for b in self.boundaries]
            rate = schedules.PiecewiseConstantDecay(bounds, [lr * f for f in factors])
        elif self.schedule == "exponential":
            rate = schedules.ExponentialDecay(lr, steps(self.decay_every), self.gamma, True)
        elif self.schedule == "cosine":
            warmup = min(warmup, total - 1)  # a one-step run: no warm-up, one decay step
            return schedules.CosineDecay(
                0.0 if warmup else lr, total - warmup, warmup_target=lr if warmup else None,
                warmup_steps=warmup,
            )
        else:
            rate = schedules.PolynomialDecay(lr, total, end_learning_rate=0.0, power=1.0)
        return WarmUp(rate, warmup) if warmup and not isinstance(rate, float) else rate

    def ema_momentum_for(self, total_steps):
        """The weight-averaging momentum of a run: the paper's, its horizon capped at a tenth of
        the run (Keras puts the averages into the model when fit ends; 0.9999 averages over
        10,000 steps, most of a short run's starting weights)."""
        return max(0.0, min(self.ema_momentum, 1.0 - 10.0 / total_steps))

    def optimizer(self, steps_per_epoch, batch_size, epochs=None):
        """The Keras optimizer of this recipe for a run, with its learning-rate schedule."""
        rate = self.schedule_for(steps_per_epoch, batch_size, epochs)
        use_ema = self.ema_momentum is not None
        common = dict(
            learning_rate=rate, weight_decay=self.weight_decay or None, clipnorm=self.clipnorm,
            use_ema=use_ema,
            ema_momentum=self.ema_momentum_for(steps_per_epoch * (epochs or self.epochs))
            if use_ema else 0.99,
        )
        if self.optimizer_name == "sgd":
            return keras.optimizers.SGD(momentum=self.momentum, nesterov=self.nesterov, **common)
        if self.optimizer_name == "rmsprop":
            return keras.optimizers.RMSprop(
                rho=self.rho, momentum=self.momentum, epsilon=self.epsilon, **common
            )
        return keras.optimizers.Adam(epsilon=self.epsilon, **common)

    def loss(self, from_logits=False):
        """Categorical cross-entropy with the recipe's label smoothing (one-hot labels)."""
        return keras.losses.CategoricalCrossentropy(
            from_logits=from_logits, label_smoothing=self.label_smoothing
        )

    def loss_weights(self, num_outputs):
        """``[1.0, aux...]`` for a model with ``num_outputs`` outputs, main output first."""
        aux = num_outputs - 1
        if aux == 0:
            return None
        if len(self.aux_loss_weights) != aux:
            raise ValueError(
                f"The model has {aux} auxiliary output(s) but recipe {self.name!r} weights "
                f"{len(self.aux_loss_weights)}: {self.aux_loss_weights}. Build the model "
                "without auxiliary heads or use a recipe that weights them."
            )
        return [1.0, *self.aux_loss_weights]

    def callbacks(self, epochs=None):
        """Callbacks the schedule needs: ReduceLROnPlateau for ``"plateau"``."""
        if self.schedule != "plateau":
            return []
        patience = max(1, round(self.patience * (epochs or self.epochs) / self.epochs))
        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=self.gamma, patience=patience, verbose=1
            )
        ]


_ALEXNET_PAPER = "Krizhevsky, Sutskever & Hinton 2012, NeurIPS, section 5"
RECIPES = {
    r.name: r
    for r in (
        Recipe(
            "lenet", "LeCun et al. 1998, Proc. IEEE, section II.C and III.C", "sgd", 0.01, 64,
            20, schedule="piecewise", boundaries=(2, 5, 8, 12),
            factors=(1.0, 0.4, 0.2, 0.1, 0.02), augment=(),
            notes="The paper trains 20 passes with stochastic diagonal Levenberg-Marquardt at "
            "5e-4, 2e-4, 1e-4, 5e-5, 1e-5 for 2, 3, 3, 4 and 8 passes; here SGD with momentum "
            "0.9 at 0.01 keeps those ratios and boundaries.",
        ),
        Recipe(
            "alexnet", _ALEXNET_PAPER + "; Zeiler & Fergus 2013 train ZFNet the same way",
            "sgd", 0.01, 128, 90, schedule="plateau", weight_decay=5e-4,
            notes="The learning rate was divided by 10 by hand when the validation error "
            "stopped improving (3 times in 90 epochs): a ReduceLROnPlateau callback here.",
        ),
        Recipe(
            "vgg", "Simonyan & Zisserman 2015, ICLR, section 3.1", "sgd", 0.01, 256, 74,
            schedule="plateau", weight_decay=5e-4,
            notes="Divided by 10 when validation accuracy stopped improving (3 times, 74 "
            "epochs; watched here: the validation loss); scale jittering is not reproduced "
            "(random 0.875 crops instead).",
        ),
        Recipe(
            "nin", "Lin, Chen & Yan 2014, ICLR, section 4.1 (follows Krizhevsky et al.)", "sgd",
            0.01, 128, 90, schedule="plateau", weight_decay=5e-4,
            notes="The paper only says it follows AlexNet's procedure: these are AlexNet's values.",
        ),
        Recipe(
            "googlenet", "Szegedy et al. 2015, CVPR, sections 5 and 6", "sgd", 0.01, 32, 60,
            schedule="exponential", gamma=0.96, decay_every=8, aux_loss_weights=(0.3, 0.3),
            ema_momentum=0.9999,
            notes="Asynchronous SGD, momentum 0.9, learning rate -4% every 8 epochs, Polyak "
            "averaging (EMA here). The paper gives no base rate or length: 0.01 and 60 epochs "
            "are the BVLC Caffe reproduction's.",
        ),
        Recipe(
            "inception", "Szegedy et al. 2016, CVPR (Rethinking the Inception Architecture), "
            "section 8", "rmsprop", 0.045, 32, 100, schedule="exponential", gamma=0.94,
            decay_every=2, epsilon=1.0, clipnorm=2.0, label_smoothing=0.1,
            aux_loss_weights=(0.4,), ema_momentum=0.9999,
            notes="RMSProp decay 0.9, epsilon 1.0, lr 0.045 x0.94 every 2 epochs, gradient "
            "clipping 2.0, label smoothing 0.1 (batch 32 per replica on 50 replicas). The "
            "auxiliary loss weight 0.4 is TF-slim's; Inception v4 (Szegedy et al. 2017) uses "
            "the same optimizer.",
        ),
        Recipe(
            "xception", "Chollet 2017, CVPR, section 4.3 (ImageNet)", "sgd", 0.045, 32, 100,
            schedule="exponential", gamma=0.94, decay_every=2, weight_decay=1e-5,
            ema_momentum=0.9999,
            notes="SGD momentum 0.9, lr 0.045 x0.94 every 2 epochs, weight decay 1e-5, Polyak "
            "averaging; the paper gives no epoch count (100 here).",
        ),
        Recipe(
            "resnet", "He et al. 2016, CVPR, section 3.4; warm-up: Goyal et al. 2017", "sgd",
            0.1, 256, 90, schedule="step", boundaries=(30, 60, 80), weight_decay=1e-4,
            warmup_epochs=5,
            notes="lr 0.1 divided by 10 at plateaus (epochs 30, 60, 80 as in Goyal et al.), "
            "5-epoch linear warm-up for large batches.",
        ),
        Recipe(
            "resnet_cifar", "He et al. 2016, CVPR, section 4.2 (CIFAR-10)", "sgd", 0.1, 128,
            164, schedule="step", boundaries=(82, 123), weight_decay=1e-4,
            notes="Momentum 0.9, weight decay 1e-4, batch 128, lr 0.1 divided by 10 at 32k and "
            "48k iterations, 64k in all: at 391 iterations per epoch of the 50k training "
            "images, epochs 82 and 123 of 164. Augmentation: 4-pixel padding, random 32x32 "
            "crops, flips. ResNet-110's 0.01 warm-up for the first 400 iterations is not "
            "reproduced (ResNet110 trains with Huang et al.'s stochastic-depth recipe).",
        ),
        Recipe(
            "resnext", "Xie et al. 2017, CVPR, section 4 (fb.resnet.torch schedule)", "sgd",
            0.1, 256, 120, schedule="step", boundaries=(30, 60, 90), weight_decay=1e-4,
            warmup_epochs=5,
            notes="lr 0.1 divided by 10 three times (every 30 epochs).",
        ),
        Recipe(
            "wide_resnet", "Zagoruyko & Komodakis 2016, BMVC, section 3 (CIFAR)", "sgd", 0.1,
            128, 200, schedule="step", boundaries=(60, 120, 160), gamma=0.2, nesterov=True,
            weight_decay=5e-4,
            notes="Nesterov momentum 0.9, lr 0.1 x0.2 at epochs 60, 120, 160 of 200. The "
            "ImageNet WRN-50-2 twins train with the ResNet recipe.",
        ),
        Recipe(
            "senet", "Hu, Shen & Sun 2018, CVPR, section 5", "sgd", 0.6, 1024, 100,
            schedule="step", boundaries=(30, 60, 90), weight_decay=1e-4,
            notes="lr 0.6 at batch 1024, divided by 10 every 30 epochs, 100 epochs, as for the "
            "SE-ResNets (SENet-154's extra label smoothing is left out; weight decay 1e-4 is "
            "ResNet's, the paper does not state it).",
        ),
        Recipe(
            "densenet", "Huang et al. 2017, CVPR, section 4.2 (ImageNet)", "sgd", 0.1, 256, 90,
            schedule="step", boundaries=(30, 60), nesterov=True, weight_decay=1e-4,
            notes="Nesterov momentum 0.9, lr 0.1 divided by 10 at epochs 30 and 60 of 90 "
            "(CIFAR: batch 64, 300 epochs, at 50% and 75%: the same shape).",
        ),
        Recipe(
            "squeezenet", "Iandola et al. 2016; the authors' SqueezeNet v1.0 Caffe solver",
            "sgd", 0.04, 512, 68, schedule="poly", weight_decay=2e-4,
            notes="lr 0.04 decaying linearly to 0 (poly, power 1) over 170k iterations of "
            "batch 512 (about 68 epochs).",
        ),
        Recipe(
            "fractalnet", "Larsson, Maire & Shakhnarovich 2017, ICLR, section 4 (CIFAR)", "sgd",
            0.02, 100, 400, schedule="piecewise", boundaries=(200, 300, 350, 375),
            factors=(1.0, 0.1, 0.01, 1e-3, 1e-4),
            notes="lr 0.02 divided by 10 each time the remaining epochs halve, 400 epochs.",
        ),
        Recipe(
            "stochastic_depth", "Huang et al. 2016, ECCV, section 4 (CIFAR ResNet-110)", "sgd",
            0.1, 128, 500, schedule="step", boundaries=(250, 375), nesterov=True,
            weight_decay=1e-4,
        ),
    )
}


def get_recipe(name):
    """A recipe by its name (``RECIPES``), or the recipe itself."""
    if isinstance(name, Recipe):
        return name
    if name not in RECIPES:
        raise ValueError(f"Unknown recipe {name!r}. Known recipes: {', '.join(RECIPES)}.")
    return RECIPES[name]


def recipe_for(model):
    """The recipe on a model's card: a registry name, a model a builder made, or a recipe name.

    Every family has a recipe of its own name (``recipe_for("inception")``); a model's card
    (:func:`keras_arches.model_info`) names the recipe it is trained with.
    """
    from keras_arches import registry

    if isinstance(model, Recipe):
        return model
    if isinstance(model, str) and model in RECIPES:
        return RECIPES[model]
    return get_recipe(registry.model_info(model).recipe)
