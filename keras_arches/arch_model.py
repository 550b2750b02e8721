"""The models builders return, and models on their layers with other outputs.

:class:`ArchModel` is a functional ``keras.Model`` that remembers which registered builder made
it (and with which checkpoint, layout and class names), so :func:`keras_arches.model_info`
finds its card, also after a ``.keras`` round trip. :func:`with_outputs` gives a model on the
same layers with other outputs (the feature pyramid of :mod:`keras_arches.backbone`);
:func:`strip_auxiliary` the inference model of a builder with auxiliary heads.
"""

import keras


@keras.saving.register_keras_serializable(package="keras_arches")
class ArchModel(keras.Model):
    """A functional ``keras.Model`` that knows which registered builder made it.

    ``arch`` is the registry name, ``checkpoint`` the weights it was built with (None for
    random initialisation; its card gives the input preprocessing) and ``variant`` its layout
    (None: the default). ``class_names`` are the names of its classes where they are not the
    checkpoint's own: a fine-tuned model's folder names, in class order (None: the checkpoint's,
    see :func:`keras_arches.data.class_names`). All four are part of the config, so they
    survive ``.keras`` saving and a ``safe_mode=True`` reload. Everything else is a plain
    functional model.
    """

    _FACTS = ("arch", "checkpoint", "variant", "class_names")

    def __init__(self, *args, arch=None, checkpoint=None, variant=None, class_names=None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.arch = arch
        self.checkpoint = checkpoint
        self.variant = variant
        self.class_names = None if class_names is None else [str(n) for n in class_names]

    def get_config(self):
        return {**super().get_config(), **{key: getattr(self, key) for key in self._FACTS}}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        facts = {key: config.pop(key, None) for key in cls._FACTS}
        model = super().from_config(config, custom_objects)
        for key, value in facts.items():
            setattr(model, key, value)
        return model


def with_outputs(model, outputs):
    """A model on ``model``'s layers (weights shared) with other ``outputs``; an
    :class:`ArchModel` keeps its ``arch``, ``checkpoint``, ``variant`` and ``class_names``."""
    if isinstance(model, ArchModel):
        return ArchModel(model.input, outputs, name=model.name,
                         **{key: getattr(model, key) for key in ArchModel._FACTS})
    return keras.Model(model.input, outputs, name=model.name)


def strip_auxiliary(model):
    """The inference model of a model trained with auxiliary heads.

    Builders with ``aux_classifiers=True`` return ``[main, aux1, ...]`` with
    the main classifier first. This returns a model on the same layers (weights
    shared, nothing copied) whose only output is the main one; a model with a
    single output is returned as is.
    """
    if len(model.outputs) == 1:
        return model
    # model.input keeps a single-input model callable on a bare tensor.
    return with_outputs(model, model.outputs[0])
