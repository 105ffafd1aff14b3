"""Argument checks shared by the models: each error ends with what it got."""

import numbers


def _is_int(value):
    # bool is an Integral, but `hidden_units=(True,)` is a bug, not a width.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name, value, minimum):
    """Returns `value` as an int, or raises if it is not an int >= minimum."""
    if not _is_int(value) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_int_sequence(name, value, allow_empty=True):
    """Returns `value` as a tuple of positive ints, or raises."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(
            f"`{name}` must be a list or tuple of positive integers. "
            f"Received: {name}={value!r}"
        )
    values = tuple(value)
    if not all(_is_int(v) and v > 0 for v in values):
        raise ValueError(
            f"`{name}` must contain only positive integers. "
            f"Received: {name}={value!r}"
        )
    if not values and not allow_empty:
        raise ValueError(
            f"`{name}` must contain at least one value. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


def check_dropout(dropout):
    """Returns `dropout` as a float, or raises if it is outside [0, 1)."""
    if (
        not isinstance(dropout, numbers.Real)
        or isinstance(dropout, bool)
        or not 0 <= dropout < 1
    ):
        raise ValueError(
            "`dropout` is the fraction of units dropped during training. "
            f"Received: dropout={dropout!r} (expected 0 <= dropout < 1)"
        )
    return float(dropout)


def check_non_negative(name, value):
    """Returns `value` as a float, or raises if it is not a real >= 0."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not value >= 0
    ):
        raise ValueError(
            f"`{name}` must be a number >= 0. Received: {name}={value!r}"
        )
    return float(value)


def check_choice(name, value, choices):
    """Returns `value`, or raises listing the accepted `choices`."""
    if not isinstance(value, str) or value not in choices:
        accepted = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"`{name}` must be one of {accepted}. Received: {name}={value!r}"
        )
    return value


def format_shape(shape):
    """`(None, 8, 8, 1)`: a shape as a tuple of ints/None, for messages."""
    return str(tuple(None if d is None else int(d) for d in shape))


def shapes_compatible(expected, received):
    """True when two shapes agree on every dimension known in both."""
    if len(expected) != len(received):
        return False
    return all(
        e is None or r is None or int(e) == int(r)
        for e, r in zip(expected, received)
    )
