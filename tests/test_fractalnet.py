"""FractalNet (Larsson et al. 2017): the join's math, both drop-paths, and the network's layout."""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_arches import FractalNet
from keras_arches.layers import FractalJoin, GlobalDropPath


def column_inputs(count, batch=2):
    """Input i is the one-hot e_i, so a join's output row is its weights over the inputs."""
    return [np.tile(np.eye(count, dtype="float32")[i], (batch, 1)) for i in range(count)]


def kept_inputs(join, count, calls, **kwargs):
    """(calls, count) booleans: which inputs each training call of ``join`` kept."""
    xs = column_inputs(count)
    step = tf.function(lambda: join(xs, training=True, **kwargs))  # eager draws are slow
    rows = []
    for _ in range(calls):
        out = np.asarray(step())
        np.testing.assert_allclose(out[0], out[1])  # one mask per batch
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-6)  # a mean of the kept ones
        rows.append(out[0] > 0)
    return np.array(rows)


def test_inference_is_the_mean_of_the_inputs():
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(4, 5, 5, 8)).astype("float32") for _ in range(3)]
    join = FractalJoin(0.5)
    for training in (False, None):
        np.testing.assert_allclose(join(xs, training=training), np.mean(xs, axis=0), rtol=1e-6)
    choice = GlobalDropPath(3, rate=1.0)(xs[0], training=False)
    np.testing.assert_array_equal(choice, np.zeros((4, 3)))
    np.testing.assert_allclose(join(xs, column=choice), np.mean(xs, axis=0), rtol=1e-6)


def test_local_drop_path_rate_and_never_all_dropped():
    # Each input is dropped with p, but when all k are drawn dropped one is kept again, so the
    # measured rate is p - p**k / k: 0.15 - 0.15**3 / 3 = 0.148875 for the paper's p and k = 3.
    kept = kept_inputs(FractalJoin(0.15, seed=1), 3, calls=3000)
    assert kept.any(axis=1).all()
    np.testing.assert_allclose(1 - kept.mean(), 0.15 - 0.15**3 / 3, atol=0.012)
    # At p = 0.9 and k = 2 both are drawn dropped 81% of the time: one survivor, each as often.
    kept = kept_inputs(FractalJoin(0.9, seed=2), 2, calls=2000)
    assert kept.any(axis=1).all()
    np.testing.assert_allclose(kept.mean(axis=0), [0.505, 0.505], atol=0.04)
    np.testing.assert_allclose(kept.all(axis=1).mean(), 0.01, atol=0.01)


def test_local_drop_path_is_seeded():
    first = kept_inputs(FractalJoin(0.5, seed=7), 3, calls=40)
    again = kept_inputs(FractalJoin(0.5, seed=7), 3, calls=40)
    other = kept_inputs(FractalJoin(0.5, seed=8), 3, calls=40)
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()


def test_global_drop_path_chooses_one_column_per_batch():
    image = np.zeros((4, 2, 2, 3), "float32")
    trigger = GlobalDropPath(3, rate=1.0, seed=3)
    step = tf.function(lambda layer: layer(image, training=True))
    chosen = []
    for _ in range(600):
        row = np.asarray(step(trigger))
        assert (row == row[0]).all() and sorted(row[0]) == [0, 0, 1]  # one column, every sample
        chosen.append(int(row[0].argmax()))
    np.testing.assert_allclose(np.bincount(chosen) / len(chosen), [1 / 3] * 3, atol=0.06)
    half = GlobalDropPath(3, rate=0.5, seed=4)
    globals_ = [np.asarray(step(half)).sum() > 0 for _ in range(600)]
    np.testing.assert_allclose(np.mean(globals_), 0.5, atol=0.07)


def test_a_global_batch_keeps_exactly_the_chosen_column():
    xs = column_inputs(3, batch=1)
    join3, join2 = FractalJoin(0.15), FractalJoin(0.15)
    for column in range(3):
        choice = np.eye(3, dtype="float32")[column][None]
        np.testing.assert_array_equal(join3(xs, column=choice, training=True), choice)
        # A two-input join merges the two deepest columns (1 and 2); column 0 bypasses it,
        # so there it is the plain mean (off the chosen path), never a division by zero.
        got = np.asarray(join2(xs[1:], column=choice, training=True))
        np.testing.assert_allclose(got, choice if column else [[0, 0.5, 0.5]])
    local = np.zeros((1, 3), "float32")  # a local batch: drop-path by the join's own rate
    assert kept_inputs(FractalJoin(0.0), 3, calls=1, column=local).all()


def test_all_joins_of_a_batch_agree_on_the_column():
    image = keras.Input((3,))
    choice = GlobalDropPath(3, rate=1.0, seed=5, name="choice")(image)
    xs = [keras.layers.Dense(3, name=f"col{i}") for i in range(3)]
    cols = [layer(image) for layer in xs]
    inner = FractalJoin(0.15, name="inner")(cols[1:], column=choice)
    outer = FractalJoin(0.15, name="outer")(cols, column=choice)
    model = keras.Model(image, [inner, outer, choice])
    for i, layer in enumerate(xs):  # column i's output is e_i whatever the input
        layer.set_weights([np.zeros((3, 3)), np.eye(3)[i]])
    seen = collections.Counter()
    for _ in range(60):
        inner_out, outer_out, row = (np.asarray(t) for t in model(np.ones((2, 3)), training=True))
        column = int(row[0].argmax())
        seen[column] += 1
        np.testing.assert_array_equal(outer_out[0], np.eye(3)[column])
        expected = np.eye(3)[column] if column else [0, 0.5, 0.5]
        np.testing.assert_allclose(inner_out[0], expected)
    assert sorted(seen) == [0, 1, 2]


def test_join_config_round_trip_and_errors():
    join = FractalJoin(0.2, seed=3, name="j")
    assert FractalJoin.from_config(join.get_config()).get_config() == join.get_config()
    trigger = GlobalDropPath(4, rate=0.25, seed=1, name="g")
    assert GlobalDropPath.from_config(trigger.get_config()).get_config() == trigger.get_config()
    x = np.ones((1, 2), "float32")
    with pytest.raises(ValueError, match="at least two"):
        FractalJoin()([x])
    with pytest.raises(ValueError, match="2 columns but the join has 3"):
        FractalJoin()([x, x, x], column=np.zeros((1, 2), "float32"))
    with pytest.raises(ValueError, match="drop_rate"):
        FractalJoin(1.0)
    with pytest.raises(ValueError, match="rate"):
        GlobalDropPath(3, rate=1.5)
    with pytest.raises(ValueError, match="columns"):
        GlobalDropPath(0)


def _convs(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def _read_layers(call):
    """Names of the layers whose outputs a serialized layer call (``get_config()``) reads."""
    if isinstance(call, dict) and call.get("class_name") == "__keras_tensor__":
        return [call["config"]["keras_history"][0]]
    values = call.values() if isinstance(call, dict) else call
    return [name for value in values for name in _read_layers(value)] if isinstance(
        call, (dict, list, tuple)) else []


def _longest_conv_path(model):
    """Number of conv layers on the longest input-to-output path."""
    depth = {}
    for layer in model.get_config()["layers"]:  # functional layers come in topological order
        parents = [name for call in layer["inbound_nodes"] for name in _read_layers(call)]
        depth[layer["name"]] = max((depth[p] for p in parents), default=0) + (
            layer["class_name"] == "Conv2D")
    return max(depth.values())


@pytest.mark.parametrize("columns", [1, 2, 3, 4])
def test_layout_follows_the_fractal_rule(columns):
    """f_C has 2**C - 1 convs and is 2**(C-1) deep: C=3 is the paper's 20-layer net, C=4 its 40."""
    model = FractalNet(weights=None, include_top=False, columns=columns)
    convs = _convs(model)
    assert len(convs) == 5 * (2**columns - 1)
    assert _longest_conv_path(model) == 5 * 2 ** (columns - 1)
    # Per block: `columns` convs read the block input, the rest map filters to filters.
    expected = 0
    for cin, cout in zip((3, 64, 128, 256, 512), (64, 128, 256, 512, 512)):
        expected += 9 * cout * (columns * cin + (2**columns - 1 - columns) * cout)
        expected += 4 * cout * (2**columns - 1)  # batch norm
    assert model.count_params() == expected
    joins = [layer for layer in model.layers if isinstance(layer, FractalJoin)]
    first_block = joins[: len(joins) // 5]
    calls = {layer["name"]: layer["inbound_nodes"] for layer in model.get_config()["layers"]}
    per_block = [len(calls[layer.name][0]["args"][0]) for layer in first_block]  # the branches
    assert per_block == {1: [], 2: [2], 3: [2, 3], 4: [2, 3, 2, 4]}[columns]


def test_paper_defaults_counts_and_block_options():
    model = FractalNet(weights=None)
    assert model.count_params() == 33_745_226  # docs/reference_counts.md (the authors' generator)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 33_724_618
    assert model.get_layer("block5_col1_1_relu").output.shape[1:3] == (2, 2)
    dropouts = {layer.name.split("_")[0]: layer.rate for layer in model.layers
                if isinstance(layer, keras.layers.Dropout)}
    assert dropouts == {"block2": 0.1, "block3": 0.2, "block4": 0.3, "block5": 0.4}
    assert model.get_layer("global_drop_path").rate == 0.5
    assert {layer.drop_rate for layer in model.layers if isinstance(layer, FractalJoin)} == {0.15}
    local_only = FractalNet(weights=None, global_drop_ratio=0)
    assert not any(isinstance(layer, GlobalDropPath) for layer in local_only.layers)
    with pytest.raises(ValueError, match="columns"):
        FractalNet(weights=None, columns=0)
    with pytest.raises(ValueError, match="dropout_rates"):
        FractalNet(weights=None, dropout_rates=(0.1, 0.2))
    with pytest.raises(ValueError, match="global_drop_ratio"):
        FractalNet(weights=None, global_drop_ratio=2)


def test_training_pass_is_seeded_and_differs_from_inference():
    x = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype("float32")
    outputs = []
    for _ in range(2):
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = FractalNet(weights=None, seed=11, classifier_activation=None)
        outputs.append([np.asarray(model(x, training=True)) for _ in range(3)])
        inference = np.asarray(model(x, training=False))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert np.isfinite(outputs[0]).all() and not np.allclose(outputs[0][0], inference)
