"""The argument checks shared by layers, builders and training: one message per kind of value.

This module imports nothing from the package, so every floor of it may use it.
"""


def check_positive_int(name, value, allow_none=False):
    """Raises a ValueError unless ``value`` is an integer >= 1 (not a bool), or None where
    ``allow_none``; the message says which."""
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        allowed = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"`{name}` must be {allowed}. Received: {name}={value!r}")


def check_rate(name, value):
    """Raises a ValueError unless ``value`` is a probability-like option (dropout, drop-path) in
    [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1). Received: {name}={value!r}")
