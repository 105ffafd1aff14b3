"""Which layers: walk a model's layer tree, select layers by path, name,
glob or index, and freeze / unfreeze them (see `kerasft.freezing`)."""

import fnmatch
import numbers

import keras

_GLOB_CHARS = "*?["


def _children(layer):
    """The direct sublayers of `layer`, in tracking order, without inputs."""
    if hasattr(layer, "_flatten_layers"):
        children = layer._flatten_layers(include_self=False, recursive=False)
    else:  # pragma: no cover (every Keras 3 layer has _flatten_layers)
        children = getattr(layer, "layers", [])
    return [c for c in children if not isinstance(c, keras.layers.InputLayer)]


def _walk(model, max_depth=None):
    """Yields `(path, depth, layer, ancestors)` for the model and its
    sublayers, parents before children; the model itself is depth 0, path "".

    A layer reachable by several paths (shared) is yielded once.
    """
    seen = set()

    def visit(layer, path, depth, ancestors):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        yield path, depth, layer, ancestors
        if max_depth is not None and depth >= max_depth:
            return
        for child in _children(layer):
            child_path = f"{path}/{child.name}" if path else child.name
            yield from visit(child, child_path, depth + 1, (*ancestors, layer))

    yield from visit(model, "", 0, ())


def iter_layers(model, max_depth=None):
    """Yields `(path, depth, layer)` for every sublayer of `model`.

    Parents come before their children. Paths are names joined by `/`,
    relative to the model (a top-level layer's path is its name).

    Args:
        model: a `keras.Model` or layer.
        max_depth: int or None. Deepest level yielded; 1 is the top-level
            layers only. None (default) walks the whole tree.
    """
    for path, depth, layer, _ in _walk(model, max_depth):
        if depth > 0:
            yield path, depth, layer


def select_layers(model, layers):
    """Returns the `(path, layer)` pairs that a selector picks, parents first.

    Args:
        model: a `keras.Model`.
        layers: a path, layer name, glob pattern, int index into the top-level
            layers, or a list of those (see the module docstring).

    Raises:
        ValueError: if a selector matches no layer (the message lists the
            available paths) or has an unsupported type.
    """
    selectors = layers if isinstance(layers, (list, tuple)) else [layers]
    if not selectors:
        raise ValueError(
            "`layers` must select at least one layer. "
            f"Received: layers={layers!r}"
        )
    all_layers = list(iter_layers(model))
    top_level = [(p, layer) for p, d, layer in all_layers if d == 1]
    picked = {}
    for selector in selectors:
        matches = _match(selector, all_layers, top_level)
        for path, layer in matches:
            picked.setdefault(id(layer), (path, layer))
    # Walk order: parents before children, whatever the selector order.
    order = {id(layer): i for i, (_, _, layer) in enumerate(all_layers)}
    return sorted(picked.values(), key=lambda pair: order[id(pair[1])])


def _match(selector, all_layers, top_level):
    is_int = isinstance(selector, numbers.Integral)
    if isinstance(selector, bool) or not (is_int or isinstance(selector, str)):
        raise ValueError(
            "A layer selector must be a layer path or name (str), a glob "
            "pattern (str), an index into the top-level layers (int), or a "
            f"list of those. Received: {selector!r} "
            f"({type(selector).__name__})"
        )
    if is_int:
        selector = int(selector)
        if not -len(top_level) <= selector < len(top_level):
            names = ", ".join(f"{i}: {p}" for i, (p, _) in enumerate(top_level))
            raise ValueError(
                f"Layer index out of range: the model has {len(top_level)} "
                f"top-level layers ({names}). Received: layers={selector}"
            )
        return [top_level[selector]]
    exact = [(p, layer) for p, _, layer in all_layers if p == selector]
    if exact:
        return exact
    if any(c in selector for c in _GLOB_CHARS):
        matches = [
            (p, layer)
            for p, _, layer in all_layers
            if fnmatch.fnmatchcase(p, selector)
            or fnmatch.fnmatchcase(layer.name, selector)
        ]
    else:
        matches = [
            (p, layer) for p, _, layer in all_layers if layer.name == selector
        ]
    if not matches:
        available = ", ".join(p for p, _, _ in all_layers)
        raise ValueError(
            f"No layer matches {selector!r}. Available layers (paths): "
            f"{available}. Received: layers={selector!r}"
        )
    return matches


def freeze(model, layers=None):
    """Makes layers non-trainable (their weights become non-trainable).

    A frozen layer's sublayers are frozen with it, and frozen BatchNorm
    layers run in inference mode.

    Args:
        model: a `keras.Model`.
        layers: None for the whole model, or a selector: a path, name, glob
            pattern, top-level index, or a list of those.

    Returns:
        The paths of the selected layers (`[""]` for the whole model).
    """
    if layers is None:
        _set_everywhere(model, False)
        return [""]
    selected = select_layers(model, layers)
    for _, layer in selected:
        layer.trainable = False
    return [path for path, _ in selected]


def _set_everywhere(model, trainable):
    # Every layer, not the model alone: setting `model.trainable` to the
    # value its own flag already has does not reach sublayers whose flags
    # differ (Keras skips a set that changes nothing).
    model.trainable = trainable
    for _, _, layer, _ in _walk(model):
        layer.trainable = trainable


def unfreeze(model, layers=None):
    """Makes layers trainable, including under a frozen parent.

    A selected layer is unfrozen with all its sublayers. Each frozen ancestor
    of it is made trainable too (so `parent.trainable` and
    `parent.trainable_weights` tell the truth), and every other layer under
    that ancestor keeps the state it had: unfreezing
    `"feature_extractor/conv_1"` in a frozen extractor trains `conv_1` only.
    (Weights that an ancestor holds directly, outside any sublayer, become
    trainable with it.)

    Args:
        model: a `keras.Model`.
        layers: None for the whole model, or a selector: a path, name, glob
            pattern, top-level index, or a list of those.

    Returns:
        The paths of the selected layers (`[""]` for the whole model).
    """
    if layers is None:
        _set_everywhere(model, True)
        return [""]
    selected = select_layers(model, layers)
    nodes = list(_walk(model))
    wanted = {id(layer): layer.trainable for _, _, layer, _ in nodes}
    selected_ids = {id(layer) for _, layer in selected}
    for _, _, layer, ancestors in nodes:
        if id(layer) in selected_ids or any(
            id(a) in selected_ids for a in ancestors
        ):
            # The selected layer, its subtree and its ancestors all train.
            wanted[id(layer)] = True
            for ancestor in ancestors:
                wanted[id(ancestor)] = True
    # The `trainable` setter recurses into sublayers; going parents first,
    # each later assignment repairs what an ancestor's assignment overrode.
    for _, _, layer, _ in nodes:
        if layer.trainable != wanted[id(layer)]:
            layer.trainable = wanted[id(layer)]
    return [path for path, _ in selected]
