"""Forward and train-step time of one model on each Keras backend (TensorFlow, JAX, PyTorch).

Each backend runs in its own subprocess (``KERAS_BACKEND`` is fixed when Keras is imported),
which builds the model once, warms it up (the first calls trace and compile) and then times
``--repeats`` calls of ``predict_on_batch`` and of ``train_on_batch`` (SGD with momentum) on
one random batch. Each backend keeps Keras' default ``jit_compile="auto"`` (XLA on TensorFlow
and JAX, eager on PyTorch); the table says what it resolved to. Reported: the median and the
range of the timings, and the ratio of the medians to TensorFlow's; the load average before
and after, since a shared machine skews the figures. Run by hand, not in the test suite:

    python benchmarks/bench_backends.py                       # ResNet-50, batch 8, 224 px
    python benchmarks/bench_backends.py --model resnet18 --size 64 --json /tmp/backends.json
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def worker(args):
    """Times one model on the backend of this process; prints one JSON line."""
    import keras
    import numpy as np

    import keras_arches

    info = keras_arches.model_info(args.model)
    shape = (args.size, args.size, info.channels)
    start = time.perf_counter()
    model = keras_arches.strip_auxiliary(info.builder(weights=None, input_shape=shape))
    build_s = time.perf_counter() - start
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (args.batch, *shape)).astype("float32")
    y = rng.integers(0, model.output_shape[-1], args.batch)

    def times(call):
        start = time.perf_counter()
        call()
        first = time.perf_counter() - start
        call()  # a second warm-up call: some backends finish their set-up here
        measured = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            call()
            measured.append(time.perf_counter() - start)
        return first, measured

    forward_first, forward = times(lambda: model.predict_on_batch(x))
    train_first, train = times(lambda: model.train_on_batch(x, y))
    print(json.dumps({
        "backend": keras.backend.backend(), "keras": keras.__version__,
        "jit_compile": model.jit_compile, "build_s": build_s,
        "forward_first_s": forward_first, "forward_s": forward,
        "train_first_s": train_first, "train_s": train,
    }))


def load_average():
    """The 1, 5 and 15 minute load averages (None where the OS has none)."""
    return tuple(round(v, 2) for v in os.getloadavg()) if hasattr(os, "getloadavg") else None


def run_backend(backend, args):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--model", args.model,
               "--size", str(args.size), "--batch", str(args.batch),
               "--repeats", str(args.repeats)]
    process = subprocess.run(command, capture_output=True, text=True, env=env)
    if process.returncode:
        raise RuntimeError(f"{backend} failed (exit {process.returncode}):\n"
                           f"{process.stderr[-3000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])


def summary(results):
    """Median, range and ratio to TensorFlow's median, in milliseconds, per backend."""
    reference = {k: statistics.median(results[0][f"{k}_s"]) for k in ("forward", "train")}
    rows = []
    for result in results:
        row = {"backend": result["backend"], "jit_compile": result["jit_compile"]}
        for kind in ("forward", "train"):
            values = result[f"{kind}_s"]
            median = statistics.median(values)
            row[kind] = dict(median_ms=median * 1e3, min_ms=min(values) * 1e3,
                             max_ms=max(values) * 1e3, first_s=result[f"{kind}_first_s"])
            if results[0]["backend"] == "tensorflow":
                row[kind]["ratio_to_tensorflow"] = median / reference[kind]
        rows.append(row)
    return rows


def table(rows):
    lines = [f"{'backend':<11} {'jit':<5} {'forward ms (min-max)':>24} {'x TF':>6} "
             f"{'train step ms (min-max)':>26} {'x TF':>6} {'first fwd/train s':>18}"]
    for row in rows:
        cells = []
        for kind, width in (("forward", 24), ("train", 26)):
            r = row[kind]
            span = f"{r['median_ms']:.0f} ({r['min_ms']:.0f}-{r['max_ms']:.0f})"
            cells.append(f"{span:>{width}} {r.get('ratio_to_tensorflow', float('nan')):>6.2f}")
        first = f"{row['forward']['first_s']:.1f}/{row['train']['first_s']:.1f}"
        lines.append(f"{row['backend']:<11} {str(row['jit_compile']):<5} "
                     f"{cells[0]} {cells[1]} {first:>18}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS,
                        help="TensorFlow first gives the ratios")
    parser.add_argument("--json", help="write the raw timings and the summary here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    before = load_average()
    started = time.perf_counter()
    results = [run_backend(backend, args) for backend in args.backends]
    after = load_average()
    rows = summary(results)
    print(f"{args.model}, batch {args.batch}, {args.size}x{args.size}, {args.repeats} timed "
          f"calls each; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"Keras {results[0]['keras']}")
    print(table(rows))
    print(f"load average (1, 5, 15 min) before {before}, after {after}; "
          f"{time.perf_counter() - started:.0f} s in all")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "batch": args.batch, "size": args.size,
                       "load_before": before, "load_after": after, "results": results,
                       "summary": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
