"""Fine-tuning a pretrained model on the user's own images: the two phases of transfer learning.

The recipe is the standard one: first a new top (the layers after the last feature map) on the
frozen pretrained network, then the whole network at a learning rate a hundred times lower,
the batch norms staying in inference mode throughout. References: Keras' transfer-learning
guide (F. Chollet, "Transfer learning & fine-tuning", keras.io/guides/transfer_learning, 2020)
for the two phases, the batch norms and the rates (Adam, 1e-3 then 1e-5); timm 1.0's
``train.py`` for the schedule and the regularisation (cosine decay after a linear warm-up,
label smoothing 0.1, decoupled weight decay 0.05 as its AdamW fine-tuning runs use).
"""

import dataclasses
import os

import keras

from keras_arches import data as data_lib
from keras_arches import registry, training
from keras_arches.arch_model import strip_auxiliary
from keras_arches.recipes import Recipe

_GUIDE = "Keras transfer-learning guide (Chollet 2020)"
_TIMM = "timm 1.0 train.py"

# Phase 1: the new head alone, on the frozen network.
HEAD_RECIPE = Recipe(
    "finetune_head", f"{_GUIDE}: new head on the frozen base; {_TIMM}: smoothing, warm-up",
    "adam", 1e-3, 32, 2, schedule="cosine", warmup_epochs=0.5, label_smoothing=0.1,
    weight_decay=0.05,
    notes="Adam at Keras' default 1e-3 for the new classifier while every pretrained layer is "
    "frozen (batch norms in inference mode, as the guide requires).",
)
# Phase 2: the whole network, a hundred times slower; the rest as phase 1.
FULL_RECIPE = dataclasses.replace(
    HEAD_RECIPE, name="finetune",
    paper=f"{_GUIDE}: the whole model at a very low rate; {_TIMM}: cosine, smoothing",
    learning_rate=1e-5, epochs=8,
    notes="The guide's 1e-5 for the unfrozen network, cosine decay to 0 after a short "
    "warm-up, label smoothing 0.1, decoupled weight decay 0.05.",
)


@dataclasses.dataclass(frozen=True)
class FineTuneResult:
    """What :func:`finetune` returns: the inference ``model`` (it records its ``class_names``),
    the two phases' :class:`~keras_arches.training.TrainResult` and the file it was saved to."""

    model: keras.Model
    head: training.TrainResult
    full: training.TrainResult
    class_names: list
    saved_path: str
    test_accuracy: float


def _pretrained(model, weights, classes, input_shape):
    """The network to fine-tune: a registry name or ``name.tag`` with ``weights``, or a model.
    ``registry.get_model`` reads the tag (and refuses one that contradicts ``weights``)."""
    if isinstance(model, keras.Model):
        return model
    name, _, tag = model.partition(".")
    if not tag and weights is None:
        raise ValueError(
            f"Fine-tuning needs pretrained weights: pass 'MODEL.TAG' (the tags of {name}: "
            f"{', '.join(registry.model_info(name).tags) or 'none'}) or `weights=PATH`, or train "
            "from scratch with keras_arches.train."
        )
    kwargs = {"input_shape": tuple(input_shape)} if input_shape else {}
    if weights is not None:
        kwargs["weights"] = weights
    return registry.get_model(model, classes=classes, **kwargs)


def _top_layers(net):
    """The names of ``net``'s top: the layers after its last feature map (pooling, flatten,
    the fully connected layers of LeNet and VGG, the classifier), and where those hold no
    weights (NiN's classifier is a convolution) the last layer that does."""
    layers = net.layers
    first = len(layers)
    while first > 0 and len(layers[first - 1].output.shape) == 2:
        first -= 1
    top = layers[first:]
    if not any(layer.weights for layer in top):
        top = [next(layer for layer in reversed(layers[:first]) if layer.weights), *top]
    return {layer.name for layer in top}


def _set_frozen(net, frozen, top=()):
    """Freezes every layer but the ``top`` ones (``frozen``), or unfreezes all but the batch
    norms: they stay frozen, so in inference mode, in both phases (the guide keeps them in
    inference mode when it unfreezes the base; frozen, their scale and offset stay the
    checkpoint's too)."""
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = layer.name in top
        else:
            layer.trainable = not frozen or layer.name in top


def finetune(
    model,
    dataset,
    *,
    weights=None,
    epochs=None,
    freeze_epochs=None,
    learning_rate=None,
    batch_size=None,
    input_shape=None,
    validation_split=data_lib.VALIDATION_SPLIT,
    steps_per_epoch=None,
    test_steps=None,
    seed=0,
    run_dir=None,
    resume=True,
    save_path=None,
    verbose="auto",
    augment=None,
    head_recipe=HEAD_RECIPE,
    recipe=FULL_RECIPE,
):
    """Fine-tunes a pretrained model on ``dataset`` and returns a :class:`FineTuneResult`.

    Args:
        model: ``"name.tag"`` (e.g. ``"resnet18.tv_in1k"``), a registry name with
            ``weights`` (a tag or a checkpoint file), or a Keras model already holding
            pretrained weights and a classifier for ``dataset``'s classes.
        dataset: an image folder (Keras' ``class/image`` layout, split by
            ``validation_split``, or ``split/class/image``), a tensorflow-datasets name or
            ``"embedded_mnist"`` (see :func:`keras_arches.data.load`).
        epochs: all epochs, both phases (default: the two recipes' 2 + 8).
        freeze_epochs: the first phase's epochs, the new head on the frozen network (default
            ``head_recipe.epochs``; 0 skips it).
        learning_rate: the second phase's rate at ``batch_size`` (default ``recipe``'s 1e-5,
            scaled linearly from its batch of 32).
        input_shape: the model's input (default: the checkpoint's size).
        steps_per_epoch, test_steps, seed, run_dir, resume, verbose: as in
            :func:`keras_arches.train`; each phase keeps its own backup under ``run_dir``
            (default ``logs/<name>_finetune``), so a killed run resumes in the phase it was in.
        save_path: where the fine-tuned model is written (default
            ``saved_models/<name>_finetuned.keras``); it records the class names, and its
            checkpoint tag gives the preprocessing.
        augment: the augmentations (default: the recipes' random crops and flips, none for
            1-channel images); add ``"mixup"`` or ``"cutmix"`` for Keras' ``MixUp`` and
            ``CutMix`` layers (:func:`keras_arches.data.pipeline`).
        head_recipe, recipe: the two phases' :class:`~keras_arches.recipes.Recipe` records.

    Returns:
        A :class:`FineTuneResult`; ``result.model.class_names`` are the dataset's class names
        in label order.
    """
    source = data_lib.load(dataset, "train", validation_split=validation_split)
    names = list(source.class_names or [str(i) for i in range(source.num_classes)])
    net = _pretrained(model, weights, len(names), input_shape)
    if getattr(net, "arch", None) is None:
        raise ValueError("Fine-tuning needs a model a keras_arches builder made (it gives the "
                         f"preprocessing). Received: {net.name!r}")
    units = net.output_shape[-1]
    if units != len(names):
        raise ValueError(
            f"{dataset!r} has {len(names)} classes ({', '.join(names[:10])}...) but the model's "
            f"classifier has {units}: build it with classes={len(names)}, or pass 'name.tag'."
        )
    net.class_names = names
    freeze_epochs = head_recipe.epochs if freeze_epochs is None else freeze_epochs
    epochs = epochs or freeze_epochs + recipe.epochs
    if isinstance(freeze_epochs, bool) or not isinstance(freeze_epochs, int) or not (
            0 <= freeze_epochs < epochs):
        raise ValueError(f"`freeze_epochs` must be an integer in [0, epochs={epochs}). "
                         f"Received: freeze_epochs={freeze_epochs!r}")
    batch_size = batch_size or recipe.batch_size
    if learning_rate is not None:
        recipe = dataclasses.replace(recipe, learning_rate=learning_rate, batch_size=batch_size)
    run_dir = run_dir or os.path.join("logs", f"{net.arch}_finetune")
    common = dict(
        dataset=dataset, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
        test_steps=test_steps, seed=seed, resume=resume, verbose=verbose,
        validation_split=validation_split, augment=augment,
    )
    head = None
    head_dir = os.path.join(run_dir, "head")
    if freeze_epochs:
        done = os.path.join(head_dir, "done.json")
        if resume and os.path.exists(done):  # the first phase ended: start from its weights
            net.load_weights(os.path.join(head_dir, "head.weights.h5"))
        else:
            _set_frozen(net, True, _top_layers(net))
            head = training.train(net, recipe=head_recipe, epochs=freeze_epochs,
                                  run_dir=head_dir, **common)
            training.write_atomically(os.path.join(head_dir, "head.weights.h5"),
                                      net.save_weights)
            training.write_json_atomically(done, head.config)
    _set_frozen(net, False)
    full = training.train(net, recipe=recipe, epochs=epochs - freeze_epochs,
                          run_dir=os.path.join(run_dir, "full"), **common)
    save_path = save_path or os.path.join("saved_models", f"{net.arch}_finetuned.keras")
    os.makedirs(os.path.dirname(os.path.abspath(save_path)), exist_ok=True)
    inference = strip_auxiliary(full.model)
    training.write_atomically(save_path, inference.save)
    if verbose:
        print(f"keras-arches finetune: {len(names)} classes ({', '.join(names[:5])}"
              f"{'...' if len(names) > 5 else ''}), test accuracy {full.test_accuracy:.4f}; "
              f"model {save_path}")
    return FineTuneResult(inference, head, full, names, save_path, full.test_accuracy)

