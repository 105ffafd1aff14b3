"""Extending a built optimizer to more variables, keeping its state.

Keras 3 optimizers only update the variables they were built with and
have no public way to add some; the Trainer needs that when a layer is
unfrozen mid-run (gradual unfreezing).
"""


def extended(optimizer, variables):
    """A new optimizer over `variables` with `optimizer`'s state.

    A new optimizer of the same config is built over `variables` (the old
    targets first, then the new ones) and the old one's variables (the
    step count, moments of already-trained weights) are copied over by
    path, which is derived from the optimizer's and the weight's names.

    Args:
        optimizer: a built `keras.optimizers.Optimizer`.
        variables: the variables it trained, followed by the new ones.
    """
    new = optimizer.__class__.from_config(optimizer.get_config())
    # exclude_from_weight_decay() is not part of the config.
    for name in ("_exclude_from_weight_decay",
                 "_exclude_from_weight_decay_pattern"):
        if hasattr(optimizer, name):
            setattr(new, name, getattr(optimizer, name))
    new.build(variables)
    old_by_path = {v.path: v for v in optimizer.variables}
    for variable in new.variables:
        if variable.path in old_by_path:
            variable.assign(old_by_path[variable.path])
    return new
