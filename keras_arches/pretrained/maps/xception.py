"""Xception as timm 1.0 lays it out (models/xception.py, ``legacy_xception``: Cadene's port of
Keras' weights).

Our blocks are keras.applications' ``block{k}`` (k = 2 ... 13; ``block1`` is the stem's two
convs, ``block14`` the exit flow's two separable convs); timm's are ``block{k - 1}``. A block's
``rep`` is ``[ReLU, SeparableConv2d, BatchNorm2d] * reps`` (plus a max pool), without the first
ReLU in timm's ``block1``, so our ``_sepconv{i}`` sits at ``rep.{3i - 2}`` (``rep.{3i - 3}`` in
our block2) and its batch norm one later; the projection is ``skip`` / ``skipbn``.
"""

from keras_arches.pretrained.layout import Layout, rules

TORCH_BN_EPSILON = 1e-5  # timm's Xception: torch.nn.BatchNorm2d's default


def _rep(block, i, bn):
    index = 3 * i - (3 if block == 2 else 2) + (1 if bn else 0)
    return f"block{block - 1}.rep.{index}"


TIMM_LEGACY_XCEPTION = Layout(
    name="timm.legacy_xception",
    source="timm 1.0 models/xception.py (legacy_xception)",
    bn_epsilon=TORCH_BN_EPSILON,
    prefix=rules(
        (r"block1_conv([12])", "conv{0}"),
        (r"block1_conv([12])_bn", "bn{0}"),
        (r"block(\d+)_residual", lambda k: f"block{k - 1}.skip"),
        (r"block(\d+)_residual_bn", lambda k: f"block{k - 1}.skipbn"),
        (r"block14_sepconv([12])", lambda i: f"conv{i + 2}"),
        (r"block14_sepconv([12])_bn", lambda i: f"bn{i + 2}"),
        (r"block(\d+)_sepconv(\d)", lambda k, i: _rep(k, i, bn=False)),
        (r"block(\d+)_sepconv(\d)_bn", lambda k, i: _rep(k, i, bn=True)),
        ("predictions", "fc"),
    ),
)

LAYOUTS = (TIMM_LEGACY_XCEPTION,)
