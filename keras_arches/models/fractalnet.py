"""FractalNet (Larsson et al., "FractalNet: Ultra-Deep Neural Networks without Residuals",
ICLR 2017, arXiv:1605.07648), the CIFAR network as the authors' released generator builds it.
"""

from keras import layers

from keras_arches.contract import Contract, check_rate
from keras_arches.layers import FractalJoin, GlobalDropPath
from keras_arches.layers.fractal_join import _check_seed
from keras_arches.models.common import RESNET_NAMES, bn_act, conv
from keras_arches.registry import register

_PAPER = (
    "Larsson et al. 2017, FractalNet: Ultra-Deep Neural Networks without Residuals "
    "(ICLR 2017, arXiv:1605.07648)"
)
FILTERS = (64, 128, 256, 512, 512)
EPSILON = 1e-5  # Caffe's BatchNorm default, as the authors trained it


def conv_unit(x, filters, dropout_rate, axis, name, seed=None):
    """conv 3x3 (no bias) - dropout - BN - ReLU, the generator's order; ``{name}_conv`` ..."""
    x = conv(x, filters, 3, name, names=RESNET_NAMES)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, seed=seed, name=f"{name}_dropout")(x)
    return bn_act(x, name, axis=axis, epsilon=EPSILON, scale=True, names=RESNET_NAMES)


def fractal_block(x, filters, columns, dropout_rate, drop_path_rate, choice, axis, name, seed):
    """One fractal block f_C (Fig. 1), laid out as the authors' generator does.

    Column ``c`` (1 = shallowest) has ``2 ** (c - 1)`` conv units; walking the block's
    ``2 ** (columns - 1)`` layers, the columns whose unit ends at depth ``d`` are joined there
    (the deepest ``k``, ``k - 1`` being the number of times 2 divides ``d``), and at the last depth
    every column is max-pooled 2x2 before the final join. ``choice`` is the
    :class:`GlobalDropPath` tensor or None. Layers ``{name}_col{c}_{i}_*``, ``{name}_col{c}_pool``,
    ``{name}_join{d}``.
    """
    ends = [x] * columns
    units = [0] * columns
    depth = 2 ** (columns - 1)
    for d in range(1, depth + 1):
        for col in reversed(range(columns)):
            if d % 2 ** (columns - 1 - col) == 0:
                units[col] += 1
                unit_seed = None if seed is None else seed + 100 * col + units[col]
                ends[col] = conv_unit(
                    ends[col], filters, dropout_rate, axis, f"{name}_col{col + 1}_{units[col]}",
                    unit_seed,
                )
        if d == depth:
            ends = [
                layers.MaxPooling2D(2, strides=2, name=f"{name}_col{col + 1}_pool")(end)
                for col, end in enumerate(ends)
            ]
        joined = sum(1 for col in range(columns) if d % 2 ** (columns - 1 - col) == 0)
        if joined >= 2:
            join = FractalJoin(
                drop_path_rate, seed=None if seed is None else seed + d, name=f"{name}_join{d}"
            )
            merged = join(ends[-joined:], column=choice)
            ends[-joined:] = [merged] * joined
    return ends[0]


def _check_options(columns, dropout_rates, drop_path_rate, global_drop_ratio, seed):
    if isinstance(columns, bool) or not isinstance(columns, int) or not 1 <= columns <= 6:
        raise ValueError(
            f"`columns` must be an integer from 1 to 6 (a block is 2 ** (columns - 1) layers "
            f"deep). Received: columns={columns!r}"
        )
    rates = tuple(dropout_rates) if isinstance(dropout_rates, (list, tuple)) else None
    if rates is None or len(rates) != len(FILTERS) or not all(
        not isinstance(r, bool) and isinstance(r, (int, float)) and 0 <= r < 1 for r in rates
    ):
        raise ValueError(
            f"`dropout_rates` must be {len(FILTERS)} numbers in [0, 1), one per block. "
            f"Received: dropout_rates={dropout_rates!r}"
        )
    check_rate("drop_path_rate", drop_path_rate)
    if (
        isinstance(global_drop_ratio, bool)
        or not isinstance(global_drop_ratio, (int, float))
        or not 0 <= global_drop_ratio <= 1
    ):
        raise ValueError(
            "`global_drop_ratio` must be a number in [0, 1] (the fraction of training batches "
            f"that use global drop-path). Received: global_drop_ratio={global_drop_ratio!r}"
        )
    _check_seed(seed)
    return rates


@register(
    family="fractalnet", paper=_PAPER, default_size=32, min_size=32, test_size=32,
    params=33_745_226, params_classes=10,
    preprocessing="torch",
)
def FractalNet(
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=10,
    classifier_activation="softmax",
    name="fractalnet",
    columns=3,
    dropout_rates=(0.0, 0.1, 0.2, 0.3, 0.4),
    drop_path_rate=0.15,
    global_drop_ratio=0.5,
    seed=None,
):
    """FractalNet for CIFAR (Larsson et al. 2017) as the authors' released generator builds it.

    Five fractal blocks of ``columns`` columns (C=3: 4 layers deep, 20 conv layers in all) with
    64-128-256-512-512 filters; conv units are conv 3x3 - dropout (``dropout_rates``, one per
    block) - BN - ReLU; joins are element-wise means; each block ends with a 2x2 max pool of every
    column before its last join; then global average pooling and the classifier. Training uses
    drop-path: on a ``global_drop_ratio`` fraction of the batches a single column, drawn once
    per batch by a :class:`~keras_arches.layers.GlobalDropPath` layer and fed to every join, is
    kept in the whole network (global); on the others each join drops each input with
    ``drop_path_rate`` but keeps at least one (local). ``seed`` seeds all of it. Set a rate to 0
    to turn that kind off. Returns a Keras ``Model``.
    """
    rates = _check_options(columns, dropout_rates, drop_path_rate, global_drop_ratio, seed)
    c = Contract(
        FractalNet.info, include_top, weights, input_tensor, input_shape, pooling,
        classes, classifier_activation, name,
    )
    choice = None
    if columns > 1 and global_drop_ratio > 0:
        choice = GlobalDropPath(columns, global_drop_ratio, seed=seed, name="global_drop_path")(
            c.image
        )
    x = c.image
    for block, (filters, rate) in enumerate(zip(FILTERS, rates), 1):
        block_seed = None if seed is None else seed + 1000 * block
        x = fractal_block(
            x, filters, columns, rate, drop_path_rate, choice, c.channel_axis, f"block{block}",
            block_seed,
        )
    return c.model(c.head(x))
