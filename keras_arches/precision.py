"""The dtype policy a block of code builds and runs under, shared by training and export."""

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy(name):
    """Sets the global dtype policy for the block and restores the previous one after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
