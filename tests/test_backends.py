"""The package on the Keras backend this process runs: TensorFlow, JAX or PyTorch.

Backend-neutral (this module imports no TensorFlow): run it under each backend, e.g.
``KERAS_BACKEND=jax python -m pytest -m backend`` (conftest defaults to TensorFlow). Every
registered builder is built at its smallest test input, run, saved as ``.keras``, reloaded under
``safe_mode=True`` and trained for one step; every custom layer runs and round-trips, the
math layers against numpy; the tf.data pipelines feed ``fit``; the converter loads a
torchvision state dict; and what needs TensorFlow says so on the other backends.
"""

import itertools
import json

import keras
import numpy as np
import pytest
from conftest import assert_same_weights, keras_accuracy, parity_import

import keras_arches
from keras_arches import data, exporting, training
from keras_arches.arch_model import ArchModel
from keras_arches.layers import (
    AuxiliaryClassifier,
    CeilPooling2D,
    ConnectionTableConv2D,
    FireModule,
    FractalJoin,
    FusedBatchNormalization,
    GlobalDropPath,
    LocalResponseNormalization,
    SqueezeExcite,
    StochasticDepth,
    local_response_normalization,
)
from keras_arches.layers.connection_table import LENET5_C3_TABLE
from keras_arches.registry import model_info

pytestmark = pytest.mark.backend

BACKEND = keras.backend.backend()
TOLERANCE = dict(rtol=1e-5, atol=1e-5)
def _builder_params():
    params = []
    for name in keras_arches.list_models():
        slow = model_info(name).slow
        params.append(pytest.param(name, marks=pytest.mark.slow) if slow else name)
    return params


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def images(shape, batch=2, seed=0):
    """A batch in [0, 1), as a model's preprocessed input roughly is."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, (batch, *shape)).astype("float32")


def round_trip(model, path):
    """``model`` saved to ``path`` and loaded back under ``safe_mode=True``."""
    model.save(path)
    return keras.saving.load_model(path, safe_mode=True)


# -- every builder ------------------------------------------------------------------------


@pytest.mark.parametrize("name", _builder_params())
def test_builder_runs_reloads_and_trains(name, tmp_path):
    """Build at the smallest size (3 classes, batch 2): the default top gives probabilities and
    the config holds no ``Lambda``; the `.keras` round trip under ``safe_mode=True`` gives the
    same outputs to 1e-5 and every weight; on TensorFlow, a second build with ``weights=`` that
    archive has the same weight paths (a weights file of the first loads by name into it) and
    every weight; then one SGD step of the reloaded model reaches the first and the last
    layer."""
    info = model_info(name)
    size = info.test_size or info.min_size
    shape = (size, size, info.channels)
    model = info.builder(weights=None, input_shape=shape, classes=3)
    assert "Lambda" not in json.dumps(model.get_config())
    x = images(shape)
    probabilities = model.predict_on_batch(x)
    assert probabilities.shape == (2, 3) and np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)

    path = tmp_path / f"{name}.keras"
    loaded = round_trip(model, path)
    assert isinstance(loaded, ArchModel) and loaded.arch == name
    np.testing.assert_allclose(loaded.predict_on_batch(x), probabilities, **TOLERANCE)
    assert_same_weights(loaded, model)  # a saturated softmax could hide a lost weight

    if BACKEND == "tensorflow":
        # weights= a `.keras` archive: extracted, then loaded by layer name like `.weights.h5`.
        # Names and the loader are backend-neutral code, checked in the TensorFlow run only (a
        # second DenseNet-121 build and load costs 10 s on JAX).
        rebuilt = info.builder(weights=str(path), input_shape=shape, classes=3)
        assert [w.path for w in rebuilt.weights] == [w.path for w in model.weights]
        assert_same_weights(rebuilt, model)  # the same builder with the same weights
        del rebuilt

    loaded.compile(optimizer=keras.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy")
    variables = loaded.trainable_variables
    before = [to_numpy(v) for v in variables]
    loss = loaded.train_on_batch(x, np.array([0, 2]))
    assert np.isfinite(loss)
    changed = [not np.array_equal(b, to_numpy(v)) for b, v in zip(before, variables)]
    assert changed[-1], "the classifier was not updated"
    # Drop-path may drop the stem's branch for the whole batch; elsewhere the gradient reaches it.
    if not any(_drops_paths(layer) for layer in loaded.layers):
        assert changed[0], "the first layer was not updated: the gradient did not reach it"


def _drops_paths(layer):
    if isinstance(layer, FractalJoin):
        return layer.drop_rate > 0
    return isinstance(layer, (GlobalDropPath, StochasticDepth)) and layer.rate > 0


# -- every custom layer -------------------------------------------------------------------


def _after_stem(make_output, shape):
    """A model whose trainable 1x1 "stem" conv feeds ``make_output``, so that a train step
    back-propagates through the layer under test to the stem."""
    inputs = keras.Input(shape)
    stem = keras.layers.Conv2D(shape[-1], 1, name="stem")(inputs)
    return keras.Model(inputs, make_output(stem))


def _fractal(x):
    other = keras.layers.Conv2D(x.shape[-1], 1, name="column1")(x)
    column = GlobalDropPath(2, rate=0.5, seed=1, name="choice")(x)
    return FractalJoin(0.15, seed=2, name="join")([x, other], column=column)


def _residual_drop_path(x):  # the stem gets a gradient even where a sample is dropped
    return keras.layers.Add()([x, StochasticDepth(0.3, seed=3)(x)])


# kind: (input shape, a function of the stem's output that applies a fresh layer)
LAYER_MODELS = {
    "aux": ((11, 11, 6), lambda x: AuxiliaryClassifier(
        3, filters=8, conv2_filters=12, conv2_kernel=3, hidden_units=None, dropout_rate=0.0,
        batch_norm=True, name="aux")(x)),
    "batch_norm": ((5, 4, 3), lambda x: FusedBatchNormalization(epsilon=1e-5, name="bn")(x)),
    "ceil_max": ((8, 7, 3), lambda x: CeilPooling2D(3, 2, name="pool")(x)),
    "ceil_average": ((7, 8, 3), lambda x: CeilPooling2D(3, 2, mode="average")(x)),
    "connection_table": ((9, 9, 6), lambda x: ConnectionTableConv2D(LENET5_C3_TABLE, 5)(x)),
    "fire": ((6, 6, 5), lambda x: FireModule(4, 8, 6, name="fire")(x)),
    "fractal": ((4, 4, 3), _fractal),
    "lrn": ((5, 5, 9), lambda x: LocalResponseNormalization(3, 2.0, 2e-4, 0.5)(x)),
    "se": ((4, 4, 6), lambda x: SqueezeExcite(reduced_channels=3)(x)),
    "stochastic_depth": ((4, 4, 3), _residual_drop_path),
}


def test_every_exported_layer_is_covered():
    exported = {name for name in keras_arches.layers.__all__ if name[0].isupper()}
    covered = {
        type(layer).__name__
        for shape, make_output in LAYER_MODELS.values()
        for layer in _after_stem(make_output, shape).layers
        if type(layer).__module__.startswith("keras_arches")
    }
    assert covered == exported


@pytest.mark.parametrize("kind", sorted(LAYER_MODELS))
def test_layer_trains_and_round_trips(kind, tmp_path):
    """One SGD step back-propagates through the layer to the stem; then a `.keras` round trip
    gives the same outputs."""
    shape, make_output = LAYER_MODELS[kind]
    model = _after_stem(make_output, shape)
    x = images(shape)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    stem = model.get_layer("stem").kernel
    before = to_numpy(stem)
    assert np.isfinite(model.train_on_batch(x, np.zeros((2, *model.output.shape[1:]))))
    assert not np.array_equal(to_numpy(stem), before), "no gradient reached the stem"
    expected = model.predict_on_batch(x)
    assert np.isfinite(expected).all()
    loaded = round_trip(model, tmp_path / f"{kind}.keras")
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_allclose(loaded.predict_on_batch(x), expected, **TOLERANCE)


# -- the math layers against numpy ---------------------------------------------------------


def lrn_reference(x, radius, bias, alpha, beta):
    """TensorFlow's LRN formula along the last axis, the window clipped at the edges."""
    depth = x.shape[-1]
    squares = np.stack(
        [(x[..., max(0, d - radius): d + radius + 1] ** 2).sum(-1) for d in range(depth)], -1
    )
    return x / (bias + alpha * squares) ** beta


@pytest.mark.parametrize(
    "radius, bias, alpha, beta", [(0, 1.0, 1e-4, 0.75), (2, 2.0, 1e-4, 0.75), (3, 1.0, 0.5, 0.5)]
)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_lrn_is_tensorflows_formula(radius, bias, alpha, beta, data_format):
    """The layer (TF's fused kernel on TensorFlow, keras.ops elsewhere) and the function."""
    x = np.random.default_rng(radius).standard_normal((2, 4, 5, 9)).astype("float32") * 3.0
    expected = lrn_reference(x.astype("float64"), radius, bias, alpha, beta)
    assert np.abs(expected - x).max() > 1e-3  # the settings really normalise
    layer = LocalResponseNormalization(radius, bias, alpha, beta, data_format=data_format)
    if data_format == "channels_first":
        x, expected = np.moveaxis(x, -1, 1), np.moveaxis(expected, -1, 1)
    np.testing.assert_allclose(to_numpy(layer(x)), expected, **TOLERANCE)
    axis = -1 if data_format == "channels_last" else 1
    function = local_response_normalization(x, radius, bias, alpha, beta, axis=axis)
    np.testing.assert_allclose(to_numpy(function), expected, **TOLERANCE)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("size", [7, 8])
def test_ceil_pooling_is_caffes(mode, size):
    """Caffe's pooling (no padding, output size rounded up, the last window clipped)."""
    x = np.random.default_rng(size).standard_normal((2, size, size + 1, 3)).astype("float32") - 2
    reduce = np.max if mode == "max" else np.mean
    rows, cols = (-(-(n - 3) // 2) + 1 for n in x.shape[1:3])
    window = lambda i, j: reduce(x[:, 2 * i: 2 * i + 3, 2 * j: 2 * j + 3], axis=(1, 2))  # noqa
    expected = np.stack([np.stack([window(i, j) for j in range(cols)], 1) for i in range(rows)], 1)
    np.testing.assert_allclose(to_numpy(CeilPooling2D(3, 2, mode=mode)(x)), expected, **TOLERANCE)


def test_connection_table_conv_is_a_masked_convolution():
    layer = ConnectionTableConv2D(LENET5_C3_TABLE, 5)
    x = images((9, 9, 6))
    outputs = to_numpy(layer(x))
    kernel, bias = to_numpy(layer.dense_kernel()), to_numpy(layer.bias)
    connected = np.zeros((6, 16), bool)
    for j, maps in enumerate(LENET5_C3_TABLE):
        connected[list(maps), j] = True
    assert np.all(kernel[:, :, ~connected] == 0) and np.all(kernel[:, :, connected] != 0)
    windows = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(1, 2))  # n,h,w,c,5,5
    expected = np.einsum("nhwcij,ijco->nhwo", windows, kernel) + bias
    np.testing.assert_allclose(outputs, expected, **TOLERANCE)


def test_squeeze_excite_is_a_channel_gate():
    layer = SqueezeExcite(reduced_channels=3)
    x = images((4, 5, 6))
    outputs = to_numpy(layer(x))
    w1, b1, w2, b2 = layer.get_weights()
    hidden = np.maximum(x.mean(axis=(1, 2)) @ w1[0, 0] + b1, 0.0)
    gate = 1.0 / (1.0 + np.exp(-(hidden @ w2[0, 0] + b2)))
    np.testing.assert_allclose(outputs, x * gate[:, None, None, :], **TOLERANCE)


@pytest.mark.parametrize("axis, shape", [(-1, (4, 5, 3, 6)), (1, (4, 6, 5, 3))])
def test_fused_batch_norm_is_keras_batch_norm(axis, shape):
    """Same outputs, gradients and moving statistics as keras.layers.BatchNormalization, in
    training (TF's fused kernel on TensorFlow) and in inference, after two training calls."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3.0 + 1.0).astype("float32")
    options = dict(axis=axis, epsilon=1e-5, momentum=0.8)
    ours, theirs = FusedBatchNormalization(**options), keras.layers.BatchNormalization(**options)
    ours.build(shape)
    theirs.build(shape)
    values = [rng.uniform(0.5, 2.0, w.shape).astype("float32") for w in theirs.weights]
    ours.set_weights(values)
    theirs.set_weights(values)
    for _ in range(2):
        np.testing.assert_allclose(
            to_numpy(ours(x, training=True)), to_numpy(theirs(x, training=True)), **TOLERANCE
        )
    for a, b in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), **TOLERANCE)
    assert not np.allclose(to_numpy(theirs.moving_variance), values[3])  # the stats moved
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(theirs(x)), **TOLERANCE)
    weights = np.cos(np.arange(x.size, dtype="float32")).reshape(shape)  # a loss that mixes
    for a, b in zip(_gradients(ours, x, weights), _gradients(theirs, x, weights)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def _gradients(layer, x, weights):
    """Gradients of sum(layer(x, training) * weights) to the input, gamma and beta."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * weights)
        return [g.numpy() for g in tape.gradient(loss, [x, layer.gamma, layer.beta])]
    if BACKEND == "jax":
        import jax

        def loss(x, gamma, beta):
            outputs, _ = layer.stateless_call(
                [gamma, beta], [v.value for v in layer.non_trainable_variables], x, training=True
            )
            return (outputs * weights).sum()

        trainable = [v.value for v in layer.trainable_variables]
        return [np.asarray(g) for g in jax.grad(loss, argnums=(0, 1, 2))(x, *trainable)]
    import torch

    x = torch.tensor(x, requires_grad=True)
    (layer(x, training=True) * torch.tensor(weights)).sum().backward()
    return [t.grad.numpy() for t in (x, layer.gamma.value, layer.beta.value)]


def test_drop_paths_in_training():
    """StochasticDepth zeroes or rescales whole samples; the fractal join keeps the chosen
    column of a global batch and averages the kept inputs of a local one."""
    x = np.ones((64, 2, 2, 3), "float32")
    dropped = to_numpy(StochasticDepth(0.5, seed=0)(x, training=True))
    per_sample = dropped.reshape(64, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert 0 < (per_sample[:, 0] == 0).sum() < 64

    choice = to_numpy(GlobalDropPath(3, rate=1.0, seed=0)(x, training=True))
    assert np.all(choice == choice[0]) and choice[0].sum() == 1.0
    columns = [np.full((2, 3), float(i + 1), "float32") for i in range(3)]
    join = FractalJoin(0.5, seed=0)
    picked = to_numpy(join(columns, column=choice[:2], training=True))
    np.testing.assert_allclose(picked, np.full((2, 3), np.argmax(choice[0]) + 1.0))
    local = to_numpy(join(columns, column=np.zeros((2, 3), "float32"), training=True))
    means = [np.mean(kept) for n in (1, 2, 3) for kept in itertools.combinations((1, 2, 3), n)]
    assert np.isclose(local[0, 0], means, rtol=1e-6).any() and np.all(local == local[0, 0])
    np.testing.assert_allclose(to_numpy(join(columns)), np.full((2, 3), 2.0), rtol=1e-6)


# -- data pipelines and training ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["tf", "torch", "caffe"])
def test_preprocessing_is_keras_applications_on_arrays_and_in_tf_data(mode):
    """keras.applications' modes, on numpy and inside a tf.data pipeline on this backend."""
    from keras.applications import imagenet_utils

    raw = next(iter(data.embedded_mnist(image_size=32, channels=3, preprocessing="raw",
                                        batch_size=4)))[0]
    raw = np.asarray(raw)
    expected = imagenet_utils.preprocess_input(raw.copy(), mode=mode)
    np.testing.assert_allclose(data.preprocess(raw, mode), expected, **TOLERANCE)
    piped = next(iter(data.embedded_mnist(image_size=32, channels=3, preprocessing=mode,
                                          batch_size=4)))[0]
    np.testing.assert_allclose(np.asarray(piped), expected, **TOLERANCE)


def test_train_runs_a_tf_data_pipeline_through_fit(tmp_path):
    """`train` on the embedded MNIST: tf.data into fit, evaluation, checkpoints, saving."""
    result = training.train(
        "lenet5", input_shape=(32, 32, 1), epochs=1, steps_per_epoch=2, batch_size=8,
        test_steps=1, verbose=0, run_dir=str(tmp_path / "run"),
        save_path=str(tmp_path / "lenet5.keras"),
    )
    assert np.isfinite(result.history["loss"]).all()
    assert result.test_accuracy == pytest.approx(
        keras_accuracy(result.model, result.test_data.take(1)), abs=1e-6)
    loaded = keras.saving.load_model(result.saved_path)
    assert loaded.arch == "lenet5"
    x = images((32, 32, 1))
    np.testing.assert_allclose(loaded.predict_on_batch(x), result.model.predict_on_batch(x),
                               **TOLERANCE)


# -- what needs TensorFlow -------------------------------------------------------------------


def test_export_needs_tensorflow(tmp_path):
    model = keras_arches.LeNet5(weights=None)
    if BACKEND == "tensorflow":
        assert exporting.check_backend() is None
        return
    for call in (lambda: keras_arches.export(model, tmp_path / "m.tflite"),
                 lambda: keras_arches.export_all(model, tmp_path / "out")):
        with pytest.raises(ValueError, match=rf"TensorFlow backend; Keras runs on '{BACKEND}'"
                                             r".*KERAS_BACKEND=tensorflow keras-arches export"):
            call()
    assert not (tmp_path / "m.tflite").exists() and not (tmp_path / "out").exists()


# -- the converter ---------------------------------------------------------------------------


def test_converter_loads_a_torchvision_state_dict():
    """A torchvision ResNet-18 state dict (random weights and batch-norm statistics) loaded
    with the converter computes torchvision's logits, to 1e-4 of their scale."""
    from keras_arches import pretrained

    torch = parity_import("torch")
    torchvision = parity_import("torchvision")
    generator = torch.Generator().manual_seed(0)
    reference = torchvision.models.resnet18(num_classes=3).eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(0.3 + 0.4 * torch.rand(n, generator=generator))
                module.bias.copy_(0.2 * torch.randn(n, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
    state = {key: value.numpy() for key, value in reference.state_dict().items()}
    model = keras_arches.ResNet18(weights=None, input_shape=(32, 32, 3), classes=3,
                                  classifier_activation=None)
    pretrained.load_state_dict(model, state, "torchvision.resnet")
    x = np.random.default_rng(1).standard_normal((2, 32, 32, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    logits = model.predict_on_batch(x)
    assert np.abs(logits - expected).max() <= 1e-4 * np.abs(expected).max()
