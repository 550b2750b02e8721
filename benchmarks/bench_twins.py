"""keras_arches twins against keras.applications, in one process, interleaved.

For each model: build time (median of ``--build-samples`` builds), batch-1
latency, batch-N inference images/s and training-step images/s (medians over
``--rounds`` x ``--repeats`` timings), ours and theirs measured alternately so
that machine noise hits both. ``--control`` measures keras' model against
itself, which shows how far the ratios scatter when nothing differs. Prints a table
and the ratio ours/theirs (>= 1.00 means we are as fast; for build time and
latency the ratio is theirs/ours so that >= 1 is always good).

    python benchmarks/bench_twins.py --models resnet50 vgg16 --batch 32
    python benchmarks/bench_twins.py --control      # keras against itself: the noise band
    python benchmarks/bench_twins.py --models resnet50 --mixed-precision --jit-compile \
        --batch 256 --train-batch 256 --peak-tflops 989     # GPU, with training MFU
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_arches  # noqa: E402

DEFAULT_MODELS = ["resnet50", "inception_v3", "xception", "densenet121", "vgg16"]
PREFIX = "keras.applications."


def builders(name, control=False):
    """The two sides; with ``control`` both are keras' own model (an A/A run)."""
    info = keras_arches.model_info(name)
    if not info.twin.startswith(PREFIX):
        raise SystemExit(f"{name} has no keras.applications twin (twin: {info.twin})")
    theirs = getattr(keras.applications, info.twin[len(PREFIX):])
    return info, {"ours": theirs if control else info.builder, "theirs": theirs}


def device_name():
    if keras.backend.backend() == "jax":
        import jax

        return f"jax {jax.devices()[0].device_kind}"
    import tensorflow as tf

    return f"tensorflow {tf.config.list_physical_devices('GPU') or 'CPU'}"


def timed(fn, repeats, iters=1):
    """Median seconds per call over ``repeats`` timings of ``iters`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            fn()
        times.append((time.perf_counter() - start) / iters)
    return statistics.median(times)


def interleaved(i):
    """The side order of round ``i``: ours first on even rounds, theirs first on odd ones."""
    return ("ours", "theirs") if i % 2 == 0 else ("theirs", "ours")


def build_times(sides, samples):
    """Median build seconds per side over ``samples`` interleaved builds."""
    times = {side: [] for side in sides}
    for i in range(samples):
        for side in interleaved(i):
            keras.backend.clear_session()
            start = time.perf_counter()
            sides[side](weights=None)
            times[side].append(time.perf_counter() - start)
    return {side: statistics.median(t) for side, t in times.items()}


def mfu(build, med, peak_tflops):
    """Model FLOPs utilisation of training: 3 x forward per image (forward + backward), where a
    forward pass costs 2 FLOPs per multiply-accumulate (the hardware convention of peak TFLOP/s)."""
    keras.backend.clear_session()
    forward = 2 * keras_arches.profile(build(weights=None)).macs
    return {side: 3 * forward * m["train_ips"] / (peak_tflops * 1e12) for side, m in med.items()}


def measure(build, shape, args):
    """One side's figures: batch-1 latency s, infer img/s, train img/s."""
    keras.backend.clear_session()
    model = build(weights=None)

    # Keras' own compiled predict/train functions, so the same code measures
    # the TensorFlow and the JAX backend (the GPU machine has JAX, not TF).
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=args.jit_compile,
    )
    one = np.random.rand(1, *shape).astype("float32")
    batch = np.random.rand(args.batch, *shape).astype("float32")
    for x in (one, batch):  # trace and warm up
        model.predict_on_batch(x)
    latency = timed(lambda: model.predict_on_batch(one), args.repeats, args.iters)
    infer_ips = args.batch / timed(lambda: model.predict_on_batch(batch), args.repeats, args.iters)

    xs = np.random.rand(args.train_batch, *shape).astype("float32")
    ys = np.random.randint(0, 1000, args.train_batch)
    model.train_on_batch(xs, ys)  # trace and warm up
    step = timed(lambda: model.train_on_batch(xs, ys), args.repeats, args.iters)
    return {
        "latency_ms": latency * 1e3,
        "infer_ips": infer_ips,
        "train_ips": args.train_batch / step,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--batch", type=int, default=32, help="inference batch")
    parser.add_argument("--train-batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iters", type=int, default=1, help="calls per timing")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per model")
    parser.add_argument("--build-samples", type=int, default=8, help="interleaved builds per side")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument(
        "--control", action="store_true",
        help="A/A run: measure keras' model against itself, so the ratios show the noise band",
    )
    parser.add_argument(
        "--peak-tflops", type=float,
        help="the accelerator's dense peak (989 for H100/H200 fp16): adds training MFU",
    )
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args(argv)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")

    device = device_name()
    print(f"backend: {keras.backend.backend()}  device: {device}  jit_compile={args.jit_compile}  "
          f"policy={keras.mixed_precision.global_policy().name}"
          f"{'  CONTROL (keras vs keras)' if args.control else ''}", flush=True)
    results = {}
    for name in args.models:
        info, sides = builders(name, args.control)
        for build in sides.values():  # first builds pay for backend start-up
            build(weights=None)
        runs = {"ours": [], "theirs": []}
        for round_ in range(args.rounds):
            for side in interleaved(round_):
                runs[side].append(measure(sides[side], info.default_shape, args))
        med = {
            side: {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            for side, rs in runs.items()
        }
        for side, seconds in build_times(sides, args.build_samples).items():
            med[side]["build_s"] = seconds
        ratio = {
            "build": med["theirs"]["build_s"] / med["ours"]["build_s"],
            "latency": med["theirs"]["latency_ms"] / med["ours"]["latency_ms"],
            "infer": med["ours"]["infer_ips"] / med["theirs"]["infer_ips"],
            "train": med["ours"]["train_ips"] / med["theirs"]["train_ips"],
        }
        results[name] = {"median": med, "ratio": ratio}
        print(
            f"{name:14s} build {med['ours']['build_s']:.2f}/{med['theirs']['build_s']:.2f}s "
            f"(x{ratio['build']:.2f})  b1 {med['ours']['latency_ms']:.1f}/"
            f"{med['theirs']['latency_ms']:.1f}ms (x{ratio['latency']:.2f})  "
            f"b{args.batch} {med['ours']['infer_ips']:.1f}/{med['theirs']['infer_ips']:.1f} img/s "
            f"(x{ratio['infer']:.2f})  train {med['ours']['train_ips']:.1f}/"
            f"{med['theirs']['train_ips']:.1f} img/s (x{ratio['train']:.2f})",
            flush=True,
        )
        if args.peak_tflops:
            results[name]["mfu"] = mfu(info.builder, med, args.peak_tflops)
            print(f"{name:14s} training MFU ours {results[name]['mfu']['ours']:.1%}  "
                  f"theirs {results[name]['mfu']['theirs']:.1%} of {args.peak_tflops:g} TFLOP/s",
                  flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "device": str(device), "results": results}, handle,
                  indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
