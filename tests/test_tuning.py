"""keras-tuner search: the budget filter, width/cardinality/depth spaces, a tiny real search."""

import json

import keras
import keras_tuner
import numpy as np
import pytest
from conftest import FOLDERS, keras_accuracy, photo_folder

import keras_arches
from keras_arches import data, tuning
from keras_arches.models.resnet import resnext_bottleneck_width


def _hp(**values):
    hp = keras_tuner.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


def _grouped_convs(model):
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.Conv2D) and layer.groups > 1]


def test_width_costs_and_budget_rejection_before_training(tmp_path):
    shape = (64, 64, 3)
    probe = tuning.WidthHyperModel("squeezenet1_1", shape, 10)
    costs = {w: probe.cost(probe.candidate(_hp(width=w))) for w in (0.25, 0.5, 1.0)}
    assert costs[0.25][1] < costs[0.5][1] < costs[1.0][1]
    assert costs[1.0][0] == keras_arches.SqueezeNet1_1(
        weights=None, input_shape=shape, classes=10).count_params()
    budget = (costs[0.5][1] + costs[1.0][1]) / 2  # admits 0.25 and 0.5, rejects 1.0

    hypermodel = tuning.WidthHyperModel("squeezenet1_1", shape, 10, budget_flops=budget)
    tuner = tuning.make_tuner(hypermodel, "random", max_trials=3, directory=tmp_path)
    fitted = []

    class Spy(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            fitted.append(self.model.count_params())

    x = np.random.default_rng(0).uniform(0, 255, (16, *shape)).astype("float32")
    y = np.arange(16) % 10
    tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=8, verbose=0,
                 callbacks=[Spy()])
    rows = {row["hyperparameters"]["width"]: row for row in tuning.results_table(tuner, hypermodel)}
    assert set(rows) == {0.25, 0.5, 1.0}
    assert rows[1.0]["status"].startswith("REJECTED") and "FLOPs > budget" in rows[1.0]["status"]
    assert rows[1.0]["val_accuracy"] is None
    assert (rows[1.0]["params"], rows[1.0]["flops"]) == costs[1.0]
    for width in (0.25, 0.5):
        assert rows[width]["status"] == "COMPLETED" and rows[width]["val_accuracy"] is not None
    assert sorted(fitted) == sorted([costs[0.25][0], costs[0.5][0]])  # 1.0 never trained

    csv_path, md_path = tuning.write_results(list(rows.values()), tmp_path / "out")
    assert "REJECTED" in open(md_path).read() and "val_accuracy" in open(csv_path).read()


def test_parameter_budget():
    hypermodel = tuning.WidthHyperModel("vgg16", (32, 32, 3), 10, budget_params=1_000_000)
    with pytest.raises(keras_tuner.errors.FailedTrialError, match="parameters > budget"):
        hypermodel.build(_hp(width=1.0))
    model = hypermodel.build(_hp(width=0.125))
    assert model.count_params() <= 1_000_000 and model.optimizer is not None


@pytest.mark.parametrize("groups, width", [(4, 24), (32, 4)])
def test_cardinality_solves_the_width_and_uses_native_groups(groups, width, tmp_path):
    assert resnext_bottleneck_width(64, groups) == width
    hypermodel = tuning.CardinalityHyperModel((32, 32, 3), 10, groups=(groups,))
    model = hypermodel.candidate(_hp(groups=groups))
    grouped = _grouped_convs(model)
    assert grouped and {layer.groups for layer in grouped} == {groups}
    # The first stage's 3x3 has G paths of width c: G * c channels.
    assert grouped[0].filters == groups * width
    assert "Lambda" not in json.dumps(model.get_config())
    model.save(tmp_path / "m.keras")
    x = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "m.keras")(x), model(x))


def test_cardinality_with_chosen_widths_keeps_block_cost():
    """Identity blocks cost HW(9Gc² + 8GCc), within 1% of the bottleneck's 17HWC² (SPEC §4)."""
    stages = [(8, 64), (4, 128), (2, 256), (1, 512)]  # (H = W, C) per stage at a 32x32 input

    def identity_block_macs(groups, width):
        hypermodel = tuning.CardinalityHyperModel(
            (32, 32, 3), 10, groups=(groups,), widths=(width,), blocks_per_stage=(2, 2, 2, 2))
        model = hypermodel.candidate(_hp(groups=groups, width=width))
        return sum(row.macs for row in keras_arches.profile(model).rows if "_block2_" in row.name)

    plain = identity_block_macs(1, 64)
    assert plain == sum(17 * h * h * c * c for h, c in stages)
    for groups, width in ((4, 24), (32, 4)):
        macs = identity_block_macs(groups, width)
        scale = [(h, c, width * c // 64) for h, c in stages]  # per-path width grows with C
        assert macs == sum(h * h * (9 * groups * w * w + 8 * groups * c * w) for h, c, w in scale)
        assert abs(macs / plain - 1) < 0.01


def test_depth_space():
    hypermodel = tuning.DepthHyperModel((32, 32, 3), 10, max_blocks=(2, 1, 3, 1))
    hp = keras_tuner.HyperParameters()
    hypermodel.candidate(hp)
    assert [(p.name, p.min_value, p.max_value) for p in hp.space] == [
        ("blocks_stage1", 1, 2), ("blocks_stage2", 1, 1), ("blocks_stage3", 1, 3),
        ("blocks_stage4", 1, 1),
    ]
    shallow = hypermodel.candidate(_hp(blocks_stage1=1, blocks_stage2=1, blocks_stage3=1,
                                       blocks_stage4=1))
    deep = hypermodel.candidate(_hp(blocks_stage1=2, blocks_stage2=1, blocks_stage3=3,
                                    blocks_stage4=1))
    assert deep.count_params() > shallow.count_params()
    assert len(deep.layers) > len(shallow.layers)


def test_wide_resnet_widening_factor():
    hypermodel = tuning.WidthHyperModel("wide_resnet", (32, 32, 3), 10, widths=(1, 2), depth=10)
    narrow, wide = (hypermodel.candidate(_hp(width=k)) for k in (1, 2))
    assert wide.count_params() > 3 * narrow.count_params()


def test_misuse():
    with pytest.raises(ValueError, match="Unknown oracle"):
        tuning.make_tuner(tuning.WidthHyperModel("vgg16", (32, 32, 3), 10), "grid")
    with pytest.raises(ValueError, match="budget_flops"):
        tuning.WidthHyperModel("vgg16", (32, 32, 3), 10, budget_flops=-1)
    with pytest.raises(ValueError, match="Width search covers"):
        tuning.WidthHyperModel("alexnet", (227, 227, 3), 10)
    with pytest.raises(ValueError, match="Unknown model"):
        tuning.WidthHyperModel("vgg17", (32, 32, 3), 10)
    with pytest.raises(ValueError, match="groups"):
        tuning.CardinalityHyperModel((32, 32, 3), 10, groups=())
    with pytest.raises(ValueError, match="max_trials"):
        tuning.make_tuner(tuning.WidthHyperModel("vgg16", (32, 32, 3), 10), max_trials=0)


@pytest.mark.slow
def test_tiny_real_search_on_the_embedded_dataset(tmp_path):
    rows, best = tuning.search("squeezenet", max_trials=2, epochs=1, steps_per_epoch=3,
                               batch_size=16, output_dir=tmp_path, seed=1)
    assert len(rows) == 2 and all(row["status"] == "COMPLETED" for row in rows)
    assert {row["hyperparameters"]["width"] for row in rows} <= {0.25, 0.5, 1.0}
    model = keras.saving.load_model(best)  # safe_mode=True
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 10)
    best_row = max(rows, key=lambda row: row["val_accuracy"])
    assert model.count_params() == best_row["params"]
    # The table's validation accuracy is the best model's own on the same validation split.
    test = data.datasets(data.EMBEDDED, image_size=64, channels=3, batch_size=16,
                         steps_per_epoch=3, one_hot=False, seed=1).test
    assert best_row["val_accuracy"] == pytest.approx(keras_accuracy(model, test), abs=1e-6)
    assert (tmp_path / "results.md").read_text().count("COMPLETED") == 2


def test_cli_tune_writes_the_table_and_the_best_model(tmp_path, capsys):
    from keras_arches import cli

    code = cli.main(["tune", "resnext", "--max-trials", "2", "--steps-per-epoch", "2",
                     "--batch-size", "8", "--budget-flops", "1e12", "--output", str(tmp_path)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "groups=" in printed and "best model:" in printed
    assert keras.saving.load_model(tmp_path / "best.keras").count_params() > 0
    with pytest.raises(SystemExit):  # argparse: an unknown oracle is a usage error
        cli.main(["tune", "resnext", "--oracle", "grid"])


def test_search_reads_an_image_folder_in_keras_layout(tmp_path):
    """The tuner takes the same folders as train and finetune (here Keras' class/image one)."""
    root = photo_folder(tmp_path / "photos", per_class=6)
    rows, best = tuning.search("squeezenet", dataset=root, max_trials=1, epochs=1,
                               steps_per_epoch=1, batch_size=4, output_dir=tmp_path / "out")
    assert len(rows) == 1 and rows[0]["status"] == "COMPLETED"
    model = keras.saving.load_model(best)
    assert model.output_shape == (None, len(FOLDERS))
