"""Export registered models to every mobile format and print/save the check report.

    PYTHONPATH=. python benchmarks/export_report.py googlenet resnet50 squeezenet1_1 xception \
        --size 224 --output /tmp/export_report

Each model is built with ``weights=None`` (or ``--weights imagenet`` / a weights file) at
``--size`` (default: the model's default size), exported to SavedModel and TFLite float32,
float16, int8 dynamic-range and full int8 (calibrated on random images, or on
``--representative FILE.npy``), and checked against Keras. A trained ``MODEL.keras`` file may be
given instead of a registry name. Reports land in ``OUTPUT/<model>/export_report.json`` and a
summary of all models in ``OUTPUT/summary.json``.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_arches import registry  # noqa: E402
from keras_arches.exporting import FORMATS, export_all, synthetic_images  # noqa: E402


def build(name, size, weights):
    if name.endswith(".keras"):
        return keras.saving.load_model(name, safe_mode=True)
    info = registry.model_info(name)
    size = size or info.default_size
    kwargs = {"weights": weights, "input_shape": (size, size, info.channels)}
    return info.builder(**kwargs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="registry names or MODEL.keras files")
    parser.add_argument("--size", type=int, default=None,
                        help="input size (default: the model's default)")
    parser.add_argument("--weights", default=None, help="weights= for the builder (default None)")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--representative", default=None, help=".npy of calibration/check inputs")
    parser.add_argument("--samples", type=int, default=32, help="check samples")
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--output", default="export_report")
    args = parser.parse_args(argv)

    summary = {}
    for name in args.models:
        keras.backend.clear_session()
        model = build(name, args.size, args.weights)
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
        summary[name] = report.to_dict()
    with open(os.path.join(args.output, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    failed = [name for name, report in summary.items() if not report["passed"]]
    print(f"\nsummary: {os.path.join(args.output, 'summary.json')}; failed: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
