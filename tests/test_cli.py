"""The command line: listing, summaries, training, export, a quiet start and clear errors."""

import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_arches
from keras_arches import cli
from keras_arches.exporting import synthetic_images

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_list_prints_every_model_on_one_screen(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == keras_arches.list_models()
    assert len(lines) <= 50
    vgg16 = next(line for line in lines if line.startswith("vgg16 "))
    assert "138,357,544" in vgg16 and "3 checkpoints" in vgg16 and "imagenet-1k" in vgg16


def test_list_filters_like_list_models(capsys):
    assert cli.main(["list", "resnet*", "--dataset", "cifar-10", "--checkpoints"]) == 0
    out = capsys.readouterr().out
    models = [line.split()[0] for line in out.splitlines() if not line.startswith(" ")]
    assert models == keras_arches.list_models("resnet*", dataset="cifar-10")
    assert "akamaster_cifar10" in out and "shortcut=projection" in out
    assert cli.main(["list", "--pretrained", "no"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == keras_arches.list_models(
        pretrained=False)
    assert {"lenet5", "vgg16_c"} <= {line.split()[0] for line in out.splitlines()}
    assert cli.main(["list", "nothing*"]) == 2  # a usage error, as argparse exits
    assert "No registered model matches pattern='nothing*'" in capsys.readouterr().err


def test_summary_builds_the_model(capsys):
    options = '{"include_top": false, "input_shape": [32, 32, 3]}'
    assert cli.main(["summary", "vgg19", "--options", options]) == 0
    assert "block5_conv4" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["summary", "vgg17"], "Unknown model 'vgg17'"),
        (["summary", "vgg16", "--options", "{bad"], "--options must be a JSON object"),
        (["summary", "vgg16", "--options", '{"pooling": "mean", "include_top": false}'], "pooling"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


LENET_OPTIONS = ["--options", '{"variant": "modern", "input_shape": [28, 28, 1]}']


def test_train_writes_the_model(tmp_path, capsys):
    saved = tmp_path / "lenet5.keras"
    argv = ["train", "lenet5", *LENET_OPTIONS, "--epochs", "1", "--steps-per-epoch", "3",
            "--batch-size", "16", "--run-dir", str(tmp_path / "run"), "--save", str(saved)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "recipe lenet, precision float32, jit_compile=False" in out
    assert "3/3" in out  # Keras' progress bar
    assert "test accuracy" in out and saved.is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "lenet5", "--epochs", "0"], "argument --epochs: must be a positive integer"),
        (["train", "lenet5", "--batch-size", "x"], "argument --batch-size: must be a positive"),
        (["train", "lenet5", "--mixed-precision", "fp8"], "argument --mixed-precision"),
    ],
)
def test_train_bad_flags_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "keras-arches train: error:" in err and message in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "lenet6"], "Unknown model 'lenet6'"),
        (["train", "lenet5", "--dataset", "no_such_dataset"], "Unknown dataset"),
        (["train", "lenet5", *LENET_OPTIONS, "--image-size", "32"], "either --image-size"),
        (["train", "lenet5", "--options", '{"classes": 3}'], "classes=3 but dataset"),
        (["train", "lenet5", "--distribute", "multiworker"], "keras-team/keras#20585"),
        (["train", "lenet5", "--distribute", "horovod"], "`distribution` must be one of"),
        (["train", "lenet5", "--num-processes", "2"], "join several processes"),
    ],
)
def test_train_bad_values_exit_2(argv, message, capsys, tmp_path):
    assert cli.main([*argv, "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-arches train: error:") and message in err


@pytest.mark.slow
def test_train_and_export(tmp_path, capsys):
    argv = ["train", "lenet5", *LENET_OPTIONS, "--epochs", "1", "--steps-per-epoch", "5",
            "--run-dir", str(tmp_path / "run"), "--save", str(tmp_path / "m.keras"),
            "--export", str(tmp_path / "export")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    accuracy = float(re.search(r"test accuracy (\S+) on 1000 images", out).group(1))
    report = json.loads((tmp_path / "export" / "export_report.json").read_text())
    assert report["passed"] and [r["format"] for r in report["results"]] == [
        "saved_model", "tflite_float32", "tflite_float16", "tflite_int8_dynamic", "tflite_int8",
        "onnx"]
    # Checked on the whole test split, as the training's own accuracy.
    assert report["keras_accuracy"] == pytest.approx(accuracy, abs=1e-4)
    assert report["results"][0]["samples"] == 32
    assert out.index("test accuracy") < out.index("keras (reference)") < out.index("report: ")


# -- export ---------------------------------------------------------------------------------


def small_model():
    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small")


def test_export_a_keras_file(tmp_path, capsys):
    small_model().save(tmp_path / "small.keras")
    np.save(tmp_path / "calibration.npy", synthetic_images((16, 16, 3), 16, seed=2))
    argv = ["export", str(tmp_path / "small.keras"), "--format",
            "tflite_float32,tflite_int8,onnx",
            "--output", str(tmp_path / "out"),
            "--representative-dataset", str(tmp_path / "calibration.npy")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "tflite_float32" in out and "tflite_int8" in out
    assert f"report: {tmp_path / 'out' / 'export_report.json'}" in out
    assert (tmp_path / "out" / "small_tflite_int8.tflite").is_file()
    assert (tmp_path / "out" / "small_onnx.onnx").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "nowhere.keras", "--output", "o"], "No model file 'nowhere.keras'"),
        (["export", "{model}", "--output", "{tmp}/o", "--format", "coreml"],
         "Unknown export format 'coreml'"),
        (["export", "{corrupt}", "--output", "{tmp}/o"], "Cannot load"),
        (["export", "{model}", "--output", "{tmp}/o", "--format", "tflite_int8",
          "--representative-dataset", "imagenet"], "Unknown dataset 'imagenet'"),
    ],
)
def test_export_errors(argv, message, tmp_path, capsys):
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(tmp_path / "m.keras")
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip file")
    names = {"model": tmp_path / "m.keras", "corrupt": tmp_path / "corrupt.keras", "tmp": tmp_path}
    assert cli.main([arg.format(**names) for arg in argv]) == 2
    assert message in capsys.readouterr().err


# -- a quiet start --------------------------------------------------------------------------

# absl's record prefix (severity, MMDD, time, thread, file:line]) and its pre-init notice.
LOG_LINE = re.compile(
    r"^[IWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] |^WARNING: All log messages before absl"
)


def run_fresh(command, *args):
    """Runs the command in a fresh process with TensorFlow's default logging."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    process = subprocess.run([*command, *args], capture_output=True, text=True, env=env,
                             timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    return process


def log_lines(text):
    """Log records without their time and thread: what stays the same from run to run."""
    return {re.sub(r"^([IWEF])\d{4} [\d:.]+ +\d+ ", r"\1 ", line)
            for line in text.splitlines() if LOG_LINE.match(line)}


def test_the_command_starts_without_tensorflow_log_lines():
    script = os.path.join(os.path.dirname(sys.executable), "keras-arches")
    if not os.path.isfile(script):
        pytest.skip("the keras-arches script is not installed beside this Python")
    quiet = run_fresh([script], "list")
    assert "vgg16" in quiet.stdout
    assert not log_lines(quiet.stderr), quiet.stderr


def test_verbose_shows_the_log_tensorflow_writes_as_it_loads():
    bare = run_fresh([sys.executable, "-c", "import tensorflow"])
    if not log_lines(bare.stderr):  # otherwise the subset check below could not fail
        pytest.skip("this TensorFlow build writes no log lines as it loads")
    module = [sys.executable, "-m", "keras_arches"]
    quiet = run_fresh(module, "list")
    assert "vgg16" in quiet.stdout and not log_lines(quiet.stderr), quiet.stderr
    verbose = run_fresh(module, "list", "--verbose")
    assert "vgg16" in verbose.stdout
    assert log_lines(bare.stderr) <= log_lines(verbose.stderr)
