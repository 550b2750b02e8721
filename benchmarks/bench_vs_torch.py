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
size, top-1 agreement and accuracy on held-out images and XNNPACK batch-1 latency. The model is
first trained briefly on the embedded MNIST train split (``--int8-train-steps``), calibrated
on that split and checked on its test split, upscaled in colour to ``--int8-size`` (default:
the model's default size), the size of all these figures.

    python benchmarks/bench_vs_torch.py --models resnet18 resnet50 densenet121 --rounds 5
    python benchmarks/bench_vs_torch.py --control ...       # torch against itself
    python benchmarks/bench_vs_torch.py --int8 resnet18 squeezenet1_1 googlenet
    python benchmarks/bench_vs_torch.py --breakdown --no-deployed   # where a training step goes
    python benchmarks/bench_vs_torch.py --gpu --models resnet50 --batch 256 --peak-tflops 989
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
        # On a GPU (--gpu): mixed float16 (the policy set in main) and XLA, the fast setting.
        self.model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                           loss="sparse_categorical_crossentropy", jit_compile=args.gpu)
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

    @staticmethod
    def tensors(*arrays):
        """The arrays as tensors on the first GPU, if any, as torch's are on its device."""
        with tf.device("GPU:0" if tf.config.list_logical_devices("GPU") else "CPU:0"):
            return [tf.identity(tf.constant(a)) for a in arrays]

    def infer(self, x):
        (x,) = self.tensors(x)
        return lambda: self.model.predict_on_batch(x)

    def train(self, x, y):
        x, y = self.tensors(x, y)
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
    """timm's model: eager calls in inference mode, and torch's own ONNX export. With ``--gpu``:
    on CUDA in channels_last, under float16 autocast with a gradient scaler (torch AMP)."""

    def __init__(self, name, size, args, scratch, tag="torch"):
        self.model = timm.create_model(name, pretrained=False).eval()
        self.layout = "nchw"
        self.device = torch.device("cuda" if args.gpu else "cpu")
        if args.gpu:
            self.model = self.model.to(self.device, memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.scaler = torch.amp.GradScaler("cuda", enabled=args.gpu)
        self.autocast = lambda: torch.autocast("cuda", torch.float16, enabled=args.gpu)
        self.files = {}
        if args.deployed:
            path = os.path.join(scratch, f"{name}_{tag}.onnx")
            torch.onnx.export(self.model, (torch.zeros(1, 3, size, size),), path, dynamo=False,
                              input_names=["image"], dynamic_axes={"image": {0: "batch"}},
                              opset_version=17)
            self.files["onnx"] = path

    def tensors(self, *arrays):
        """The arrays on the model's device, images in the model's memory format."""
        tensors = [torch.from_numpy(a).to(self.device) for a in arrays]
        if self.device.type == "cuda":
            tensors[0] = tensors[0].contiguous(memory_format=torch.channels_last)
        return tensors

    def synchronize(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def infer(self, x):
        (x,) = self.tensors(x)

        def run():
            with torch.inference_mode(), self.autocast():
                self.model(x)
            self.synchronize()

        return run

    def train(self, x, y):
        x, y = self.tensors(x, y)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            self.model.train()
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                loss = loss_fn(self.model(x), y)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.model.eval()
            self.synchronize()

        return step

    def train_parts(self, x, y):
        """The training step's pieces: the forward pass in training mode, forward + backward."""
        x, y = self.tensors(x, y)
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
    if args.peak_tflops:  # 3 x the forward FLOPs per image (2 per multiply-accumulate)
        flops = 3 * 2 * keras_arches.profile(keras_arches.get_model(name, weights=None)).macs
        row = rows[f"train b{args.batch}"]
        rows["training MFU"] = {side: flops * row[f"{side}_ips"] / (args.peak_tflops * 1e12)
                                for side in ("ours", "theirs")}
    return rows


def mnist_trained(info, shape, steps, variant=None):
    """The model at ``shape`` (in layout ``variant``, if given), trained for ``steps`` steps
    (Adam, batch 32) on the embedded MNIST train split: a trained network's confident outputs,
    where random weights give a flat softmax that any rounding reorders."""
    options = {info.variant_argument: variant} if variant else {}
    model = info.builder(weights=None, input_shape=shape, **options)
    if steps:
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss="sparse_categorical_crossentropy", jit_compile=False)
        train = data.embedded_mnist("train", image_size=shape[0], channels=shape[-1],
                                    preprocessing=info.preprocessing).repeat()
        model.fit(train, steps_per_epoch=steps, epochs=1, verbose=0)
    return model


def int8_against_float32(name, args, scratch):
    """Size, top-1 agreement and accuracy on held-out images, and XNNPACK latency, of int8
    against float32."""
    name, _, variant = name.partition(":")
    info = registry.model_info(name)
    keras.backend.clear_session()
    size = max(args.int8_size or info.default_size, info.min_size)
    shape = (size, size, info.channels)
    model = mnist_trained(info, shape, args.int8_train_steps, variant or None)

    def images(split, count, labels=False):
        dataset = data.embedded_mnist(split, image_size=shape[0], channels=shape[-1],
                                      preprocessing=info.preprocessing)
        return collect_samples(dataset, shape, count, labels=labels)

    calibration = images("train", args.calibration)
    held_out, labels = images("test", args.held_out, labels=True)
    reports, runs = {}, {}
    for format in ("tflite_float32", "tflite_int8"):
        path = os.path.join(scratch, f"{name}_{format}.tflite")
        report = export(
            model, path, format=format, representative_data=calibration, check_data=held_out,
            check_samples=len(held_out), labelled_data=[(held_out, labels)],
            accuracy_samples=len(held_out), latency_runs=1, verbose=False, report_path=None,
            strict=False,
        )
        reports[format] = report.results[0]
        keras_accuracy = report.keras_accuracy
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
        "size": size, "train_steps": args.int8_train_steps, "keras_accuracy": keras_accuracy,
        "float32_accuracy": float32.accuracy, "int8_accuracy": int8.accuracy,
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
    parser.add_argument("--int8", nargs="+", metavar="MODEL[:VARIANT]",
                        help="instead: int8 against float32 LiteRT for these registered models "
                             "(googlenet:torchvision: that layout)")
    parser.add_argument("--held-out", type=int, default=200,
                        help="held-out images for the int8 agreement")
    parser.add_argument("--int8-train-steps", type=int, default=300,
                        help="MNIST training steps before the int8 comparison (0: random)")
    parser.add_argument("--int8-size", type=int, default=None,
                        help="input size of that training, the checks and the latency "
                             "(default: the model's default size)")
    parser.add_argument("--threads", type=int, default=CORES,
                        help="threads of every runtime (default: the cores)")
    parser.add_argument("--gpu", action="store_true",
                        help="on the GPU: ours with mixed float16 + XLA, timm with torch AMP "
                             "(float16 autocast) + channels_last; no deployed forms")
    parser.add_argument("--peak-tflops", type=float,
                        help="the accelerator's dense peak (989 for H100/H200 fp16): adds "
                             "training MFU")
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args(argv)
    if args.gpu:
        if not (torch.cuda.is_available() and tf.config.list_physical_devices("GPU")):
            parser.error("--gpu needs a GPU that both torch and TensorFlow see")
        args.deployed = False
        keras.mixed_precision.set_global_policy("mixed_float16")
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
                  f"agreement {row['int8_top1_agreement']:.1%} of {row['held_out']}, "
                  f"accuracy {row['float32_accuracy']:.1%} -> {row['int8_accuracy']:.1%} "
                  f"(Keras {row['keras_accuracy']:.1%}, {row['train_steps']} steps at "
                  f"{row['size']} px)  XNNPACK "
                  f"b1 {row['float32_ms']:.1f} -> {row['int8_ms']:.1f} ms "
                  f"(x{row['latency_ratio']:.2f} [{row['low']:.2f}, {row['high']:.2f}])",
                  flush=True)
        for name in [] if args.int8 else args.models:
            results[name] = rows = compare(name, args, scratch)
            for label, row in rows.items():
                if label == "sizes":
                    print(f"{name:12s} file sizes {row}")
                elif label == "training MFU":
                    print(f"{name:12s} training MFU ours {row['ours']:.1%}, timm "
                          f"{row['theirs']:.1%} of {args.peak_tflops:g} TFLOP/s")
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
