"""Stochastic depth / drop-path for residual branches."""

import keras
from keras import ops

from keras_arches.checks import check_positive_int, check_rate


def drop_path_rates(num_blocks, drop_path_rate):
    """Per-block drop rates of Huang et al. 2016's linear decay rule.

    Block `l` (1-based) of `num_blocks` = L gets `drop_path_rate * l / L`, so the last block gets
    exactly `drop_path_rate` (the input, l=0, would get 0). Returns a list of `num_blocks` floats.
    """
    check_positive_int("num_blocks", num_blocks)
    check_rate("drop_path_rate", drop_path_rate)
    return [drop_path_rate * block / num_blocks for block in range(1, num_blocks + 1)]


@keras.saving.register_keras_serializable(package="keras_arches")
class StochasticDepth(keras.layers.Layer):
    """Drop-path on a residual branch (Huang et al. 2016, "Deep Networks with Stochastic Depth";
    Larsson et al. 2017, "FractalNet", local drop-path). Call it on the branch tensor, before the
    addition to the shortcut. Args: `rate` (drop probability in [0, 1)), `seed` (int or None, for
    the layer's `keras.random.SeedGenerator`). In training each sample's whole branch is zeroed
    with probability `rate` and kept samples are scaled by `1 / (1 - rate)`; at inference, or when
    `rate == 0`, the output is the input. Output: same shape and dtype as the input.
    """

    def __init__(self, rate, seed=None, **kwargs):
        check_rate("rate", rate)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an integer or None. Received: seed={seed!r}")
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep_prob = 1.0 - self.rate
        mask_shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        noise = keras.random.uniform(mask_shape, dtype=inputs.dtype, seed=self.seed_generator)
        mask = ops.cast(noise < keep_prob, inputs.dtype)
        return inputs * (mask / keep_prob)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
