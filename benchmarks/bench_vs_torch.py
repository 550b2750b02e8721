"""keras_arches against the same network in timm (or torchvision), in one process, interleaved.

For each model, random weights, float32, on the CPU:

- eager inference at batch 1 and ``--batch`` (Keras ``predict_on_batch`` against
  ``torch.inference_mode``) and the training step (SGD with momentum, cross-entropy) in
  images/s;
- the deployed forms, batch 1 unless said: our LiteRT float32 and full-integer int8 files under
  XNNPACK, our ONNX file and torch's own ONNX export, both under
  ONNX Runtime at batch 1 and ``--batch``.

Every figure is timed ``--rounds`` times, the sides taking turns (ours first on even rounds), so
that machine noise hits both; ``--threads`` sets the threads of TensorFlow, torch, LiteRT and
ONNX Runtime alike (default: the cores). The table gives the median ratio ours/theirs of
throughput (>= 1.00: we are as fast) and its spread (the lowest and highest round).
``--control`` puts a second torch model in place of ours: its ratios are the noise band.
``--int8 MODEL ...`` instead compares our full-integer int8 LiteRT file with the float32 one:
size, top-1 agreement on held-out images (calibrated on the embedded MNIST train split,
agreement on its test split, upscaled to the model's size in colour) and XNNPACK batch-1
latency.

    python benchmarks/bench_vs_torch.py --models resnet18 resnet50 densenet121 --rounds 5
    python benchmarks/bench_vs_torch.py --control ...       # torch against itself
    python benchmarks/bench_vs_torch.py --int8 resnet18 squeezenet1_1 googlenet
    python benchmarks/bench_vs_torch.py --breakdown --no-deployed   # where a training step goes
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.modules.setdefault("triton", None)  # Triton after TensorFlow segfaults (tests/conftest.py)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402

import keras_arches  # noqa: E402
from keras_arches import data, registry  # noqa: E402
from keras_arches.exporting import collect_samples, export, synthetic_images  # noqa: E402
from keras_arches.exporting.litert import TFLiteRunner  # noqa: E402
from keras_arches.exporting.onnx import OnnxRunner  # noqa: E402

DEFAULT_MODELS = ["resnet18", "resnet50", "densenet121"]
CORES = os.cpu_count()  # the threads of every runtime; --threads changes it


def timed(fn, repeats):
    """Median seconds per call over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class KerasSide:
    """Our model: Keras eager calls, and its LiteRT and ONNX files."""

    def __init__(self, name, size, args, scratch):
        keras.backend.clear_session()
        self.name, self.shape = name, (size, size, 3)
        self.model = keras_arches.get_model(name, weights=None, input_shape=self.shape)
        self.model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                           loss="sparse_categorical_crossentropy", jit_compile=False)
        self.layout = "nhwc"
        self.files = {}
        if args.deployed:
            calibration = synthetic_images((size, size, 3), args.calibration, seed=1)
            options = dict(check_samples=2, latency_runs=1, verbose=False, report_path=None,
                           strict=False)
            for format in ("tflite_float32", "tflite_int8", "onnx"):
                path = os.path.join(scratch, f"{name}_{format}")
                export(self.model, path, format=format, representative_data=calibration,
                       **options)
                self.files[format] = path

    def infer(self, x):
        return lambda: self.model.predict_on_batch(x)

    def train(self, x, y):
        return lambda: self.model.train_on_batch(x, y)

    def train_parts(self, x, y):
        """The training step's pieces: the forward pass in training mode, forward + gradients
        (the loss as ``train_on_batch`` computes it) and the XLA-compiled whole step."""
        model, loss_fn = self.model, keras.losses.SparseCategoricalCrossentropy()
        x, y = tf.constant(x), tf.constant(y)

        @tf.function
        def forward():
            return model(x, training=True)

        @tf.function
        def gradients():
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            return tape.gradient(loss, model.trainable_variables)

        xla = keras_arches.get_model(self.name, weights=None, input_shape=self.shape)
        xla.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                    loss="sparse_categorical_crossentropy", jit_compile=True)
        return {"forward": forward, "forward+backward": gradients,
                "step (XLA)": lambda: xla.train_on_batch(x, y)}

    def deployed(self, format, x):
        if format.startswith("tflite"):
            run = TFLiteRunner(self.files[format], num_threads=CORES)
        else:
            run = OnnxRunner(self.files[format], num_threads=CORES)
        return lambda: run(x)


class TorchSide:
    """timm's model: eager calls in inference mode, and torch's own ONNX export."""

    def __init__(self, name, size, args, scratch, tag="torch"):
        self.model = timm.create_model(name, pretrained=False).eval()
        self.layout = "nchw"
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.files = {}
        if args.deployed:
            path = os.path.join(scratch, f"{name}_{tag}.onnx")
            torch.onnx.export(self.model, (torch.zeros(1, 3, size, size),), path, dynamo=False,
                              input_names=["image"], dynamic_axes={"image": {0: "batch"}},
                              opset_version=17)
            self.files["onnx"] = path

    def infer(self, x):
        x = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                self.model(x)

        return run

    def train(self, x, y):
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            self.model.train()
            self.optimizer.zero_grad(set_to_none=True)
            loss_fn(self.model(x), y).backward()
            self.optimizer.step()
            self.model.eval()

        return step

    def train_parts(self, x, y):
        """The training step's pieces: the forward pass in training mode, forward + backward."""
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()

        def forward():
            self.model.train()
            self.model(x)
            self.model.eval()

        def backward():
            self.model.train()
            self.optimizer.zero_grad(set_to_none=True)
            loss_fn(self.model(x), y).backward()
            self.model.eval()

        return {"forward": forward, "forward+backward": backward}

    def deployed(self, format, x):
        if format != "onnx":
            return None  # torch has no LiteRT form here: only our files are timed
        run = OnnxRunner(self.files["onnx"], num_threads=CORES)
        return lambda: run(x)


def inputs(side, batch, size, seed=0):
    x = synthetic_images((size, size, 3), batch, seed=seed) / 255.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if side.layout == "nchw" else x


def figures(side, args, size):
    """``{figure: (callable, images per call)}`` for one side."""
    one, batch = inputs(side, 1, size), inputs(side, args.batch, size)
    labels = np.random.default_rng(0).integers(0, 1000, args.batch).astype("int64")
    found = {
        "eager b1": (side.infer(one), 1),
        f"eager b{args.batch}": (side.infer(batch), args.batch),
        f"train b{args.batch}": (side.train(batch, labels), args.batch),
    }
    if args.breakdown:
        for part, fn in side.train_parts(batch, labels).items():
            found[f"train b{args.batch} {part}"] = (fn, args.batch)
    if args.deployed:
        for format, label, x, n in (
            ("tflite_float32", "LiteRT float32 b1", one, 1),
            ("tflite_int8", "LiteRT int8 b1", one, 1),
            ("onnx", "ONNX Runtime b1", one, 1),
            ("onnx", f"ONNX Runtime b{args.batch}", batch, args.batch),
        ):
            run = side.deployed(format, x)
            if run is not None:
                found[label] = (run, n)
    return found


def compare(name, args, scratch):
    size = 224
    ours = (TorchSide(name, size, args, scratch, "control") if args.control
            else KerasSide(name, size, args, scratch))
    theirs = TorchSide(name, size, args, scratch)
    sides = {"ours": figures(ours, args, size), "theirs": figures(theirs, args, size)}
    rates = {side: {label: [] for label in figs} for side, figs in sides.items()}
    for round_ in range(args.rounds):
        order = ("ours", "theirs") if round_ % 2 == 0 else ("theirs", "ours")
        for label in sides["ours"]:
            for side in order:
                if label in sides[side]:
                    fn, n = sides[side][label]
                    rates[side][label].append(n / timed(fn, args.repeats))
    rows = {}
    for label, our_rates in rates["ours"].items():
        row = {"ours_ips": statistics.median(our_rates)}
        if label in rates["theirs"]:
            ratios = [o / t for o, t in zip(our_rates, rates["theirs"][label])]
            row.update(theirs_ips=statistics.median(rates["theirs"][label]),
                       ratio=statistics.median(ratios), low=min(ratios), high=max(ratios))
        rows[label] = row
    if args.deployed and not args.control:
        rows["sizes"] = {format: os.path.getsize(path) for format, path in ours.files.items()}
    return rows


def int8_against_float32(name, args, scratch):
    """Size, top-1 agreement on held-out images and XNNPACK latency of int8 against float32."""
    info = registry.model_info(name)
    keras.backend.clear_session()
    model = info.builder(weights=None)
    shape = info.default_shape

    def images(split, count):
        dataset = data.embedded_mnist(split, image_size=shape[0], channels=shape[-1],
                                      preprocessing=info.preprocessing)
        return collect_samples(dataset, shape, count)

    calibration, held_out = images("train", args.calibration), images("test", args.held_out)
    reports, runs = {}, {}
    for format in ("tflite_float32", "tflite_int8"):
        path = os.path.join(scratch, f"{name}_{format}.tflite")
        reports[format] = export(
            model, path, format=format, representative_data=calibration, check_data=held_out,
            check_samples=len(held_out), latency_runs=1, verbose=False, report_path=None,
            strict=False,
        ).results[0]
        runs[format] = TFLiteRunner(path, num_threads=CORES)
    one = held_out[:1]
    latency = {format: [] for format in runs}
    for round_ in range(args.rounds):
        for format in sorted(runs, reverse=round_ % 2 == 1):
            latency[format].append(1e3 * timed(lambda: runs[format](one), args.repeats))
    float32, int8 = reports["tflite_float32"], reports["tflite_int8"]
    ratios = [i / f for i, f in zip(latency["tflite_int8"], latency["tflite_float32"])]
    return {
        "float32_bytes": float32.size_bytes, "int8_bytes": int8.size_bytes,
        "size_ratio": int8.size_bytes / float32.size_bytes,
        "float32_max_abs_diff": float32.max_abs_diff,
        "int8_top1_agreement": int8.top1_agreement, "held_out": len(held_out),
        "float32_ms": statistics.median(latency["tflite_float32"]),
        "int8_ms": statistics.median(latency["tflite_int8"]),
        "latency_ratio": statistics.median(ratios), "low": min(ratios), "high": max(ratios),
    }


def main(argv=None):
    global CORES
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS,
                        help="names both keras_arches and timm know")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per figure")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per round")
    parser.add_argument("--calibration", type=int, default=32, help="int8 calibration images")
    parser.add_argument("--no-deployed", dest="deployed", action="store_false",
                        help="only the eager figures")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the training step's pieces (forward, backward, XLA)")
    parser.add_argument("--control", action="store_true",
                        help="torch against torch: the ratios are the noise band")
    parser.add_argument("--int8", nargs="+", metavar="MODEL",
                        help="instead: int8 against float32 LiteRT for these registered models")
    parser.add_argument("--held-out", type=int, default=200,
                        help="held-out images for the int8 agreement")
    parser.add_argument("--threads", type=int, default=CORES,
                        help="threads of every runtime (default: the cores)")
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args(argv)
    CORES = args.threads
    torch.set_num_threads(CORES)
    tf.config.threading.set_intra_op_parallelism_threads(CORES)
    tf.config.threading.set_inter_op_parallelism_threads(CORES)
    versions = (f"tensorflow {tf.__version__}, keras {keras.__version__}, torch "
                f"{torch.__version__}, timm {timm.__version__}, {os.cpu_count()} cores, "
                f"{CORES} threads")
    print(f"{versions}{'  CONTROL (torch vs torch)' if args.control else ''}", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.int8 or []:
            results[name] = row = int8_against_float32(name, args, scratch)
            print(f"{name:14s} size {row['float32_bytes'] / 2**20:.1f} -> "
                  f"{row['int8_bytes'] / 2**20:.1f} MB (x{row['size_ratio']:.3f})  top-1 "
                  f"agreement {row['int8_top1_agreement']:.1%} of {row['held_out']}  XNNPACK "
                  f"b1 {row['float32_ms']:.1f} -> {row['int8_ms']:.1f} ms "
                  f"(x{row['latency_ratio']:.2f} [{row['low']:.2f}, {row['high']:.2f}])",
                  flush=True)
        for name in [] if args.int8 else args.models:
            results[name] = rows = compare(name, args, scratch)
            for label, row in rows.items():
                if label == "sizes":
                    print(f"{name:12s} file sizes {row}")
                elif "ratio" in row:
                    print(f"{name:12s} {label:22s} {row['ours_ips']:8.1f} / "
                          f"{row['theirs_ips']:8.1f} img/s  x{row['ratio']:.2f} "
                          f"[{row['low']:.2f}, {row['high']:.2f}]", flush=True)
                else:
                    print(f"{name:12s} {label:22s} {row['ours_ips']:8.1f} img/s (ours only)",
                          flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "versions": versions, "results": results}, handle,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
