"""FractalNet's join with local and global drop-path (Larsson et al. 2017, arXiv:1605.07648).

Global drop-path keeps one column of the whole network for a batch, so every join of that batch
must agree on the column. Here the choice is made once per forward pass by a single
:class:`GlobalDropPath` layer, and its output, a ``(batch, columns)`` one-hot (all zeros for a
local batch), is an extra input of every :class:`FractalJoin`: one draw, fed to all joins, as the
per-step "trigger" blob of the authors' Caffe layers. Each join in a fractal block merges the
deepest columns of the network (a join at depth ``d`` merges the columns whose conv ends at
``d``), so a join of ``k`` inputs reads the last ``k`` entries of that one-hot.
"""

import functools

import keras
from keras import ops

from keras_arches.checks import check_positive_int, check_rate


def _check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")


@keras.saving.register_keras_serializable(package="keras_arches")
class GlobalDropPath(keras.layers.Layer):
    """The per-batch column choice of FractalNet's global drop-path (Larsson et al. 2017).

    Args: ``columns`` (the network's number of columns C), ``rate`` (the fraction of training
    batches that use global drop-path, in [0, 1]; the paper's mix is 0.5), ``seed`` (int or None,
    for the layer's ``keras.random.SeedGenerator``). Called on any tensor with a batch dimension
    (the image); returns a ``(batch, columns)`` tensor, the same row for every sample: in training,
    with probability ``rate``, the one-hot of a column drawn uniformly (column 0 is the shallowest),
    else zeros (a local drop-path batch). At inference it is all zeros.
    """

    def __init__(self, columns, rate=0.5, seed=None, **kwargs):
        check_positive_int("columns", columns)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(f"`rate` must be a number in [0, 1]. Received: rate={rate!r}")
        _check_seed(seed)
        super().__init__(**kwargs)
        self.columns = columns
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        batch = ops.shape(inputs)[0]
        if not training or self.rate == 0.0:
            return ops.zeros((batch, self.columns), dtype=self.compute_dtype)
        draw = keras.random.uniform((), seed=self.seed_generator)
        column = keras.random.randint((), 0, self.columns, seed=self.seed_generator)
        row = ops.one_hot(column, self.columns, dtype=self.compute_dtype)
        row = row * ops.cast(draw < self.rate, self.compute_dtype)
        return ops.broadcast_to(row[None, :], (batch, self.columns))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.columns)

    def get_config(self):
        config = super().get_config()
        config.update({"columns": self.columns, "rate": self.rate, "seed": self.seed})
        return config


@keras.saving.register_keras_serializable(package="keras_arches")
class FractalJoin(keras.layers.Layer):
    """FractalNet's join: the element-wise mean of its inputs, with drop-path in training.

    Args: ``drop_rate`` (local drop-path: each input is dropped with this probability, in
    [0, 1); the paper's 0.15), ``seed`` (int or None, for the layer's
    ``keras.random.SeedGenerator``). Call it on a list of k >= 2 tensors of one shape, ordered
    from the shallowest column to the deepest, and optionally ``column=``, the output of
    :class:`GlobalDropPath`. At inference the output is the mean of the inputs. In training one
    mask per batch (as the authors' Caffe join) drops inputs and the output is the mean of the
    kept ones: locally, each input independently with ``drop_rate`` but never all of them (if all
    are drawn dropped, one is kept, uniformly at random); when ``column`` selects a column for
    the batch (global drop-path), only that column's input is kept, and a join that the chosen
    column does not pass through returns the plain mean (its output is off the chosen path).
    Output: the shape and dtype of an input.
    """

    def __init__(self, drop_rate=0.15, seed=None, **kwargs):
        check_rate("drop_rate", drop_rate)
        _check_seed(seed)
        super().__init__(**kwargs)
        self.drop_rate = float(drop_rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _local_mask(self, count):
        if self.drop_rate == 0.0:
            return ops.ones((count,))
        draw = keras.random.uniform((count,), seed=self.seed_generator)
        keep = ops.cast(draw >= self.drop_rate, "float32")
        # All dropped: keep the input with the largest draw, uniform among the inputs.
        rescue = ops.one_hot(ops.argmax(draw), count, dtype="float32")
        return ops.where(ops.sum(keep) > 0, keep, rescue)

    def _weights(self, count, column, batch):
        """(batch, count) float32 weights that sum to 1 over the kept inputs."""
        mask = ops.broadcast_to(self._local_mask(count)[None, :], (batch, count))
        if column is not None:
            column = ops.cast(column, "float32")
            chosen = column[:, -count:]
            is_global = ops.sum(column, axis=-1, keepdims=True) > 0
            on_path = ops.sum(chosen, axis=-1, keepdims=True) > 0
            mask = ops.where(is_global, ops.where(on_path, chosen, ops.ones_like(chosen)), mask)
        return mask / ops.sum(mask, axis=-1, keepdims=True)

    def call(self, inputs, column=None, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            count = len(inputs) if isinstance(inputs, (list, tuple)) else "a single tensor"
            raise ValueError(
                f"FractalJoin must be called on a list of at least two tensors. Received: {count}"
            )
        if column is not None and column.shape[-1] is not None and column.shape[-1] < len(inputs):
            raise ValueError(
                f"`column` has {column.shape[-1]} columns but the join has {len(inputs)} inputs; "
                "each input must be one of the network's columns."
            )
        if not training:
            return functools.reduce(ops.add, inputs) / len(inputs)
        weights = self._weights(len(inputs), column, ops.shape(inputs[0])[0])
        weights = ops.cast(weights, inputs[0].dtype)
        trailing = (1,) * (len(inputs[0].shape) - 1)
        return functools.reduce(
            ops.add,
            [x * ops.reshape(weights[:, i], (-1, *trailing)) for i, x in enumerate(inputs)],
        )

    def get_config(self):
        config = super().get_config()
        config.update({"drop_rate": self.drop_rate, "seed": self.seed})
        return config
