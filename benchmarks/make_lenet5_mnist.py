"""Makes the ``weights="mnist"`` file of LeNet-5 (the modern 20-50-500 variant).

It runs the README's main job, ``keras-arches train lenet5 --options '{"variant": "modern",
"input_shape": [28, 28, 1]}'`` (seed 0, the card's recipe, 20 epochs on the embedded 4,000
training images), then writes the trained weights to the package file
``keras_arches/files/lenet5_mnist.weights.h5`` and prints the accuracy on the 1,000 embedded
test images, the figure the README and ``tests/test_lenet_weights.py`` state.

    python benchmarks/make_lenet5_mnist.py
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_arches  # noqa: E402
from keras_arches.models.lenet import MNIST_WEIGHTS  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as run_dir:
        result = keras_arches.train(
            "lenet5", options={"variant": "modern"}, input_shape=(28, 28, 1), seed=0,
            run_dir=run_dir, save_path=os.path.join(run_dir, "lenet5.keras"),
        )
    # A fresh, uncompiled copy, so that the file holds the model's weights and no optimizer state.
    model = keras_arches.LeNet5(variant="modern", input_shape=(28, 28, 1))
    model.set_weights(result.model.get_weights())
    model.save_weights(MNIST_WEIGHTS)
    print(f"test accuracy {result.test_accuracy:.4f}; wrote {MNIST_WEIGHTS} "
          f"({os.path.getsize(MNIST_WEIGHTS):,} bytes)")


if __name__ == "__main__":
    main()
