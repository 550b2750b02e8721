"""The tf.data input pipeline's images/s against the model's training consumption.

For each model, the embedded-dataset pipeline of keras_arches.data (grayscale to RGB, resize to
the model's input, recipe augmentation, preprocessing, batching, prefetch) is drained for
``--steps`` batches and timed; the same model's training step is timed on one batch. A ratio
pipeline/model above 1 means the input pipeline keeps the model fed. Run by hand:

    python benchmarks/bench_pipeline.py --models lenet5 resnet50 --size 224
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
from bench_twins import device_name, timed  # noqa: E402

import keras_arches  # noqa: E402
from keras_arches import data  # noqa: E402


def pipeline_ips(name, size, batch, steps, augment):
    info = keras_arches.model_info(name)
    pipelines = data.datasets(
        image_size=size, channels=info.channels, batch_size=batch, one_hot=False,
        preprocessing=data.preprocessing_for(name), augment=augment, steps_per_epoch=steps,
    )
    iterator = iter(pipelines.train.repeat())
    next(iterator)  # build and warm the pipeline
    start = time.perf_counter()
    for _ in range(steps):
        next(iterator)
    return batch * steps / (time.perf_counter() - start), pipelines.train.element_spec


def model_ips(name, size, batch, repeats):
    info = keras_arches.model_info(name)
    keras.backend.clear_session()
    model = keras_arches.strip_auxiliary(
        info.builder(weights=None, input_shape=(size, size, info.channels), classes=10))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = keras.random.uniform((batch, size, size, info.channels))
    y = keras.ops.zeros((batch,), dtype="int32")
    model.train_on_batch(x, y)
    return batch / timed(lambda: model.train_on_batch(x, y), repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet5", "squeezenet1_1", "resnet50"])
    parser.add_argument("--size", type=int, default=None, help="default: the model's default")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--augment", default="crop,flip", help="comma-separated, or ''")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    augment = tuple(a for a in args.augment.split(",") if a)
    print(f"backend: {keras.backend.backend()}  device: {device_name()}  cpus: {os.cpu_count()}")
    print(f"{'model':16s} {'size':>4s} {'pipeline img/s':>15s} {'train img/s':>12s} {'ratio':>6s}")
    results = {}
    for name in args.models:
        size = args.size or keras_arches.model_info(name).default_size
        feed, _ = pipeline_ips(name, size, args.batch, args.steps, augment)
        eat = model_ips(name, size, args.batch, args.repeats)
        results[name] = {"size": size, "pipeline_ips": feed, "train_ips": eat,
                         "ratio": feed / eat}
        print(f"{name:16s} {size:4d} {feed:15.1f} {eat:12.1f} {feed / eat:6.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "device": device_name(), "results": results}, handle,
                      indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
