"""Does fine-tuning a pretrained network beat training it from scratch on a few images? Offline.

With only what ships in the package (the embedded 5,000-image MNIST subset): LeNet
(``variant="modern"``) is pretrained on the digits 0-4 (their 2,000 training images), then
given ``k`` images of each of the digits 5-9, written as an image folder in the layout a user
would have. ``keras_arches.finetune`` (a new head on the frozen network, then the whole network)
is compared with the same network trained from scratch on the same images, for the same number
of steps, at the head phase's learning rate (Adam 1e-3, cosine; the fine-tuning rate 1e-5
would leave a random network untrained). Both are scored on the 500 test images of the
digits 5-9. Prints a markdown table of the mean and spread over seeds.

    python benchmarks/transfer_demo.py [--shots 5 20] [--seeds 3]
"""

import argparse
import os
import shutil
import tempfile

import keras
import numpy as np
from PIL import Image

import keras_arches
from keras_arches import data, finetuning

BATCH = 10


def write_folder(root, images, labels, digits):
    """``root/<digit>/<i>.png`` for the examples of ``digits``, labels renamed by their digit."""
    for digit in digits:
        os.makedirs(os.path.join(root, str(digit)), exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        if label in digits:
            Image.fromarray(image[..., 0]).save(os.path.join(root, str(label), f"{i}.png"))


def lenet(classes, seed):
    keras.utils.set_random_seed(seed)
    return keras_arches.LeNet5(weights=None, variant="modern", input_shape=(28, 28, 1),
                               classes=classes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, nargs="+", default=[10, 40],
                        help="run lengths; the first half fine-tunes the top on the frozen net")
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="the second phase's rate (default: the recipe's 1e-5 at batch 32)")
    args = parser.parse_args()
    images, labels = data._embedded_arrays()
    train, test = data.embedded_split("train"), data.embedded_split("test")
    work = tempfile.mkdtemp(prefix="keras_arches_transfer_")
    try:
        low = os.path.join(work, "digits_0_4")
        write_folder(os.path.join(low, "train"), images[train], labels[train], range(5))
        write_folder(os.path.join(low, "test"), images[test], labels[test], range(5))
        pretrained = keras_arches.train(
            lenet(5, 0), dataset=low, recipe="lenet", epochs=args.pretrain_epochs, batch_size=32,
            run_dir=os.path.join(work, "pretrain"), verbose=0,
        )
        print(f"pretrained on 0-4: test accuracy {pretrained.test_accuracy:.4f}")
        rows = []
        for shots, epochs in [(s, e) for s in args.shots for e in args.epochs]:
            scores = {"fine-tuned": [], "from scratch": []}
            for seed in range(args.seeds):
                rng = np.random.default_rng(seed)
                chosen = np.concatenate([
                    rng.choice(train[labels[train] == d], shots, replace=False)
                    for d in range(5, 10)
                ])
                few = os.path.join(work, f"digits_5_9_{shots}_{seed}")
                runs = os.path.join(work, f"runs_{shots}_{seed}_{epochs}")  # outside the folder
                write_folder(os.path.join(few, "train"), images[chosen], labels[chosen],
                             range(5, 10))
                write_folder(os.path.join(few, "test"), images[test], labels[test], range(5, 10))
                start = lenet(5, seed)
                for layer in start.layers:
                    if layer.name != "predictions" and layer.weights:
                        layer.set_weights(pretrained.model.get_layer(layer.name).get_weights())
                tuned = finetuning.finetune(
                    start, few, epochs=epochs, freeze_epochs=epochs // 2, batch_size=BATCH,
                    learning_rate=args.learning_rate,
                    seed=seed, run_dir=os.path.join(runs, "tuned"), verbose=0,
                    save_path=os.path.join(runs, "tuned.keras"),
                )
                scratch = keras_arches.train(
                    lenet(5, seed), dataset=few, recipe=finetuning.HEAD_RECIPE, epochs=epochs,
                    batch_size=BATCH, seed=seed, run_dir=os.path.join(runs, "scratch"),
                    verbose=0,
                )
                scores["fine-tuned"].append(tuned.test_accuracy)
                scores["from scratch"].append(scratch.test_accuracy)
            for name, values in scores.items():
                rows.append((shots, epochs, name, np.mean(values), np.min(values),
                             np.max(values)))
        rate = args.learning_rate or finetuning.FULL_RECIPE.scaled_learning_rate(BATCH)
        print(f"\n{args.seeds} seeds, batch {BATCH}; fine-tuning: the first half of the epochs "
              f"on the frozen network, then everything at {rate:g}; 500 test images of the "
              "digits 5-9\n")
        print("| images per class | epochs | start | test accuracy (mean) | min | max |")
        print("|---:|---:|---|---:|---:|---:|")
        for shots, epochs, name, mean, low_, high in rows:
            print(f"| {shots} | {epochs} | {name} | {mean:.1%} | {low_:.1%} | {high:.1%} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
