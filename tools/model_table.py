"""Writes README.md's table of models from the registry's cards, between its two markers.

    python tools/model_table.py           # rewrite the table in README.md
    python tools/model_table.py --check   # exit 1 if README.md's table is not the cards'

One row per registered builder, in registration order: the builder, its registry name, family,
default and smallest input, ``count_params()`` with the top (and the classes, where not 1000),
the twin or source the card names, and the paper's table where the card names one.
"""

import argparse
import pathlib
import sys

from keras_arches import registry

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BEGIN = "<!-- the model table: tools/model_table.py writes it from the cards -->"
END = "<!-- end of the model table -->"


def model_table():
    """The Markdown table of every registered model."""
    lines = [
        "| builder | registry name | family | input (default / min) | params (`count_params()`) "
        "| twin / source | checkpoints |",
        "|---|---|---|---|---:|---|---|",
    ]
    for card in registry.cards():
        classes = f" ({card.params_classes} classes)" if card.params_classes != 1000 else ""
        datasets = ", ".join(card.datasets) or "none published"
        lines.append(
            f"| `{card.builder.__name__}` | `{card.name}` | {card.family} | "
            f"{card.default_size} / {card.min_size} | {card.params:,}{classes} | {card.twin} | "
            f"{len(card.all_tags)}: {datasets} |"
        )
    return "\n".join(lines)


def with_table(text):
    """``text`` (README.md's) with the table between the markers replaced."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{model_table()}\n{text[end:]}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if stale")
    args = parser.parse_args(argv)
    text = README.read_text()
    if args.check:
        if with_table(text) != text:
            print("README.md's model table is stale: run python tools/model_table.py",
                  file=sys.stderr)
            return 1
        return 0
    README.write_text(with_table(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
