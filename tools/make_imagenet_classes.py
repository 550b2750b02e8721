"""Writes ``keras_arches/files/imagenet_class_index.json``, the ImageNet-1k class index.

The format is keras.applications' ``imagenet_class_index.json``: ``{"0": [wnid, name], ...}``.
The classes are in the order of tensorflow-datasets' ``imagenet2012/labels.txt`` (the sorted
WordNet ids every ImageNet-1k classifier uses); each name is the first WordNet lemma of its
synset, spaces as underscores, as keras.applications names them. The lemmas come from timm 1.0's
``data/_info/imagenet_synset_to_lemma.txt``. Run with timm installed (the ``parity`` extra):

    python tools/make_imagenet_classes.py
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "keras_arches", "files", "imagenet_class_index.json")


def wordnet_ids():
    """The 1,000 WordNet ids in class order, from tensorflow-datasets."""
    import tensorflow_datasets

    path = os.path.join(
        os.path.dirname(tensorflow_datasets.__file__), "datasets", "imagenet2012", "labels.txt"
    )
    with open(path) as file:
        return file.read().split()


def first_lemmas():
    """WordNet id -> its first lemma, from timm's ImageNet info files."""
    import timm.data

    path = os.path.join(os.path.dirname(timm.data.__file__), "_info",
                        "imagenet_synset_to_lemma.txt")
    lemmas = {}
    with open(path) as file:
        for line in file:
            wnid, names = line.rstrip("\n").split("\t", 1)
            lemmas[wnid] = names.split(",")[0].strip().replace(" ", "_")
    return lemmas


def class_index():
    """``{"0": [wnid, name], ...}`` for ImageNet-1k."""
    lemmas = first_lemmas()
    return {str(i): [wnid, lemmas[wnid]] for i, wnid in enumerate(wordnet_ids())}


def main():
    index = class_index()
    lines = (f"{json.dumps(key)}: {json.dumps(value)}" for key, value in index.items())
    with open(TARGET, "w") as file:
        file.write("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {len(index)} classes to {os.path.relpath(TARGET, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
