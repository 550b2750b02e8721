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
