"""Every registered architecture's own speed figures (no twin needed).

For each model: build time, batch-1 latency, batch-N inference images/s and training-step
images/s at its default input size (or ``--size``), each the median of ``--repeats`` timings,
with ``jit_compile`` off and, with ``--compare-jit``, on (the ratio on/off says whether XLA
helps). Run by hand, not in the test suite:

    python benchmarks/bench_zoo.py --json /tmp/zoo.json                 # all models
    python benchmarks/bench_zoo.py --models lenet5 squeezenet1_1 --compare-jit
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from bench_twins import device_name, timed  # noqa: E402

import keras_arches  # noqa: E402


def measure(name, size, args, jit_compile):
    info = keras_arches.model_info(name)
    shape = (size or info.default_size,) * 2 + (info.channels,)
    keras.backend.clear_session()
    start = time.perf_counter()
    model = keras_arches.strip_auxiliary(info.builder(weights=None, input_shape=shape))
    build_s = time.perf_counter() - start
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    classes = model.output_shape[-1]
    one = np.random.rand(1, *shape).astype("float32")
    batch = np.random.rand(args.batch, *shape).astype("float32")
    for x in (one, batch):
        model.predict_on_batch(x)
    latency = timed(lambda: model.predict_on_batch(one), args.repeats)
    infer = args.batch / timed(lambda: model.predict_on_batch(batch), args.repeats)
    xs = np.random.rand(args.train_batch, *shape).astype("float32")
    ys = np.random.randint(0, classes, args.train_batch)
    model.train_on_batch(xs, ys)
    step = timed(lambda: model.train_on_batch(xs, ys), args.repeats)
    return {"size": shape[0], "params": model.count_params(), "build_s": build_s,
            "latency_ms": latency * 1e3, "infer_ips": infer, "train_ips": args.train_batch / step}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=None, help="default: every model")
    parser.add_argument("--size", type=int, default=None, help="input size (default: the model's)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare-jit", action="store_true", help="also measure jit_compile=True")
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args(argv)
    names = args.models or keras_arches.list_models()
    print(f"backend: {keras.backend.backend()}  device: {device_name()}", flush=True)
    print(f"{'model':22s} {'size':>4s} {'params':>12s} {'build s':>8s} {'b1 ms':>8s} "
          f"{'b' + str(args.batch) + ' img/s':>10s} {'train img/s':>11s}"
          + ("  xla infer/train" if args.compare_jit else ""), flush=True)
    results = {}
    for name in names:
        row = {"eager_graph": measure(name, args.size, args, jit_compile=False)}
        if args.compare_jit:
            row["xla"] = measure(name, args.size, args, jit_compile=True)
        results[name] = row
        r = row["eager_graph"]
        line = (f"{name:22s} {r['size']:4d} {r['params']:12,d} {r['build_s']:8.2f} "
                f"{r['latency_ms']:8.1f} {r['infer_ips']:10.1f} {r['train_ips']:11.1f}")
        if args.compare_jit:
            x = row["xla"]
            line += (
                f"  x{x['infer_ips'] / r['infer_ips']:.2f} / x{x['train_ips'] / r['train_ips']:.2f}"
            )
        print(line, flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "device": str(device_name()), "results": results},
                      handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
