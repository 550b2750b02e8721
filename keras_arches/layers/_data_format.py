"""The ``data_format`` argument of the custom layers."""

import keras

DATA_FORMATS = ("channels_last", "channels_first")


def standardize_data_format(data_format):
    """``data_format`` lower-cased, or ``keras.config.image_data_format()`` when it is None.

    Raises ``ValueError`` for anything but "channels_last" or "channels_first" (any case).
    """
    if data_format is None:
        return keras.config.image_data_format()
    normalized = data_format.lower() if isinstance(data_format, str) else data_format
    if normalized not in DATA_FORMATS:
        raise ValueError(
            f"`data_format` must be one of {DATA_FORMATS} or None. "
            f"Received: data_format={data_format!r}"
        )
    return normalized
