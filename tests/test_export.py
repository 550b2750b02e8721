"""Mobile export: every artefact is reloaded by an independent runtime and compared with Keras."""

import json
import math
import os
import re
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_arches
from keras_arches import cli, data, registry
from keras_arches.exporting import (
    FORMATS,
    ExportCheckError,
    ExportOptions,
    accuracy,
    collect_samples,
    export,
    export_all,
    float32_copy,
    synthetic_images,
)
from keras_arches.layers import FireModule, LocalResponseNormalization, SqueezeExcite

SHAPE = (32, 32, 3)


def lrn_group_fire_se_model(classes=10, name="small", activation="softmax"):
    """A small functional net through every custom layer that reaches the export path."""
    inputs = keras.Input(SHAPE, name="image")
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu", name="conv1")(inputs)
    x = LocalResponseNormalization(bias=2.0, alpha=1e-4, name="lrn")(x)
    x = keras.layers.Conv2D(64, 3, groups=4, padding="same", activation="relu", name="grouped")(x)
    x = FireModule(16, 32, 32, name="fire")(x)
    x = SqueezeExcite(8, name="se")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dense(128, activation="relu", name="fc")(x)
    outputs = keras.layers.Dense(classes, activation=activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def keras_outputs(model, x):
    """The Keras model's outputs computed on the CPU, where the TFLite files run (a GPU may
    compute float32 products in TensorFloat-32, whose rounding exceeds the 1e-4 bounds)."""
    with tf.device("/CPU:0"):
        return np.asarray(model(x, training=False))


def tflite_outputs(path, x):
    """Runs a .tflite file with TensorFlow's own interpreter (not the exporter's runner)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    index_in = interpreter.get_input_details()[0]["index"]
    index_out = interpreter.get_output_details()[0]["index"]
    outputs = []
    for sample in x:
        interpreter.set_tensor(index_in, sample[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(index_out))
    return np.concatenate(outputs), interpreter


def op_names(interpreter):
    return {op["op_name"] for op in interpreter._get_ops_details()}


# --- arguments and data ------------------------------------------------------------------


def test_unknown_format_lists_the_formats(tmp_path):
    with pytest.raises(ValueError, match="Unknown export format 'tflite_fp16'") as info:
        export(lrn_group_fire_se_model(), tmp_path / "m.tflite", format="tflite_fp16")
    for name in FORMATS:
        assert name in str(info.value)


@pytest.mark.parametrize(
    "make_model, message",
    [
        (lambda: "model.keras", "must be a keras.Model"),
        (
            lambda: keras.Sequential(
                [keras.Input(SHAPE), keras.layers.Lambda(lambda t: t * 2.0, name="double"),
                 keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)]
            ),
            r"Lambda layers \['double'\]",
        ),
        (lambda: keras_arches.VGG16(include_top=False, weights=None, pooling="avg"), "static size"),
    ],
)
def test_unsupported_models_are_refused(make_model, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        export(make_model(), tmp_path / "m.tflite")


def test_unknown_options_are_refused_with_the_known_ones(tmp_path):
    with pytest.raises(TypeError, match=r"export_all\(\) got unexpected keyword arguments "
                       r"\['samples'\]. Its options: \['representative_data'"):
        export_all(lrn_group_fire_se_model(), tmp_path, samples=8)
    assert ExportOptions().strict and ExportOptions().report_path == "auto"


def test_unwritable_paths_are_refused(tmp_path):
    model = lrn_group_fire_se_model()
    with pytest.raises(ValueError, match="does not exist"):
        export(model, tmp_path / "missing" / "m.tflite")
    with pytest.raises(ValueError, match="it is a directory"):
        export(model, tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="it is a file"):
        export_all(model, tmp_path / "file", ["tflite_float32"])


def test_full_integer_needs_a_representative_dataset_of_the_input_shape(tmp_path):
    model = lrn_group_fire_se_model()
    with pytest.raises(ValueError, match="pass --calibration-data FOLDER.*representative_data="):
        export(model, tmp_path / "m.tflite", format="tflite_int8")
    wrong = np.zeros((4, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match=r"shape \(4, 28, 28, 1\).*samples of shape \(32, 32, 3\)"):
        export(model, tmp_path / "m.tflite", format="tflite_int8", representative_data=wrong)


def test_every_dataset_form_gives_the_same_samples():
    images = synthetic_images(SHAPE, 10, seed=1)
    labels = np.arange(10)
    batches = [images[:4], images[4:8], images[8:]]
    forms = [
        images,
        tf.data.Dataset.from_tensor_slices(images).batch(3),
        tf.data.Dataset.from_tensor_slices((images, labels)).batch(4),
        (batch for batch in batches),
        lambda: ([sample[None]] for sample in images),  # TFLite's representative-dataset form
        list(images),
    ]
    for form in forms:
        np.testing.assert_array_equal(collect_samples(form, SHAPE, 7), images[:7])
    one_hot = tf.data.Dataset.from_tensor_slices((images, np.eye(10)[labels])).batch(4)
    x, y = collect_samples(one_hot, SHAPE, 10, labels=True)
    np.testing.assert_array_equal(y, labels)  # one-hot labels become class indices
    with pytest.raises(ValueError, match="yielded no samples"):
        collect_samples([], SHAPE, 3)


# --- exports and their checks ------------------------------------------------------------


def test_all_formats_of_lrn_grouped_conv_fire_se_model(tmp_path):
    model = lrn_group_fire_se_model()
    calibration = synthetic_images(SHAPE, 64, seed=3)
    report = export_all(model, tmp_path, representative_data=calibration, latency_runs=2,
                        verbose=False)
    assert [r.format for r in report.results] == list(FORMATS)
    x = calibration[:32]
    reference = keras_outputs(model, x)
    for format in ("tflite_float32", "tflite_float16", "tflite_int8_dynamic", "tflite_int8"):
        result = report[format]
        outputs, interpreter = tflite_outputs(result.path, x)
        # The runner's figures are those of an independent interpreter.
        np.testing.assert_allclose(result.max_abs_diff, np.abs(outputs - reference).max(),
                                   rtol=1e-3, atol=1e-7)
        assert result.runtime == "ai_edge_litert"
        # Builtin ops only, LRN included: no Flex ops, no custom ops.
        assert "LOCAL_RESPONSE_NORMALIZATION" in op_names(interpreter)
        assert not any(op.startswith("Flex") or op == "CUSTOM" for op in op_names(interpreter))
        assert result.latency_ms > 0
    assert report["tflite_float32"].max_abs_diff <= 1e-4
    assert report["saved_model"].max_abs_diff <= 1e-4
    loaded = tf.saved_model.load(report["saved_model"].path)
    with tf.device("/CPU:0"):
        np.testing.assert_allclose(loaded.serve(x), reference, atol=1e-5)
    assert report["tflite_float16"].top1_agreement >= 0.99
    # Weight bytes: float16 halves and int8 quarters the float32 file (the Dense/conv kernels
    # dominate this model's ~23k parameters; tensors under 1024 elements stay float32 in the
    # int8 files, hence 0.45 rather than 0.25).
    float32_size = report["tflite_float32"].size_bytes
    assert float32_size > 4 * model.count_params()
    assert report["tflite_float16"].size_bytes < 0.6 * float32_size
    assert report["tflite_int8_dynamic"].size_bytes < 0.45 * float32_size
    assert report["tflite_int8"].size_bytes < 0.45 * float32_size
    # The int8 file's agreement, counted again from an independent interpreter's outputs.
    int8_outputs, _ = tflite_outputs(report["tflite_int8"].path, x)
    assert report["tflite_int8"].top1_agreement == pytest.approx(
        np.mean(int8_outputs.argmax(-1) == reference.argmax(-1)))
    saved = json.loads((tmp_path / "export_report.json").read_text())
    assert saved["passed"]
    assert saved["results"][1]["max_abs_diff"] == report["tflite_float32"].max_abs_diff


def test_single_export_writes_file_and_report(tmp_path, capsys):
    model = lrn_group_fire_se_model()
    report = export(model, tmp_path / "small.tflite", latency_runs=2)
    result = report["tflite_float32"]
    assert result.path == str(tmp_path / "small.tflite") and result.passed
    x = synthetic_images(SHAPE, 4, seed=9)
    np.testing.assert_allclose(tflite_outputs(result.path, x)[0], keras_outputs(model, x),
                               atol=1e-5)
    saved = json.loads((tmp_path / "small.tflite.report.json").read_text())
    assert saved["results"][0]["format"] == "tflite_float32"
    assert "tflite_float32" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.tflite",
                                                          "small.tflite.report.json"]


def test_full_integer_io_model_runs_on_int8_tensors(tmp_path):
    model = lrn_group_fire_se_model()
    calibration = synthetic_images(SHAPE, 32, seed=4)
    report = export(
        model, tmp_path / "q.tflite", format="tflite_int8", int8_io=True,
        representative_data=calibration, latency_runs=1, verbose=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "q.tflite"))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    # The bound is tied to how much the outputs vary between inputs (their spread per class on
    # the check images): an int8 model off by that much would tell the inputs apart no better
    # than a constant. One int8 step of a softmax output in [0, 1] is 1/256.
    reference = keras_outputs(model, calibration)
    spread = float((reference.max(0) - reference.min(0)).max())
    assert report["tflite_int8"].max_abs_diff < spread / 2, (report["tflite_int8"], spread)


def test_mixed_precision_model_is_exported_from_a_float32_copy(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = lrn_group_fire_se_model()
    keras.mixed_precision.set_global_policy("float32")
    copy = float32_copy(model)
    assert copy is not model
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    assert "mixed_float16" in {layer.dtype_policy.name for layer in model.layers}  # not mutated
    x = synthetic_images(SHAPE, 8, seed=5)
    np.testing.assert_allclose(keras_outputs(copy, x), keras_outputs(model, x), atol=2e-2)
    report = export(model, tmp_path / "mp.tflite", latency_runs=1, verbose=False)
    outputs, interpreter = tflite_outputs(tmp_path / "mp.tflite", x)
    assert not any(op.startswith("Flex") for op in op_names(interpreter))
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    np.testing.assert_allclose(outputs, keras_outputs(copy, x), atol=1e-5)
    assert report["tflite_float32"].passed


def test_auxiliary_heads_are_stripped(tmp_path):
    inputs = keras.Input(SHAPE)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    main = keras.layers.Dense(5, activation="softmax", name="predictions")(pooled)
    aux = keras.layers.Dense(3, activation="softmax", name="aux")(pooled)
    model = keras.Model(inputs, [main, aux], name="with_aux")
    export(model, tmp_path / "aux.tflite", latency_runs=1, verbose=False)
    x = synthetic_images(SHAPE, 3)
    outputs, interpreter = tflite_outputs(tmp_path / "aux.tflite", x)
    assert len(interpreter.get_output_details()) == 1
    with tf.device("/CPU:0"):
        main_outputs = np.asarray(model(x, training=False)[0])
    np.testing.assert_allclose(outputs, main_outputs, atol=1e-5)


@keras.saving.register_keras_serializable(package="keras_arches_tests")
class Sinh(keras.layers.Layer):
    """tf.math.sinh has a Flex kernel but no TFLite builtin."""

    def call(self, inputs):
        return tf.math.sinh(inputs)


def test_ops_without_builtin_need_select_tf_ops(tmp_path):
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(4, name="dense")(Sinh(name="sinh")(inputs)))
    x = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
    message = r"no builtin kernel for the TensorFlow ops \['Sinh'\].*select_tf_ops=True"
    with pytest.raises(ValueError, match=message):
        export(model, tmp_path / "m.tflite", check_data=x)
    with pytest.warns(UserWarning, match="Flex"), \
            pytest.raises(ExportCheckError, match="Flex delegate"):
        # This TensorFlow build links no Flex delegate: the file is written but cannot be checked.
        export(model, tmp_path / "m.tflite", select_tf_ops=True, check_data=x, latency_runs=1)
    with pytest.warns(UserWarning, match="Flex"):
        report = export(model, tmp_path / "m.tflite", select_tf_ops=True, check=False)
    assert report["tflite_float32"].max_abs_diff is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert "FlexSinh" in op_names(tf.lite.Interpreter(model_path=str(tmp_path / "m.tflite")))


def near_tie_model():
    """Two scores whose kernels differ by less than float16 resolves: in float32 the second wins
    on every positive image; float16 weights round both kernels to 2**-12 and tie them."""
    inputs = keras.Input(SHAPE)
    flat = keras.layers.Flatten(name="flatten")(inputs)
    scores = keras.layers.Dense(2, use_bias=False, name="scores")(flat)
    model = keras.Model(inputs, scores, name="near_tie")
    kernel = np.full((int(np.prod(SHAPE)), 1), 2.0**-12, "float32")  # exact in float16
    # 1 + 2**-13 is below half of float16's relative step (2**-10) above 1.
    model.get_layer("scores").set_weights([np.hstack([kernel, kernel * (1 + 2.0**-13)])])
    return model


def test_a_failed_check_raises_or_flags(tmp_path):
    model = near_tie_model()
    x = synthetic_images(SHAPE, 8)
    assert (keras_outputs(model, x).argmax(-1) == 1).all()
    path = tmp_path / "h.tflite"
    message = r"'near_tie' failed its checks: tflite_float16: top-1 agreement 0.00% < 99%"
    with pytest.raises(ExportCheckError, match=message):
        export(model, path, format="tflite_float16", latency_runs=1, verbose=False)
    # The report is written before the error.
    assert not json.loads((tmp_path / "h.tflite.report.json").read_text())["passed"]
    report = export(model, path, format="tflite_float16", strict=False, latency_runs=1)
    assert not report.passed and "FAIL: top-1 agreement" in report.table()
    assert (tflite_outputs(path, x)[0].argmax(-1) == 0).all()  # tied: the first index
    assert export(model, tmp_path / "f.tflite", latency_runs=1, verbose=False).passed


# --- accuracy of a trained model ---------------------------------------------------------


def quadrant_data(count, seed):
    """Dark images with one bright quadrant; the label is the quadrant (learnable in seconds)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, count)
    x = rng.uniform(0, 0.3, (count, 16, 16, 1)).astype("float32")
    for image, label in zip(x, labels):
        row, col = divmod(int(label), 2)
        image[row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] += 0.7
    return x, labels


def test_int8_of_a_trained_model_keeps_accuracy_within_a_point(tmp_path):
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="quadrants")
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    train_x, train_y = quadrant_data(512, seed=0)
    model.fit(train_x, train_y, epochs=5, batch_size=32, verbose=0)
    test = tf.data.Dataset.from_tensor_slices(quadrant_data(400, seed=1)).batch(50)
    float_accuracy = accuracy(model, test)
    assert float_accuracy > 0.95  # trained: a real accuracy to lose
    report = export_all(
        model, tmp_path, ["tflite_float32", "tflite_int8_dynamic", "tflite_int8", "onnx"],
        representative_data=train_x[:100], labelled_data=test, latency_runs=1, verbose=False,
    )
    assert report.keras_accuracy == pytest.approx(float_accuracy)
    for format in ("tflite_int8_dynamic", "tflite_int8"):
        assert report[format].accuracy >= float_accuracy - 0.01
        assert accuracy(report[format].path, test) == pytest.approx(report[format].accuracy)
    assert report["tflite_float32"].accuracy == pytest.approx(float_accuracy)
    assert accuracy(report["onnx"].path, test) == pytest.approx(float_accuracy)


# --- one model of each family ------------------------------------------------------------


def test_vgg16_small_top_float32(tmp_path):
    base = keras_arches.VGG16(include_top=False, weights=None, input_shape=SHAPE, pooling="avg")
    top = keras.layers.Dense(10, name="top")(base.output)
    model = keras.Model(base.input, top, name="vgg16_small")
    report = export_all(model, tmp_path, ["tflite_float32"], check_samples=8, latency_runs=2,
                        verbose=False)
    float32 = report["tflite_float32"]
    assert float32.max_abs_diff <= 1e-4 * max(1.0, float32.max_abs_reference)
    # 14.7M conv + 5k top parameters, 4 bytes each.
    weight_bytes = 4 * model.count_params()
    assert abs(float32.size_bytes - weight_bytes) < 0.01 * weight_bytes


# Small input per registry name (the contract's test size where the architecture allows).
FAMILY_SIZES = {
    "LeNet5": 32, "AlexNet": 227, "VGG16": 32, "NiN": 224, "GoogLeNet": 224, "SqueezeNet1_1": 64,
    "InceptionV3": 75, "Xception": 71, "ResNet50": 32, "WideResNet50_2": 32, "ResNeXt50_32x4d": 32,
    "SEResNet50": 32, "DenseNetBC": 32, "FractalNet": 32,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FAMILY_SIZES))
def test_one_model_per_family_exports_within_bounds(name, tmp_path):
    info = registry.model_info(name)
    size = max(FAMILY_SIZES[name], info.min_size)
    # Logits, not probabilities: a random network's 10-class softmax is saturated or within
    # 1e-3 of uniform, and either hides a wrong export from a 1e-4 bound.
    model = info.builder(weights=None, input_shape=(size, size, info.channels), classes=10,
                         classifier_activation=None)
    report = export_all(
        model, tmp_path, ["tflite_float32", "tflite_float16"], check_samples=8, latency_runs=1,
        strict=False, verbose=False,
    )
    float32 = report["tflite_float32"]
    assert float32.max_abs_diff <= 1e-4 * max(1.0, float32.max_abs_reference), float32
    assert report["tflite_float16"].top1_agreement >= 0.99, report["tflite_float16"]
    assert not any(op.startswith("Flex") for op in float32.ops)


def test_full_integer_squeezenet_with_ceil_pools_runs_under_xnnpack(tmp_path):
    """Caffe-style ceil pools once padded with -inf, which XNNPACK (LiteRT's default CPU
    delegate) refuses in a full-integer model ("failed to prepare"): it must run and pass."""
    model = keras_arches.SqueezeNet1_1(weights=None, input_shape=(64, 64, 3), classes=10)
    calibration = synthetic_images((64, 64, 3), 32, seed=2)
    report = export(model, tmp_path / "s.tflite", format="tflite_int8",
                    representative_data=calibration, latency_runs=1, verbose=False)
    assert report.passed, report.table()
    # The check ran on the calibration images (the first check_samples of them): its agreement
    # is what an independent interpreter gives on them.
    x = calibration[:32]
    outputs, _ = tflite_outputs(report.results[0].path, x)
    assert report.results[0].top1_agreement == pytest.approx(
        np.mean(outputs.argmax(-1) == keras_outputs(model, x).argmax(-1)))


# --- ONNX --------------------------------------------------------------------------------


def onnxruntime_outputs(path, x):
    """Runs an .onnx file with ONNX Runtime directly (not the exporter's runner), whole batch."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def googlenet_with_aux_heads():
    return keras_arches.GoogLeNet(weights=None, input_shape=(79, 79, 3), classes=10,
                                  aux_classifiers=True)


ONNX_MODELS = {
    # LRN, grouped convolution (XLA-compiled by Keras on TensorFlow), fire, squeeze-excitation.
    "lrn_group_fire_se": lrn_group_fire_se_model,
    # LeNet-5's sparse C3 connection table.
    "lenet5": lambda: keras_arches.LeNet5(weights=None),
    # Caffe-style ceil-mode pools (CeilPooling2D) and fire modules; logits, which a saturated
    # softmax cannot hide.
    "squeezenet1_1": lambda: keras_arches.SqueezeNet1_1(
        weights=None, input_shape=(64, 64, 3), classes=10, classifier_activation=None),
    # Stochastic depth, which must be the identity at inference; fused batch norms.
    "resnet18_drop_path": lambda: keras_arches.ResNet18(
        weights=None, input_shape=(32, 32, 3), classes=10, drop_path_rate=0.2,
        classifier_activation=None),
    # Auxiliary heads, stripped before export; ceil-mode pools and LRN.
    "googlenet_aux": googlenet_with_aux_heads,
}


@pytest.mark.parametrize("name", sorted(ONNX_MODELS))
def test_onnx_export_matches_keras_at_any_batch(name, tmp_path):
    model = ONNX_MODELS[name]()
    path = tmp_path / f"{name}.onnx"
    report = export(model, path, format="onnx", check_samples=4, latency_runs=1, verbose=False)
    assert report["onnx"].passed and report["onnx"].runtime == "onnxruntime"
    assert "TF2ONNX_CATCH_ERRORS" not in os.environ  # set for tf2onnx only, then restored
    shape = tuple(model.inputs[0].shape[1:])
    for batch in (1, 3):  # one file, a dynamic batch
        x = synthetic_images(shape, batch, seed=batch)
        outputs = onnxruntime_outputs(path, x)
        assert len(outputs) == 1  # auxiliary heads stripped
        with tf.device("/CPU:0"):
            reference = model(x, training=False)
        reference = np.asarray(reference[0] if isinstance(reference, list) else reference)
        assert outputs[0].shape == reference.shape
        bound = 1e-4 * max(1.0, np.abs(reference).max())
        assert np.abs(outputs[0] - reference).max() <= bound


@keras.saving.register_keras_serializable(package="keras_arches_tests")
class LogGamma(keras.layers.Layer):
    """tf.math.lgamma has a TFLite-free, ONNX-free kernel: tf2onnx has no handler for it."""

    def call(self, inputs):
        return tf.math.lgamma(inputs)


def test_onnx_names_the_layer_it_cannot_convert(tmp_path):
    inputs = keras.Input((8,))
    x = keras.layers.Dense(8, activation="softplus", name="dense")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4, name="out")(LogGamma(name="log_gamma")(x)))
    with pytest.raises(ValueError, match=r"the layers \['log_gamma'\] use TensorFlow ops "
                       r"\['Lgamma'\] that tf2onnx cannot convert"):
        export(model, tmp_path / "m.onnx", format="onnx", verbose=False)


def test_onnx_without_its_extra_says_how_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'keras-arches\[onnx\]'"):
        export(lrn_group_fire_se_model(), tmp_path / "m.onnx", format="onnx", verbose=False)


# --- what an app needs: labels, preprocessing, uint8 input, calibration images ------------


def test_app_files_follow_the_checkpoint_card_and_saved_model_holds_weights_once(tmp_path):
    model = keras_arches.ResNet18(weights=None, input_shape=(64, 64, 3))
    model.checkpoint = "a1_in1k"  # what weights="a1_in1k" records, without the download
    report = export_all(model, tmp_path, ["saved_model"], check_samples=2, latency_runs=1,
                        verbose=False)
    card = keras_arches.model_info("resnet18.a1_in1k").checkpoint_for("a1_in1k")
    labels = (tmp_path / "labels.txt").read_text().splitlines()
    assert (card.dataset, card.classes) == ("imagenet-1k", len(labels))
    assert labels == [name for _, name in data.imagenet_classes()]
    config = json.loads((tmp_path / "preprocessing.json").read_text())
    assert config["input_size"] == [64, 64, 3] and config["input_dtype"] == "float32"
    # timm's eval transform: the shorter side to floor(size / crop_pct), then the centre crop.
    assert config["resize"] == math.floor(64 / card.crop_pct) == data.eval_transform(model).resize
    assert config["center_crop"] == [64, 64]
    assert config["interpolation"] == card.interpolation == "bicubic"
    assert config["channel_order"] == "RGB" and not config["preprocessing_included"]
    np.testing.assert_allclose(config["mean"], np.multiply(card.mean, 255), rtol=1e-6)
    np.testing.assert_allclose(config["std"], np.multiply(card.std, 255), rtol=1e-6)
    # An app that follows the file feeds the model what the package's own pipeline feeds it.
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 64, 64, 3))
    by_file = (pixels - np.array(config["mean"])) / np.array(config["std"])
    np.testing.assert_allclose(by_file, keras_arches.preprocess_input(pixels, model), atol=1e-5)
    ends = [(edge - m) / s for m, s in zip(config["mean"], config["std"]) for edge in (0, 255)]
    assert config["input_range"] == pytest.approx([min(ends), max(ends)], abs=1e-4)
    # Each weight is stored once (Keras' model.export stored every weight twice).
    weight_bytes = 4 * model.count_params()
    variables = tmp_path / "resnet18_saved_model" / "variables"
    stored = sum(f.stat().st_size for f in variables.glob("variables.data-*"))
    assert abs(stored - weight_bytes) < 0.01 * weight_bytes
    assert report["saved_model"].size_bytes < 1.05 * weight_bytes


def test_a_model_without_class_names_or_card_gets_no_labels(tmp_path):
    (tmp_path / "labels.txt").write_text("stale\n")
    report = export_all(lrn_group_fire_se_model(), tmp_path, ["tflite_float32"], check_samples=4,
                        latency_runs=1, verbose=False)
    assert not (tmp_path / "labels.txt").exists()
    assert report.app_files["labels.txt"].startswith("not written: the model records no class")
    assert "labels.txt           not written" in report.table()
    config = json.loads((tmp_path / "preprocessing.json").read_text())
    assert config["input_size"] == [32, 32, 3] and config["mean"] is None
    assert "preprocessing=" in config["note"]
    saved = json.loads((tmp_path / "export_report.json").read_text())
    assert saved["app_files"] == report.app_files and saved["skipped"] == {}


@pytest.mark.parametrize("mode", ["tf", "torch", "caffe"])
def test_preprocessing_json_is_keras_applications_preprocess_input(mode, tmp_path):
    export_all(lrn_group_fire_se_model(), tmp_path, [], preprocessing=mode, check=False,
               verbose=False)  # no formats: the app files only
    config = json.loads((tmp_path / "preprocessing.json").read_text())
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    ordered = pixels[..., ::-1] if config["channel_order"] == "BGR" else pixels
    by_file = (ordered - np.array(config["mean"])) / np.array(config["std"])
    expected = keras.applications.imagenet_utils.preprocess_input(pixels.copy(), mode=mode)
    np.testing.assert_allclose(by_file, expected, atol=1e-4)
    assert config["channel_order"] == ("BGR" if mode == "caffe" else "RGB")
    low, high = config["input_range"]
    assert low <= expected.min() and expected.max() <= high


@pytest.mark.parametrize("mode", ["torch", "caffe"])
def test_included_preprocessing_takes_uint8_pixels(mode, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model = lrn_group_fire_se_model(activation=None)  # logits: a spread to compare against
    report = export_all(model, tmp_path, ["tflite_float32", "onnx"], include_preprocessing=True,
                        preprocessing=mode, check_samples=4, latency_runs=1, verbose=False)
    assert report.passed
    pixels = np.random.default_rng(7).integers(0, 256, (3, *SHAPE), dtype=np.uint8)
    expected = keras_outputs(model, data.preprocess(pixels.astype("float32"), mode))
    bound = 1e-4 * (expected.max() - expected.min())
    interpreter = Interpreter(model_path=report["tflite_float32"].path)
    interpreter.allocate_tensors()
    details = interpreter.get_input_details()[0]
    assert details["dtype"] == np.uint8 and list(details["shape"]) == [1, *SHAPE]
    outputs = []
    for image in pixels:
        interpreter.set_tensor(details["index"], image[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
    assert np.abs(np.concatenate(outputs) - expected).max() <= bound
    assert np.abs(onnxruntime_outputs(report["onnx"].path, pixels)[0] - expected).max() <= bound
    config = json.loads((tmp_path / "preprocessing.json").read_text())
    assert config["preprocessing_included"] and config["input_dtype"] == "uint8"
    assert config["input_range"] == [0, 255] and config["channel_order"] == "RGB"


def test_included_preprocessing_refuses_what_it_cannot_bake_or_feed(tmp_path):
    model, path = lrn_group_fire_se_model(), tmp_path / "m.tflite"
    with pytest.raises(ValueError, match="not built by a keras_arches builder.*preprocessing="):
        export(model, path, include_preprocessing=True)
    with pytest.raises(ValueError, match="`preprocessing` must be one of"):
        export(model, path, include_preprocessing=True, preprocessing="imagenet")
    scaled = synthetic_images(SHAPE, 4) / 127.5 - 1.0
    with pytest.raises(ValueError, match=r"uint8 pixels in \[0, 255\], but representative_data "
                       r"holds values in \[-0\.99"):
        export(model, path, format="tflite_int8", include_preprocessing=True, preprocessing="tf",
               representative_data=scaled)
    with pytest.raises(ValueError, match="--int8-io or --include-preprocessing"):
        export(model, path, format="tflite_int8", include_preprocessing=True, preprocessing="tf",
               representative_data=synthetic_images(SHAPE, 4), int8_io=True)


def write_photos(folder, count, seed=0):
    """``count`` random JPEGs of another size than the model's, spread over nested folders."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / ("a/b" if i % 2 else "") / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    (folder / "notes.txt").write_text("not an image")
    return sorted(paths)


def test_int8_calibrates_on_an_image_folder(tmp_path):
    model = keras_arches.LeNet5(weights="mnist")
    paths = write_photos(tmp_path / "photos", 5)
    report = export_all(model, tmp_path / "out", ["tflite_int8"], latency_runs=1, verbose=False,
                        representative_data=tmp_path / "photos", calibration_samples=4)
    result = report["tflite_int8"]
    # The first 4 images in sorted order, loaded and scaled as the package does, calibrated
    # the file and checked it.
    assert result.passed and result.samples == 4
    x = keras_arches.preprocess_input(data.load_images(paths[:4], model), model)
    outputs, _ = tflite_outputs(result.path, x)
    np.testing.assert_allclose(result.max_abs_diff,
                               np.abs(outputs - keras_outputs(model, x)).max(), rtol=1e-5)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "sub" / "notes.txt").write_text("")
    with pytest.raises(ValueError, match=r"'.*empty' holds no images \(searched recursively for "
                       r"\.jpeg, \.jpg, \.png, \.bmp, \.gif"):
        export_all(model, tmp_path / "out", ["tflite_int8"], representative_data=empty)


def test_cli_export_reports_progress_skipped_formats_and_app_files(tmp_path, capsys):
    from ai_edge_litert.interpreter import Interpreter

    keras_arches.LeNet5(weights="mnist").save(tmp_path / "lenet5.keras")
    argv = ["export", str(tmp_path / "lenet5.keras"), "--output", str(tmp_path / "out"),
            "--samples", "4"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    formats = [f for f in FORMATS if f != "tflite_int8"]
    for step, format in enumerate(formats, 1):
        assert f"[{step}/5] {format}: writing and checking\n" in printed
        assert re.search(rf"\[{step}/5\] {format}: ok, \d+\.\d s\n", printed)
    assert printed.index("[5/5] onnx: ok") < printed.index("keras (reference)")
    assert ("tflite_int8          skipped: needs calibration images: pass --calibration-data "
            "FOLDER (representative_data= in Python)") in printed
    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert [r["format"] for r in report["results"]] == formats
    assert list(report["skipped"]) == ["tflite_int8"]
    assert (tmp_path / "out" / "labels.txt").read_text() == "".join(f"{d}\n" for d in range(10))
    # Asked for by name, int8 without calibration data names the command's flag.
    assert cli.main([*argv, "--format", "tflite_int8"]) == 2
    assert "pass --calibration-data FOLDER" in capsys.readouterr().err
    write_photos(tmp_path / "photos", 3)
    assert cli.main([*argv, "--format", "tflite_int8", "--include-preprocessing",
                     "--calibration-data", str(tmp_path / "photos")]) == 0
    interpreter = Interpreter(model_path=str(tmp_path / "out" / "lenet5_tflite_int8.tflite"))
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    config = json.loads((tmp_path / "out" / "preprocessing.json").read_text())
    assert config["preprocessing_included"] and config["channel_order"] == "L"
