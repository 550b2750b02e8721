"""Data-parallel throughput: images/s and scaling efficiency on 1, 2, 4 and 8 devices.

Each (backend, device count) runs in a process of its own, which sets its devices up before the
backend starts:

- with GPUs, the first N of them (``CUDA_VISIBLE_DEVICES``);
- without, N virtual CPU devices: ``--xla_force_host_platform_device_count`` for JAX, N
  logical CPUs for TensorFlow. They share the machine's cores, so their figures measure what
  the engine costs, not a speed-up.

The child asks :func:`keras_arches.distributing.engine` for ``"data_parallel"`` (JAX
``keras.distribution.DataParallel``, TensorFlow ``MirroredStrategy``), builds ``--model`` in its
scope and fits it (SGD with momentum, cross-entropy, Keras' ``jit_compile="auto"``) on random
images with a fixed batch per device (weak scaling: what adding devices buys). After a warm-up
round, each of ``--rounds`` rounds times ``--steps`` steps. The reference is the same model on
one device of the same backend, in the same run: efficiency is images/s on N devices over N
times images/s on one, medians of the rounds; the range is the lowest and highest round.
``--mixed-precision`` uses the training default (float16 with loss scaling on GPUs, bfloat16 on
CPUs and TPUs).

    python benchmarks/bench_distributed.py                       # jax and tensorflow, 1 2 4 8
    python benchmarks/bench_distributed.py --model resnet50 --size 224 --batch-per-device 64 \\
        --mixed-precision                                        # unchanged on a GPU machine
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import textwrap

CHILD = """
import json, sys, time
import numpy as np
import keras
import tensorflow as tf
import keras_arches
from keras_arches import distributing, training

args = json.loads(sys.argv[1])
engine = distributing.engine("data_parallel")
assert engine.devices == args["devices"], (engine.devices, args["devices"])
precision = training.resolve_precision(args["mixed_precision"], engine)
keras.config.set_dtype_policy(precision)
batch = args["batch_per_device"] * engine.devices
size = args["size"]
images = np.random.default_rng(0).uniform(0, 1, (batch, size, size, 3)).astype("float32")
labels = np.eye(10, dtype="float32")[np.arange(batch) % 10]
data = tf.data.Dataset.from_tensors((images, labels)).repeat()
with engine.scope():
    model = keras_arches.get_model(args["model"], classes=10, input_shape=(size, size, 3))
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "categorical_crossentropy")
    model.fit(data, epochs=1, steps_per_epoch=args["steps"], verbose=0)  # compiles, warms up
    rates = []
    for _ in range(args["rounds"]):
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=args["steps"], verbose=0)
        rates.append(batch * args["steps"] / (time.perf_counter() - start))
print(json.dumps(dict(engine=engine.name, precision=precision, batch=batch, rates=rates)))
"""


def gpu_count():
    """The machine's NVIDIA GPUs (0 without nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout
    return listed.count("GPU ")


def _child_env(backend, devices, gpus):
    """The child's environment: N GPUs, or N virtual CPU devices; None if N > the GPUs."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    if gpus:
        if devices > gpus:
            return None
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(devices)))
    else:
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


LOGICAL_CPUS = """
import tensorflow as tf
if not tf.config.list_physical_devices("GPU"):
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * {devices})
"""


def measure(backend, devices, args, gpus):
    env = _child_env(backend, devices, gpus)
    if env is None:
        return None
    prelude = LOGICAL_CPUS.format(devices=devices) if backend == "tensorflow" else ""
    settings = dict(devices=devices, model=args.model, size=args.size, steps=args.steps,
                    rounds=args.rounds, batch_per_device=args.batch_per_device,
                    mixed_precision=args.mixed_precision)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(prelude) + CHILD, json.dumps(settings)],
        capture_output=True, text=True, env=env, timeout=args.timeout)
    if done.returncode:
        raise SystemExit(f"{backend} on {devices} device(s) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", default=["jax", "tensorflow"],
                        choices=["jax", "tensorflow"])
    parser.add_argument("--devices", nargs="+", type=int, default=[1, 2, 4, 8])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-per-device", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per child")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)

    rows, gpus = [], gpu_count()
    print(f"{args.model} at {args.size}px, {args.batch_per_device} images per device, "
          f"{args.rounds} rounds of {args.steps} steps, on "
          + (f"{gpus} GPU(s)" if gpus else f"virtual devices over {os.cpu_count()} CPU cores"))
    print("| backend | engine | devices | global batch | images/s (median) | range | "
          "efficiency |")
    print("|---|---|---:|---:|---:|---|---:|")
    for backend in args.backends:
        single = None
        for devices in args.devices:
            result = measure(backend, devices, args, gpus)
            if result is None:
                print(f"| {backend} | | {devices} | | not enough GPUs | | |")
                continue
            rate = statistics.median(result["rates"])
            single = rate if devices == 1 else single
            efficiency = f"{rate / (devices * single):.2f}" if single else "n/a"
            rows.append(dict(backend=backend, devices=devices, **result, median=rate))
            print(f"| {backend} | {result['engine']} ({result['precision']}) | {devices} | "
                  f"{result['batch']} | {rate:.1f} | {min(result['rates']):.1f}-"
                  f"{max(result['rates']):.1f} | {efficiency} |", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(dict(settings=vars(args), rows=rows), handle, indent=1)


if __name__ == "__main__":
    main()
