"""SqueezeNet: torchvision's squeezenet1_0 and squeezenet1_1.

torchvision 0.29 ``models/squeezenet.py`` keeps conv1, the max pools and the fire modules in one
``features`` Sequential (conv1 is ``features.0``, followed by its ReLU); the fire modules'
children are ``squeeze``, ``expand1x1`` and ``expand3x3``, the names of our FireModule's
sublayers. The classifier conv10 is ``classifier.1``.
"""

from keras_arches.pretrained.layout import Layout, rules

# Index of fire2 ... fire9 in `features`: 1.0 pools after conv1, fire4 and fire8, 1.1 after
# conv1, fire3 and fire5 (our layers pool4/pool8 or pool3/pool5 tell the two apart).
_FIRE_INDEX = {
    "1_0": {2: 3, 3: 4, 4: 5, 5: 7, 6: 8, 7: 9, 8: 10, 9: 12},
    "1_1": {2: 3, 3: 4, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12},
}


def _fire(fire, sublayer, names):
    index = _FIRE_INDEX["1_0" if "pool4" in names else "1_1"].get(fire)
    return None if index is None else f"features.{index}.{sublayer}"


_RULES = rules(("conv1", "features.0"), ("conv10", "classifier.1"))


def _prefix(path, names=frozenset()):
    fire, _, sublayer = path.partition("/")
    if fire.startswith("fire") and fire[4:].isdigit() and sublayer in (
        "squeeze", "expand1x1", "expand3x3"
    ):
        return _fire(int(fire[4:]), sublayer, names)
    return _RULES(path, names)


TORCHVISION = Layout(
    name="torchvision.squeezenet",
    source="torchvision 0.29 models/squeezenet.py (squeezenet1_0, squeezenet1_1)",
    bn_epsilon=1e-5,  # no batch norm
    prefix=_prefix,
    optional=("conv10",),
    classifier=("conv10",),
)

LAYOUTS = (TORCHVISION,)
