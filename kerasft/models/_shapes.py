"""Shape helpers for the models' input checks and messages."""


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
