"""Argument checks shared by the fine-tuning and pretraining modules."""

import numbers


def check_int(name, value, minimum=1):
    """Raises unless `value` is an int (not a bool) >= `minimum`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        raise ValueError(
            f"`{name}` must be an int >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)
