"""Data-parallel training on each backend's engine, against the same run on one device.

Each engine runs in a child process that sets up its devices before the backend starts: JAX
with 4 virtual CPU devices (Keras' own CI does the same), JAX with 2 processes on 127.0.0.1 of 2
devices each (the multi-host path), TensorFlow's MirroredStrategy on 2 logical CPUs. A run on
several devices must give the one-device run's losses and weights on the same global batch.
The modern LeNet-5 has no batch norm and no dropout, so no engine changes its arithmetic beyond
the order of float sums.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_arches import distributing, training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKEND = keras.backend.backend()
TIMEOUT_S = 240
# What each child trains: 2 epochs of 3 steps of 16 images, the same global batch everywhere.
RUN = """
import json, sys
import numpy as np
import keras
from keras_arches import LeNet5, distributing, training

# XLA on JAX: run op by op (jit_compile=False), the all-reduces over 4 virtual CPU devices on 2
# cores stalled in XLA's rendezvous in 3 runs of 3 beside a busy process (0 of 3 compiled). So
# every JAX step here is compiled, and its batch is a traced array.
SETTINGS = dict(epochs=2, steps_per_epoch=3, batch_size=16, test_steps=1, verbose=0,
                jit_compile=keras.backend.backend() == "jax")


def run(distribution, run_dir, **cluster):
    keras.utils.set_random_seed(0)
    engine = distributing.engine(distribution, **cluster)
    with engine.scope():  # as train() builds a registry name
        model = LeNet5(variant="modern", input_shape=(28, 28, 1))
    seen = []
    if keras.backend.backend() == "jax":
        import jax

        step = model.train_step

        def record(sharding):  # the partition of each axis, trailing unpartitioned ones cut
            spec = list(getattr(sharding, "spec", None) or [])
            while spec and spec[-1] is None:
                spec.pop()
            seen.append([spec, sharding.num_devices])

        def train_step(state, data):  # the sharding of the batch the compiled step receives
            jax.debug.inspect_array_sharding(data[0], callback=record)
            return step(state, data)

        model.train_step = train_step
    initial = model.get_weights()
    if keras.backend.backend() == "tensorflow":
        distribution = engine.strategy  # the model's variables belong to this one
    result = training.train(model, distribution=distribution, run_dir=run_dir, **SETTINGS,
                            save_path=f"{run_dir}/saved/model.keras", **cluster)
    kernel = model.get_layer("conv1").kernel.value
    placed = len(kernel.sharding.device_set) if seen else None
    final = model.get_weights()
    np.savez(f"{result.run_dir}/weights.npz", *final)  # process i: run_dir/process_i
    return dict(moved=max(float(np.abs(a - b).max()) for a, b in zip(final, initial)),
                loss=result.history["loss"], val_loss=result.history["val_loss"],
                config=result.config, batch_sharding=seen[:1], kernel_devices=placed,
                variable=type(model.get_layer("conv1").kernel.value).__name__)
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(backend, devices):
    env = dict(os.environ, PYTHONPATH=ROOT, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    # Not conftest's --xla_backend_optimization_level=0: with it (and op-by-op steps) the first
    # all-reduce over 4 virtual CPU devices stalled (3 of 4 reached XLA's rendezvous, which
    # aborts after 40 s); these runs are measured without it.
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU's devices, also on a GPU machine
    for name in distributing.CLUSTER_VARIABLES:
        env.pop(name, None)
    return env


def _children(scripts, env, tmp_path):
    """Runs the scripts at once, each bounded in time, and returns the JSON each printed last;
    all are killed if one fails or overruns."""
    children = [subprocess.Popen([sys.executable, "-c", RUN + textwrap.dedent(script)],
                                 cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for script in scripts]
    try:
        outputs = [child.communicate(timeout=TIMEOUT_S) for child in children]
    finally:
        for child in children:
            child.kill()
            child.wait()
    for child, (out, err) in zip(children, outputs):
        assert child.returncode == 0, err[-3000:]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


def _weights(run_dir):
    with np.load(os.path.join(run_dir, "weights.npz")) as stored:
        return [stored[f"arr_{i}"] for i in range(len(stored.files))]


def _assert_same_run(spread, one, spread_dir, one_dir):
    np.testing.assert_allclose(spread["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(spread["val_loss"], one["val_loss"], rtol=1e-5)
    for a, b in zip(_weights(spread_dir), _weights(one_dir)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # The runs compared did train: their weights moved by more than the tolerance.
    assert min(spread["moved"], one["moved"]) > 1e-3


@pytest.fixture(scope="module")
def one_device_jax(tmp_path_factory):
    """The reference: the JAX run on one device (of 4), beside the same run on all 4."""
    tmp = tmp_path_factory.mktemp("jax4")
    out, = _children(["""
    one = run(None, "one")
    four = run("data_parallel", "four")
    print(json.dumps(dict(one=one, four=four)))
    """], _env("jax", 4), tmp)
    return tmp, out


# -- the engines ------------------------------------------------------------------------------


@pytest.mark.slow
def test_jax_data_parallel_on_four_devices_trains_as_one_device(one_device_jax):
    tmp, out = one_device_jax
    one, four = out["one"], out["four"]
    print("losses, one device:", one["loss"], "four devices:", four["loss"])
    _assert_same_run(four, one, tmp / "four", tmp / "one")
    assert four["config"]["engine"] == "keras.distribution.DataParallel"
    assert (four["config"]["devices"], four["config"]["processes"],
            four["config"]["per_device_batch"]) == (4, 1, 4)
    assert one["config"]["engine"] == "one device" and one["config"]["devices"] == 1
    # Each batch is split along its first axis over the 4 devices; the weights sit on all 4.
    assert four["batch_sharding"] == [[["batch"], 4]]
    assert four["kernel_devices"] == 4
    assert one["batch_sharding"] == [[[], 1]] and one["kernel_devices"] == 1


@pytest.mark.slow
def test_jax_two_processes_on_localhost_train_as_one_device(one_device_jax, tmp_path):
    reference_dir, reference = one_device_jax
    port = _free_port()
    script = """
    result = run("data_parallel", "run", coordinator="127.0.0.1:{port}", num_processes=2,
                 process_id={index})
    print(json.dumps(result))
    """
    first, second = _children(
        [script.format(port=port, index=index) for index in (0, 1)], _env("jax", 2), tmp_path)
    print("losses, one device:", reference["one"]["loss"], "2 processes x 2 devices:",
          first["loss"])
    assert (first["config"]["devices"], first["config"]["processes"],
            first["config"]["per_device_batch"]) == (4, 2, 4)
    assert first["batch_sharding"] == [[["batch"], 4]]
    assert first["loss"] == second["loss"]
    # Process 0 writes the run directory, process 1 its own inside it, with the same weights.
    # Saving gathers the weights from every process, so each saves (a save by process 0 alone
    # waited for process 1 forever).
    for folder in (tmp_path / "run", tmp_path / "run" / "process_1"):
        assert (folder / "model.keras").exists()
        assert (folder / "checkpoints" / "last.keras").exists()
    for saved in (tmp_path / "run" / "saved" / "model.keras",
                  tmp_path / "run" / "process_1" / "saved" / "model.keras"):
        np.testing.assert_array_equal(keras.saving.load_model(saved).get_weights()[0],
                                      _weights(tmp_path / "run")[0])
    for a, b in zip(_weights(tmp_path / "run"), _weights(tmp_path / "run" / "process_1")):
        np.testing.assert_array_equal(a, b)
    _assert_same_run(first, reference["one"], tmp_path / "run", reference_dir / "one")


@pytest.mark.slow
def test_tensorflow_mirrored_strategy_on_two_logical_cpus_trains_as_one_device(tmp_path):
    out, = _children(["""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    one = run(None, "one")
    two = run("data_parallel", "two")
    print(json.dumps(dict(one=one, two=two)))
    """], _env("tensorflow", 1), tmp_path)
    one, two = out["one"], out["two"]
    print("losses, one device:", one["loss"], "MirroredStrategy on 2 CPUs:", two["loss"])
    assert two["config"]["engine"] == "tf.distribute.MirroredStrategy"
    assert (two["config"]["devices"], two["config"]["per_device_batch"]) == (2, 8)
    assert two["variable"] == "MirroredVariable"
    _assert_same_run(two, one, tmp_path / "two", tmp_path / "one")


# -- choosing an engine, on every backend ---------------------------------------------------


@pytest.mark.backend
def test_each_backend_names_its_engines_and_refuses_the_others_clearly(tmp_path):
    one = distributing.engine(None)
    assert (one.name, one.devices, one.processes, one.process_id) == ("one device", 1, 1, 0)
    with pytest.raises(ValueError, match=r"not supported by Keras 3 \(keras-team/keras#20585"
                                         r".*KERAS_BACKEND=jax.*--distribute data_parallel"):
        distributing.engine("multiworker")
    with pytest.raises(ValueError, match=r"join several processes.*only distribution="
                                         r"'data_parallel' on the JAX backend"):
        distributing.engine(None, num_processes=2)
    with pytest.raises(ValueError, match=r"global batch of 10 does not split evenly over 4 "
                                         r"devices.*multiple of 4"):
        distributing.Engine("four", devices=4).check_batch(10)
    if BACKEND == "torch":
        # Keras itself has no engine here: its DataParallel cannot even list the devices.
        with pytest.raises(AttributeError):
            keras.distribution.DataParallel()
        with pytest.raises(ValueError, match=r"has none for the 'torch' backend.*"
                                             r"KERAS_BACKEND=jax.*KERAS_BACKEND=tensorflow"):
            distributing.engine("data_parallel")
    else:
        engine = distributing.engine("data_parallel")  # this process's device(s)
        assert engine.devices == len(keras.distribution.list_devices()) and engine.processes == 1
        assert engine.name == {"tensorflow": "tf.distribute.MirroredStrategy",
                               "jax": "keras.distribution.DataParallel"}[BACKEND]
        with pytest.raises(ValueError, match="`distribution` must be one of"):
            distributing.engine("horovod")
    if BACKEND == "jax":
        with pytest.raises(ValueError, match="on JAX a TPU's cores are JAX devices"):
            distributing.engine("tpu")
    # A refused engine fails before the run directory is made.
    with pytest.raises(ValueError, match="keras-team/keras#20585"):
        training.train("lenet5", distribution="multiworker", run_dir=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
