"""Export registered models to every mobile format and print/save the check report.

    PYTHONPATH=. python benchmarks/export_report.py googlenet resnet50 squeezenet1_1 xception \
        --size 224 --output /tmp/export_report

Each model is built with ``weights=None`` (or ``--weights imagenet`` / a weights file) at
``--size`` (default: the model's default size), exported to SavedModel and TFLite float32,
float16, int8 dynamic-range and full int8 (calibrated on random images, or on
``--representative FILE.npy``), and checked against Keras. A trained ``MODEL.keras`` file may be
given instead of a registry name, and ``all`` stands for every registered builder.
``--size smallest`` builds each at the smallest size its tests use (``test_size``, else
``min_size``). Reports land in ``OUTPUT/<model>/export_report.json`` and a summary of all models
in ``OUTPUT/summary.json``, rewritten after each model with its seconds and peak memory.

    python benchmarks/export_report.py all --size smallest --formats onnx --classes 10 \
        --classifier-activation none --samples 3 --latency-runs 1 --output /tmp/onnx_all
"""

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_arches import registry  # noqa: E402
from keras_arches.exporting import FORMATS, export_all, synthetic_images  # noqa: E402


def build(name, size, weights, classes, activation):
    if name.endswith(".keras"):
        return keras.saving.load_model(name, safe_mode=True)
    info = registry.model_info(name)
    if size == "smallest":
        size = info.test_size or info.min_size
    size = int(size or info.default_size)
    kwargs = {"weights": weights, "input_shape": (size, size, info.channels)}
    if classes:
        kwargs["classes"] = classes
    if activation:
        kwargs["classifier_activation"] = None if activation == "none" else activation
    return info.builder(**kwargs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="registry names or MODEL.keras files")
    parser.add_argument("--size", default=None,
                        help="input size, or 'smallest' (default: the model's default)")
    parser.add_argument("--classes", type=int, default=None, help="classes= for the builder")
    parser.add_argument("--classifier-activation", default=None,
                        help="classifier_activation= for the builder; 'none' checks the logits, "
                             "which a saturated softmax would hide")
    parser.add_argument("--weights", default=None, help="weights= for the builder (default None)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--representative", default=None, help=".npy of calibration/check inputs")
    parser.add_argument("--samples", type=int, default=32, help="check samples")
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--output", default="export_report")
    args = parser.parse_args(argv)

    names = registry.list_models() if args.models == ["all"] else args.models
    summary = {}
    for name in names:
        keras.backend.clear_session()
        start = time.perf_counter()
        model = build(name, args.size, args.weights, args.classes, args.classifier_activation)
        shape = tuple(model.inputs[0].shape[1:])
        if args.representative:
            calibration = np.load(args.representative)
        else:
            calibration = synthetic_images(shape, 100, seed=1)
        directory = os.path.join(args.output, os.path.basename(name).removesuffix(".keras"))
        print(f"\n== {name}: {model.count_params():,} params, input {shape}")
        report = export_all(
            model, directory, args.formats, representative_data=calibration,
            check_samples=args.samples, latency_runs=args.latency_runs, strict=False,
        )
        summary[name] = dict(
            report.to_dict(), seconds=round(time.perf_counter() - start, 1),
            peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        )
        with open(os.path.join(args.output, "summary.json"), "w") as handle:
            json.dump(summary, handle, indent=2)
    failed = [name for name, report in summary.items() if not report["passed"]]
    print(f"\nsummary: {os.path.join(args.output, 'summary.json')}; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
