"""Training runs: precision, XLA, distribution, run directories, resuming and bad checkpoints."""

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_same_weights

from keras_arches import distributing, recipes, training

LENET = dict(options={"variant": "modern"}, input_shape=(28, 28, 1))
TINY = dict(epochs=2, steps_per_epoch=3, batch_size=16, test_steps=1, verbose=0)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPUS = tf.config.list_logical_devices("GPU")
needs_gpu = pytest.mark.skipif(not GPUS, reason="a GPU-only path; this machine has no GPU")
# With conftest's TF_FORCE_GPU_ALLOW_GROWTH: processes started here share a GPU.
CHILD_ENV = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")


def _python(script, *args, check=True):
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        capture_output=True, text=True, env=CHILD_ENV, timeout=600,
    )
    if check and process.returncode:
        raise AssertionError(f"exit {process.returncode}:\n{process.stderr[-3000:]}")
    return process


def test_precision_and_xla_are_resolved_explicitly():
    default = distributing.engine(None)
    assert training.resolve_precision(False, default) == "float32"
    assert training.resolve_precision("mixed_float16", default) == "mixed_float16"
    assert training.resolve_jit_compile(True, default) == (True, "as requested")
    assert training.resolve_jit_compile(False, default) == (False, "as requested")
    # "auto" follows the devices: float16 (with loss scaling) and XLA on a GPU, bfloat16 and
    # no XLA on a CPU; the default strategy is one replica.
    if GPUS:
        assert training.resolve_precision(True, default) == "mixed_float16"
        assert training.resolve_jit_compile("auto", default) == (True, "auto: one GPU")
    else:
        assert training.resolve_precision(True, default) == "mixed_bfloat16"
        assert training.resolve_jit_compile("auto", default) == (False, "auto: no GPU")
    with pytest.raises(ValueError, match="`mixed_precision` must be"):
        training.resolve_precision("float16", default)
    with pytest.raises(ValueError, match="`jit_compile` must be"):
        training.resolve_jit_compile("yes", default)


def test_mixed_float16_scales_the_loss_keeps_a_float32_head_and_restores_the_policy(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")  # whatever it was is restored
    result = training.train("lenet5", mixed_precision="mixed_float16", run_dir=str(tmp_path),
                            jit_compile=True, **LENET, **TINY)
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    net = result.model
    assert isinstance(net.optimizer, keras.optimizers.LossScaleOptimizer)
    assert net.dtype_policy.name == "mixed_float16"
    assert net.get_layer("conv1").compute_dtype == "float16"
    assert net.outputs[0].dtype == "float32"
    assert net.jit_compile is True
    assert result.config["precision"] == "mixed_float16" and result.config["jit_compile"]
    assert all(np.isfinite(result.history["loss"]))
    assert result.config["deterministic"] is False  # Keras drops XLA under determinism
    with pytest.raises(ValueError, match="exclude each other"):
        training.train("lenet5", jit_compile=True, deterministic=True, run_dir=str(tmp_path),
                       **LENET, **TINY)


@needs_gpu
def test_auto_precision_and_xla_on_a_gpu(tmp_path):
    result = training.train("lenet5", mixed_precision="auto", jit_compile="auto",
                            run_dir=str(tmp_path), **LENET, **TINY)
    assert result.config["precision"] == "mixed_float16"
    assert result.config["jit_compile"] and result.config["jit_compile_reason"] == "auto: one GPU"
    assert isinstance(result.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert all(np.isfinite(result.history["loss"]))


def test_the_policy_is_restored_when_training_fails(tmp_path):
    class Fail(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        training.train("lenet5", mixed_precision="mixed_bfloat16", run_dir=str(tmp_path),
                       callbacks=[Fail()], **LENET, **TINY)
    assert keras.config.dtype_policy().name == "float32"
    from tensorflow.python.framework import config as tf_config

    assert not tf_config.is_op_determinism_enabled()


def test_run_directory(tmp_path):
    run = tmp_path / "run"
    saved = tmp_path / "saved" / "lenet5.keras"
    result = training.train("lenet5", run_dir=str(run), save_path=str(saved), **LENET, **TINY)
    # The last and the best (lowest validation loss) epochs, not one file per epoch.
    assert sorted(os.listdir(run / "checkpoints")) == ["best.keras", "last.keras"]
    last = keras.saving.load_model(run / "checkpoints" / "last.keras")
    assert_same_weights(last, result.model)
    losses = result.history["val_loss"]
    best = keras.saving.load_model(run / "checkpoints" / "best.keras")
    if losses[-1] < losses[0]:
        assert_same_weights(best, result.model)
    else:
        assert any(not np.array_equal(a, b) for a, b in zip(best.get_weights(),
                                                           result.model.get_weights()))
    assert not (run / "backup").exists()  # a finished run leaves no backup
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch") and len(rows) == 3
    assert (run / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(files for _, _, files in os.walk(run / "tensorboard"))
    config = json.loads((run / "run_config.json").read_text())
    assert config["input_shape"] == [28, 28, 1] and config["recipe"] == "lenet"
    x, _ = next(iter(training.data_lib.embedded_mnist(batch_size=4)))
    for path in (result.model_path, str(saved)):
        loaded = keras.saving.load_model(path)
        assert loaded.class_names == [str(digit) for digit in range(10)]  # MNIST's labels
        np.testing.assert_allclose(loaded.predict(x, verbose=0),
                                   result.model.predict(x, verbose=0), atol=1e-6)


def test_keep_every_epoch_and_the_caller_s_random_streams_go_on(tmp_path):
    random.seed(5)
    np.random.seed(5)
    expected = random.random(), np.random.random()
    random.seed(5)
    np.random.seed(5)
    training.train("lenet5", run_dir=str(tmp_path), keep_every_epoch=True, seed=1, **LENET,
                   **TINY)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["epoch_001.keras",
                                                             "epoch_002.keras"]
    # train seeds Python's and NumPy's global generators for its run, then puts them back.
    assert (random.random(), np.random.random()) == expected


def test_terminate_on_nan(tmp_path):
    exploding = recipes.Recipe("explode", "", "sgd", 1e12, 16, 2, augment=())
    result = training.train("lenet5", recipe=exploding, run_dir=str(tmp_path), **LENET,
                            **dict(TINY, epochs=3))
    assert len(result.history["loss"]) == 1  # stopped in the first epoch


_RESUME = """
import os, signal, sys
import keras
import numpy as np
from keras_arches import training

run_dir, kill_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class KillAt(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if kill_at and int(self.model.optimizer.iterations) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

result = training.train(
    "lenet5", options={"variant": "modern"}, input_shape=(28, 28, 1), epochs=3,
    steps_per_epoch=5, batch_size=32, test_steps=1, augment=("crop", "flip"), seed=7,
    run_dir=run_dir, verbose=0, callbacks=[KillAt()],
)
np.savez(out, initial_epoch=result.initial_epoch,
         iterations=int(result.model.optimizer.iterations), *result.model.get_weights())
"""


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_to_the_same_weights(tmp_path):
    def start(name, kill_at):
        command = [sys.executable, "-c", _RESUME, str(tmp_path / name), str(kill_at),
                   str(tmp_path / f"{name}.npz")]
        return subprocess.Popen(command, env=CHILD_ENV, stderr=subprocess.PIPE, text=True)

    # Both at once on two cores; the second is killed at step 7, in the middle of epoch 2.
    straight, killed = start("straight", 0), start("killed", 7)
    assert killed.wait(600) == -9, killed.stderr.read()[-3000:]
    assert straight.wait(600) == 0, straight.stderr.read()[-3000:]
    assert json.loads((tmp_path / "killed" / "backup" / "training_metadata.json").read_text()
                      )["epoch"] == 1
    resumed = start("killed", 0)
    assert resumed.wait(600) == 0, resumed.stderr.read()[-3000:]
    a, b = np.load(tmp_path / "straight.npz"), np.load(tmp_path / "killed.npz")
    assert int(a["initial_epoch"]) == 0 and int(b["initial_epoch"]) == 1
    assert int(a["iterations"]) == int(b["iterations"]) == 15
    weights = [k for k in a.files if k.startswith("arr_")]
    assert len(weights) == 8
    for key in weights:  # TF's deterministic ops (CPU or GPU): bit-identical, no tolerance
        np.testing.assert_array_equal(a[key], b[key])
    rows = (tmp_path / "killed" / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]


_KILLED_AFTER = """
import os, signal, sys, threading
import keras
import numpy as np
from keras_arches import training

run_dir, delay, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]

class KillAfter(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        if delay > 0:  # a SIGKILL at any moment of fit: steps, evaluation, checkpoint writes
            threading.Timer(delay, os.kill, (os.getpid(), signal.SIGKILL)).start()

result = training.train(
    "lenet5", options={"variant": "modern"}, input_shape=(28, 28, 1), epochs=8,
    steps_per_epoch=2, batch_size=16, test_steps=1, augment=(), seed=3, run_dir=run_dir,
    verbose=0, callbacks=[KillAfter()],
)
np.savez(out, iterations=int(result.model.optimizer.iterations), *result.model.get_weights())
"""


def _writes_cut_short(run_dir):
    """The temporary files a kill left behind: it struck inside an atomic write."""
    return sum(name.startswith(".partial-") for folder in ("backup", "checkpoints")
               if (run_dir / folder).is_dir() for name in os.listdir(run_dir / folder))


@pytest.mark.slow
def test_killed_ten_times_at_random_moments_it_ends_as_an_uninterrupted_run(tmp_path):
    """SIGKILL at 10 random moments of fit (inside checkpoint and backup writes too), a restart
    after each, and the final weights equal an uninterrupted run's, bit for bit."""
    def start(name, delay):
        command = [sys.executable, "-c", _KILLED_AFTER, str(tmp_path / name), str(delay),
                   str(tmp_path / f"{name}.npz")]
        return subprocess.Popen(command, env=CHILD_ENV, stderr=subprocess.PIPE, text=True)

    straight = start("straight", 0)
    assert straight.wait(300) == 0, straight.stderr.read()[-3000:]
    expected = np.load(tmp_path / "straight.npz")
    assert int(expected["iterations"]) == 16 and len(expected.files) == 9

    def check_finished():  # TF's deterministic ops: bit-identical
        ours = np.load(tmp_path / "killed.npz")
        for key in expected.files:
            np.testing.assert_array_equal(ours[key], expected[key], err_msg=key)
        shutil.rmtree(tmp_path / "killed")  # then the next kills start a new run

    rng = np.random.default_rng(0)
    kills = cut_short = finished = 0
    while kills < 10:
        run = start("killed", rng.uniform(0.05, 1.0))
        code = run.wait(300)
        assert code in (0, -9), run.stderr.read()[-3000:]
        if code == 0:  # it ended before its timer
            check_finished()
            finished += 1
            continue
        kills += 1
        cut_short += _writes_cut_short(tmp_path / "killed")
    final = start("killed", 0)
    assert final.wait(300) == 0, final.stderr.read()[-3000:]
    check_finished()
    print(f"10 kills, {cut_short} inside a write, {finished + 1} runs finished and compared")


@needs_gpu
@pytest.mark.slow
def test_mirrored_strategy_over_the_gpus(tmp_path):
    result = training.train("lenet5", distribution="data_parallel", run_dir=str(tmp_path),
                            **LENET, **dict(TINY, epochs=1))
    assert result.config["engine"] == "tf.distribute.MirroredStrategy"
    assert result.config["devices"] == len(GPUS)
    assert np.isfinite(result.history["loss"]).all()


# -- bad checkpoints ----------------------------------------------------------------------


def _backup(run_dir, weights_bytes=None, metadata='{"epoch": 1, "batch": 0}'):
    backup = run_dir / "backup"
    backup.mkdir(parents=True)
    (backup / "training_metadata.json").write_text(metadata)
    if weights_bytes is not None:
        (backup / "latest.weights.h5").write_bytes(weights_bytes)
    return backup


@pytest.mark.parametrize(
    "weights, metadata, message",
    [
        (b"\x00" * 64, '{"epoch": 1, "batch": 0}', "not an HDF5 weights file"),
        (None, "{truncated", "not BackupAndRestore metadata"),
        (None, '{"epoch": 2, "batch": 0}', "latest.weights.h5 is missing"),
    ],
)
def test_a_corrupt_backup_is_a_clear_error(tmp_path, weights, metadata, message):
    _backup(tmp_path, weights, metadata)
    with pytest.raises(ValueError, match=message) as error:
        training.train("lenet5", run_dir=str(tmp_path), **LENET, **TINY)
    assert "Delete" in str(error.value)


def test_a_backup_of_another_run_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "w.weights.h5"
    model.save_weights(path)
    _backup(tmp_path, path.read_bytes())
    (tmp_path / "run_config.json").write_text(json.dumps({"model": "lenet5", "epochs": 9}))
    with pytest.raises(ValueError, match="holds a backup of a different run"):
        training.train("lenet5", run_dir=str(tmp_path), **LENET, **TINY)


def test_a_truncated_backup_is_a_clear_error(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.save_weights(tmp_path / "w.weights.h5")
    whole = (tmp_path / "w.weights.h5").read_bytes()
    _backup(tmp_path / "run", whole[: len(whole) // 2])  # an HDF5 signature, then nothing
    message = r"latest.weights.h5 is unusable: its HDF5 content cannot be read .*\. Delete"
    with pytest.raises(ValueError, match=message):
        training.train("lenet5", run_dir=str(tmp_path / "run"), **LENET, **TINY)
