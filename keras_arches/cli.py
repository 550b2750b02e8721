"""The ``keras-arches`` command line: a thin layer over the package.

Each sub-command lives beside the code it drives and registers itself in
``COMMANDS`` as ``(name, add_arguments, run)``.
"""

import argparse
import json
import sys

from keras_arches.analysis import add_profile_arguments, run_profile_command
from keras_arches.exporting import add_cli_arguments as _add_export_arguments
from keras_arches.exporting import run_cli as _run_export


def _add_model_arguments(parser):
    parser.add_argument("model", help="a registered model name, see `keras-arches list`")
    parser.add_argument(
        "--options",
        default="{}",
        help='builder keyword arguments as JSON, e.g. \'{"include_top": false}\'',
    )


def _builder_kwargs(args):
    try:
        kwargs = json.loads(args.options)
    except json.JSONDecodeError as error:
        raise ValueError(f"--options must be a JSON object: {error}") from None
    if not isinstance(kwargs, dict):
        raise ValueError(f"--options must be a JSON object. Received: {args.options}")
    kwargs.setdefault("weights", None)
    return kwargs


def _run_list(args):
    """List the registered models with their size, parameters and twin."""
    from keras_arches import registry

    for name in registry.list_models(family=args.family):
        info = registry.model_info(name)
        print(
            f"{name:24s} {info.family:12s} {info.default_size:>4d}px "
            f"{info.params:>13,d} params  {info.twin}"
        )


def _run_summary(args):
    """Build a model (random weights unless --options says) and print its summary."""
    from keras_arches import registry

    model = registry.get_model(args.model, **_builder_kwargs(args))
    model.summary()


COMMANDS = [
    (
        "list",
        lambda p: p.add_argument("--family", default=None, help="only this family"),
        _run_list,
    ),
    ("summary", _add_model_arguments, _run_summary),
    ("export", _add_export_arguments, _run_export),
    ("profile", add_profile_arguments, run_profile_command),
]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-arches", description="Classic CNN architectures for Keras 3."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, add_arguments, run in COMMANDS:
        sub = commands.add_parser(name, help=(run.__doc__ or "").strip().split("\n")[0] or None)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ValueError as error:
        print(f"keras-arches {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
