"""Behaviour of the shared custom layers (small tensors, CPU)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_arches.layers import (
    AuxiliaryClassifier,
    FireModule,
    FusedBatchNormalization,
    LocalResponseNormalization,
    SqueezeExcite,
    StochasticDepth,
    drop_path_rates,
    local_response_normalization,
)

RNG = np.random.default_rng(0)  # restarted for each test by conftest


def random(*shape):
    return RNG.standard_normal(shape).astype("float32")


def to_channels_first(x):
    return np.transpose(x, (0, 3, 1, 2))


def save_load_roundtrip(layer, input_shape, tmp_path, training_inputs=None):
    """Saves a one-layer model to .keras, loads it under safe_mode, returns both outputs."""
    inputs = keras.Input(input_shape)
    model = keras.Model(inputs, layer(inputs))
    if training_inputs is not None:  # move BN statistics away from their initial values
        model(training_inputs, training=True)
    x = random(2, *input_shape)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[-1]) is type(layer)
    return np.asarray(model(x)), np.asarray(loaded(x))


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


LAYER_FACTORIES = {
    "lrn": lambda: LocalResponseNormalization(
        depth_radius=3, bias=2.0, alpha=2e-4, beta=0.5, name="lrn"
    ),
    "drop_path": lambda: StochasticDepth(0.2, seed=7, name="dp"),
    "batch_norm": lambda: FusedBatchNormalization(axis=1, epsilon=1e-5, name="bn"),
    "fire": lambda: FireModule(4, 8, 6, name="fire"),
    "se": lambda: SqueezeExcite(reduced_channels=3, ratio=0.5, name="se"),
    "aux": lambda: AuxiliaryClassifier(
        10,
        filters=8,
        conv2_filters=12,
        conv2_kernel=3,
        hidden_units=None,
        dropout_rate=0.0,
        batch_norm=True,
        classifier_activation=None,
        name="aux",
    ),
}


@pytest.mark.parametrize("kind", sorted(LAYER_FACTORIES))
def test_config_round_trip(kind):
    layer = LAYER_FACTORIES[kind]()
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config
    registered = keras.saving.get_registered_name(type(layer))
    assert registered == f"keras_arches>{type(layer).__name__}"


# --- LocalResponseNormalization -------------------------------------------------------------

LRN_SETTINGS = [(0, 1.0, 1e-4, 0.75), (2, 2.0, 1e-4, 0.75), (3, 1.0, 0.5, 0.5), (5, 0.5, 1e-2, 1.0)]


@pytest.mark.parametrize("radius,bias,alpha,beta", LRN_SETTINGS)
def test_lrn_both_paths_match_tensorflow(radius, bias, alpha, beta):
    x = random(2, 4, 5, 9) * 3.0
    expected = tf.nn.local_response_normalization(x, radius, bias, alpha, beta).numpy()
    portable = local_response_normalization(x, radius, bias, alpha, beta, axis=-1)
    np.testing.assert_allclose(np.asarray(portable), expected, rtol=1e-6, atol=1e-6)
    layer = LocalResponseNormalization(radius, bias, alpha, beta)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-6, atol=1e-6)
    assert np.abs(expected - x).max() > 1e-3  # the settings really normalize


def test_lrn_portable_path_on_other_axes_and_ranks():
    x = random(3, 7, 6)  # 3-D input takes the keras.ops path in the layer
    expected = tf.nn.local_response_normalization(x[:, None], 2, 1.5, 0.1, 0.75).numpy()[:, 0]
    layer = LocalResponseNormalization(2, 1.5, 0.1, 0.75)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-6, atol=1e-6)
    moved = local_response_normalization(np.moveaxis(x, -1, 1), 2, 1.5, 0.1, 0.75, axis=1)
    np.testing.assert_allclose(
        np.moveaxis(np.asarray(moved), 1, -1), expected, rtol=1e-6, atol=1e-6
    )


def test_lrn_channels_first_is_transposed_channels_last():
    x = random(2, 3, 4, 8)
    last = LocalResponseNormalization(2, 2.0, 0.3, 0.75, data_format="channels_last")(x)
    first = LocalResponseNormalization(2, 2.0, 0.3, 0.75, data_format="channels_first")(
        to_channels_first(x)
    )
    np.testing.assert_allclose(
        np.asarray(first), to_channels_first(np.asarray(last)), rtol=1e-6, atol=1e-6
    )


def test_lrn_computes_in_float32_under_mixed_precision(mixed_float16):
    layer = LocalResponseNormalization(bias=2.0)
    assert layer.compute_dtype == "float32"
    outputs = layer(tf.constant(random(1, 2, 2, 6), dtype="float16"))
    assert outputs.dtype == tf.float32
    assert LocalResponseNormalization(dtype="mixed_float16").compute_dtype == "float16"


def test_lrn_under_xla_equals_eager():
    layer = LocalResponseNormalization(2, 2.0, 0.1, 0.75)
    x = tf.constant(random(2, 3, 3, 10))
    compiled = tf.function(layer, jit_compile=True)
    np.testing.assert_allclose(compiled(x).numpy(), layer(x).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_lrn_exports_to_tflite_builtin_op():
    inputs = keras.Input((4, 4, 6), batch_size=1)
    model = keras.Model(inputs, LocalResponseNormalization(bias=2.0, alpha=0.1)(inputs))
    function = tf.function(lambda x: model(x)).get_concrete_function(
        tf.TensorSpec((1, 4, 4, 6), tf.float32)
    )
    interpreter = tf.lite.Interpreter(
        model_content=tf.lite.TFLiteConverter.from_concrete_functions([function]).convert()
    )
    assert [op["op_name"] for op in interpreter._get_ops_details()] == [
        "LOCAL_RESPONSE_NORMALIZATION"
    ]
    interpreter.allocate_tensors()
    x = random(1, 4, 4, 6)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    outputs = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(outputs, np.asarray(model(x)), rtol=1e-5, atol=1e-6)


def test_lrn_save_load(tmp_path):
    layer = LocalResponseNormalization(3, 2.0, 0.2, 0.6)
    before, after = save_load_roundtrip(layer, (3, 3, 7), tmp_path)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"depth_radius": -1},
        {"depth_radius": 2.0},
        {"bias": 0},
        {"alpha": -1e-4},
        {"beta": 0},
        {"data_format": "NHWC"},
    ],
)
def test_lrn_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        LocalResponseNormalization(**kwargs)


# --- FusedBatchNormalization ---------------------------------------------------------------
# Its numbers against keras.layers.BatchNormalization on every backend: test_backends.py.


def _ops_of(layer, x, training):
    graph = tf.function(lambda x: layer(x, training=training)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_fused_batch_norm_trains_with_the_fused_kernel_and_infers_as_keras():
    x = tf.constant(random(2, 3, 3, 4))
    layer = FusedBatchNormalization()
    assert "FusedBatchNormV3" in _ops_of(layer, x, training=True)
    assert "FusedBatchNormV3" not in _ops_of(layer, x, training=False)
    assert "FusedBatchNormV3" not in _ops_of(keras.layers.BatchNormalization(), x, True)
    frozen = FusedBatchNormalization()
    frozen.trainable = False  # a frozen batch norm uses its moving statistics, as Keras'
    assert "FusedBatchNormV3" not in _ops_of(frozen, x, training=True)


def test_fused_batch_norm_under_mixed_precision_and_xla(mixed_float16):
    x = tf.constant(random(4, 3, 3, 5) * 4.0 + 2.0, dtype="float16")
    ours, theirs = FusedBatchNormalization(), keras.layers.BatchNormalization()
    outputs, expected = ours(x, training=True), theirs(x, training=True)
    assert outputs.dtype == expected.dtype == tf.float16
    np.testing.assert_allclose(outputs.numpy(), expected.numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-5)
    compiled = tf.function(lambda x: ours(x, training=True), jit_compile=True)
    np.testing.assert_allclose(compiled(x).numpy(), expected.numpy(), rtol=2e-3, atol=2e-3)


def test_fused_batch_norm_save_load(tmp_path):
    layer = FusedBatchNormalization(epsilon=1e-5, momentum=0.5)
    first, second = save_load_roundtrip(layer, (3, 3, 4), tmp_path, random(4, 3, 3, 4) + 3.0)
    np.testing.assert_allclose(first, second, rtol=1e-6, atol=1e-6)
    assert np.abs(layer.moving_mean.numpy()).min() > 1.0  # a training call moved the statistics


# --- StochasticDepth ------------------------------------------------------------------------


def test_drop_path_is_identity_at_inference_and_for_rate_zero():
    x = random(5, 2, 2, 3)
    layer = StochasticDepth(0.9, seed=1)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(StochasticDepth(0.0)(x, training=True)), x)


def test_drop_path_drops_whole_samples_and_rescales():
    x = np.ones((4000, 2, 2, 3), "float32")
    outputs = np.asarray(StochasticDepth(0.5, seed=3)(x, training=True)).reshape(4000, -1)
    dropped = np.all(outputs == 0.0, axis=1)
    kept = np.all(outputs == 2.0, axis=1)
    assert np.all(dropped | kept)  # never partially dropped
    assert abs(dropped.mean() - 0.5) < 0.03
    assert abs(outputs.mean() - 1.0) < 0.06


def test_drop_path_follows_training_flag_inside_a_model():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, StochasticDepth(0.5, seed=0)(inputs))
    x = np.ones((256, 3), "float32")
    np.testing.assert_array_equal(np.asarray(model(x)), x)
    assert np.any(np.asarray(model(x, training=True)) == 0.0)


def test_drop_path_rates_decay_linearly():
    assert drop_path_rates(4, 0.5) == pytest.approx([0.125, 0.25, 0.375, 0.5])
    rates = drop_path_rates(54, 0.5)  # ResNet-110: 54 residual blocks, p_L = 0.5
    assert len(rates) == 54 and rates[-1] == 0.5 and rates[0] == pytest.approx(0.5 / 54)
    assert drop_path_rates(3, 0.0) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("args, message", [
    ((0, 0.1), r"`num_blocks` must be a positive integer. Received: num_blocks=0"),
    ((2.5, 0.1), r"`num_blocks` must be a positive integer. Received: num_blocks=2.5"),
    ((3, 1.0), r"`drop_path_rate` must be a number in \[0, 1\). Received: drop_path_rate=1.0"),
    ((3, -0.1), r"`drop_path_rate` must be a number in \[0, 1\). Received: drop_path_rate=-0.1"),
])
def test_drop_path_rates_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        drop_path_rates(*args)


@pytest.mark.parametrize("rate", [1.0, -0.1, "0.5"])
def test_drop_path_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        StochasticDepth(rate)


def test_drop_path_save_load(tmp_path):
    before, after = save_load_roundtrip(StochasticDepth(0.3, seed=5), (4, 4, 2), tmp_path)
    np.testing.assert_array_equal(before, after)


# --- FireModule -----------------------------------------------------------------------------


def test_fire_shape_and_parameter_count():
    fire = FireModule(16, 64, 64)
    outputs = fire(random(1, 55, 55, 96))
    assert tuple(outputs.shape) == (1, 55, 55, 128)
    assert fire.compute_output_shape((None, 55, 55, 96)) == (None, 55, 55, 128)
    c, s, e1, e3 = 96, 16, 64, 64
    assert fire.count_params() == c * s + s + s * e1 + e1 + 9 * s * e3 + e3 == 11_920
    names = [w.path.split("/")[-2] for w in fire.weights]
    assert names == ["squeeze", "squeeze", "expand1x1", "expand1x1", "expand3x3", "expand3x3"]


def test_fire_equals_functional_graph_with_copied_weights():
    fire = FireModule(3, 4, 5)
    x = random(2, 6, 6, 7)
    fire_out = np.asarray(fire(x))
    inputs = keras.Input((6, 6, 7))
    squeeze = keras.layers.Conv2D(3, 1, activation="relu")
    e1 = keras.layers.Conv2D(4, 1, activation="relu")
    e3 = keras.layers.Conv2D(5, 3, padding="same", activation="relu")
    s = squeeze(inputs)
    reference = keras.Model(inputs, keras.layers.Concatenate()([e1(s), e3(s)]))
    for ref_layer, layer in (
        (squeeze, fire.squeeze_conv),
        (e1, fire.expand1x1_conv),
        (e3, fire.expand3x3_conv),
    ):
        ref_layer.set_weights(layer.get_weights())
    np.testing.assert_allclose(fire_out, np.asarray(reference(x)), rtol=1e-5, atol=1e-6)
    assert np.any(fire_out[..., :4] > 0) and np.any(fire_out[..., 4:] > 0)


def test_fire_channels_first():
    x = random(2, 5, 5, 6)
    last = FireModule(2, 3, 4, data_format="channels_last")
    first = FireModule(2, 3, 4, data_format="channels_first")
    expected = np.asarray(last(x))
    first.build((None, 6, 5, 5))
    first.set_weights(last.get_weights())
    outputs = np.asarray(first(to_channels_first(x)))
    assert outputs.shape == (2, 7, 5, 5)
    np.testing.assert_allclose(outputs, to_channels_first(expected), rtol=1e-5, atol=1e-6)


def test_fire_save_load(tmp_path):
    before, after = save_load_roundtrip(FireModule(2, 3, 4), (5, 5, 3), tmp_path)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("args", [(0, 4, 4), (2, -1, 4), (2, 4, 1.5)])
def test_fire_rejects_bad_arguments(args):
    with pytest.raises(ValueError, match="positive integer"):
        FireModule(*args)


# --- SqueezeExcite --------------------------------------------------------------------------


def test_se_shape_and_parameter_count():
    se = SqueezeExcite()  # ratio 1/16 of 256 channels -> 16
    outputs = se(random(1, 2, 2, 256))
    assert tuple(outputs.shape) == (1, 2, 2, 256)
    c, r = 256, 16
    assert se.count_params() == 2 * c * r + c + r == 8_464
    assert SqueezeExcite(reduced_channels=5)(random(1, 2, 2, 8)).shape == (1, 2, 2, 8)
    tiny = SqueezeExcite(ratio=1 / 16)
    tiny.build((None, 2, 2, 8))
    assert tiny.fc1.filters == 1  # max(1, int(8 / 16))


def test_se_matches_numpy():
    se = SqueezeExcite(reduced_channels=3)
    x = random(2, 4, 5, 6)
    outputs = np.asarray(se(x))
    w1, b1, w2, b2 = se.get_weights()
    pooled = x.mean(axis=(1, 2))
    hidden = np.maximum(pooled @ w1[0, 0] + b1, 0.0)
    gate = 1.0 / (1.0 + np.exp(-(hidden @ w2[0, 0] + b2)))
    np.testing.assert_allclose(outputs, x * gate[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_se_channels_first():
    x = random(2, 3, 3, 8)
    last = SqueezeExcite(reduced_channels=2)
    first = SqueezeExcite(reduced_channels=2, data_format="channels_first")
    expected = np.asarray(last(x))
    first.build((None, 8, 3, 3))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(
        np.asarray(first(to_channels_first(x))), to_channels_first(expected), rtol=1e-5, atol=1e-6
    )


def test_se_save_load(tmp_path):
    before, after = save_load_roundtrip(SqueezeExcite(reduced_channels=2), (3, 3, 6), tmp_path)
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("kwargs", [{"reduced_channels": 0}, {"ratio": 0.0}, {"ratio": 1.5}])
def test_se_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SqueezeExcite(**kwargs)


# --- AuxiliaryClassifier --------------------------------------------------------------------

INCEPTION_V3_AUX = dict(
    batch_norm=True, conv2_filters=768, conv2_kernel=5, hidden_units=None, dropout_rate=0
)


def test_googlenet_aux_head_shape_and_parameters():
    head = AuxiliaryClassifier(1000)
    outputs = head(random(2, 14, 14, 512))  # GoogLeNet's 4a output -> 4x4x128 after pool + conv
    assert tuple(outputs.shape) == (2, 1000)
    np.testing.assert_allclose(np.asarray(outputs).sum(axis=1), 1.0, rtol=1e-5)
    assert (
        head.count_params()
        == 512 * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000
        == 3_188_840
    )


def test_inception_v3_aux_head_shape_and_parameters():
    head = AuxiliaryClassifier(1000, **INCEPTION_V3_AUX)
    assert tuple(head(random(1, 17, 17, 768)).shape) == (1, 1000)  # 17 -> pool 5 -> 5x5 conv -> 1
    # conv 1x1 (no bias) + BN without gamma (beta, moving mean, moving variance), twice; then FC.
    expected = (768 * 128 + 3 * 128) + (5 * 5 * 128 * 768 + 3 * 768) + (768 * 1000 + 1000)
    assert head.count_params() == expected == 3_327_592
    assert len(head.non_trainable_weights) == 4
    assert head.conv.use_bias is False and head.bn.scale is False and head.bn.epsilon == 1e-3


def test_aux_dropout_only_in_training():
    head = AuxiliaryClassifier(
        5, filters=4, hidden_units=16, dropout_rate=0.5, classifier_activation=None
    )
    x = random(3, 8, 8, 6)
    inference = np.asarray(head(x))
    np.testing.assert_array_equal(np.asarray(head(x, training=False)), inference)
    assert not np.allclose(np.asarray(head(x, training=True)), inference)
    no_dropout = AuxiliaryClassifier(
        5, filters=4, hidden_units=16, dropout_rate=0.0, classifier_activation=None
    )
    assert no_dropout.dropout is None
    np.testing.assert_array_equal(
        np.asarray(no_dropout(x, training=True)), np.asarray(no_dropout(x))
    )


def test_aux_classifier_float32_under_mixed_precision(mixed_float16):
    head = AuxiliaryClassifier(10, filters=4, hidden_units=8)
    outputs = head(random(2, 8, 8, 3))
    assert head.compute_dtype == "float16" and head.conv.compute_dtype == "float16"
    assert head.classifier.compute_dtype == "float32"
    assert outputs.dtype == tf.float32


def test_aux_mixed_precision_save_load(mixed_float16, tmp_path):
    head = AuxiliaryClassifier(3, filters=2, hidden_units=4)
    before, after = save_load_roundtrip(head, (6, 6, 2), tmp_path)
    assert before.dtype == after.dtype == np.float32
    np.testing.assert_array_equal(before, after)


def test_aux_channels_first_matches_channels_last():
    kwargs = dict(
        filters=4,
        conv2_filters=6,
        conv2_kernel=2,
        hidden_units=8,
        dropout_rate=0.0,
        batch_norm=True,
    )
    x = random(2, 11, 11, 3)
    last = AuxiliaryClassifier(7, **kwargs)
    first = AuxiliaryClassifier(7, data_format="channels_first", **kwargs)
    expected = np.asarray(last(x))
    first.build((None, 3, 11, 11))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(
        np.asarray(first(to_channels_first(x))), expected, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("batch_norm", [False, True])
def test_aux_save_load(tmp_path, batch_norm):
    head = AuxiliaryClassifier(
        4, filters=3, conv2_filters=5 if batch_norm else None, conv2_kernel=2, hidden_units=6,
        dropout_rate=0.3, batch_norm=batch_norm,
    )
    before, after = save_load_roundtrip(
        head, (11, 11, 2), tmp_path, training_inputs=random(8, 11, 11, 2)
    )
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classes": 0}, r"`classes` must be a positive integer. Received: classes=0"),
        ({"pool_size": 0}, r"`pool_size` must be a positive integer. Received: pool_size=0"),
        ({"hidden_units": -3}, r"`hidden_units` must be a positive integer or None. Received"),
        ({"conv2_filters": 0}, r"`conv2_filters` must be a positive integer or None. Received"),
        ({"dropout_rate": 1.0}, r"`dropout_rate` must be a number in \[0, 1\). Received"),
        ({"batch_norm": 1}, r"`batch_norm` must be True or False. Received: batch_norm=1"),
        ({"classifier_activation": "no_such_activation"},
         r"Could not interpret activation function identifier: no_such_activation"),
    ],
)
def test_aux_rejects_bad_arguments(kwargs, message):
    kwargs = {"classes": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        AuxiliaryClassifier(**kwargs)


def test_aux_minimum_input_size():
    with pytest.raises(ValueError, match="at least 17"):  # 5 + (5 - 1) * 3
        AuxiliaryClassifier(10, **INCEPTION_V3_AUX).build((None, 16, 17, 32))
    with pytest.raises(ValueError, match="at least 5"):
        AuxiliaryClassifier(10, filters=2, hidden_units=None, data_format="channels_first").build(
            (None, 3, 4, 9)
        )
    AuxiliaryClassifier(10, filters=2, hidden_units=None).build((None, 5, 5, 3))
