"""The command line: listing, summaries and clear errors."""

import pytest

from keras_arches import cli


def test_list_prints_every_model(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "vgg16" in out and "138,357,544" in out


def test_summary_builds_the_model(capsys):
    assert cli.main(["summary", "vgg19", "--options", '{"include_top": false, "input_shape": [32, 32, 3]}']) == 0
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
        (["train", "lenet5", "--strategy", "horovod"], "argument --strategy: invalid choice"),
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
    import json

    report = json.loads((tmp_path / "export" / "export_report.json").read_text())
    assert report["passed"] and {r["format"] for r in report["results"]} >= {
        "saved_model", "tflite_float32", "tflite_int8"}
