"""Encoder models as blocks: embeddings, transformer layer i, pooler, head.

One block map for every keras-hub encoder family (`kerasft.presets.
encoder_parts` splits the backbone from its graph), and the block-level
freeze API on it.
"""

import dataclasses

from kerasft import presets
from kerasft.checks import check_int, is_int
from kerasft.freezing.selection import _children, _walk, freeze, unfreeze


def _is_backbone(layer):
    return isinstance(getattr(layer, "transformer_layers", None), list)


def find_backbone(model):
    """Returns `(path, backbone)`: the model's encoder backbone and its path
    from the model ("" when the model is the backbone itself).

    The backbone is the model itself, or the first sublayer (parents
    first) with a `transformer_layers` list: every keras-hub encoder.

    Raises:
        ValueError: if the model holds no such layer.
    """
    for path, _, layer, _ in _walk(model):
        if _is_backbone(layer):
            return path, layer
    raise ValueError(
        "The model has no encoder backbone (a layer with a "
        "`transformer_layers` list, such as keras_hub.models.BertBackbone "
        f"or RobertaBackbone). Received: model {model.name!r} of type "
        f"{type(model).__name__}"
    )


def _path_in_model(backbone_path, layer):
    return f"{backbone_path}/{layer.name}" if backbone_path else layer.name


def _set(model, paths, trainable):
    """freeze()/unfreeze() by exact paths; "" is the whole model."""
    if paths == [""]:
        return (unfreeze if trainable else freeze)(model)
    return (unfreeze if trainable else freeze)(model, list(paths))


def _embedding_paths(model):
    backbone_path, backbone = find_backbone(model)
    layers = presets.encoder_parts(backbone).embeddings
    if not layers:
        raise ValueError(
            "The backbone has no embedding layers with weights before its "
            f"transformer layers. Received: backbone {backbone.name!r} with "
            f"layers {[layer.name for layer in _children(backbone)]}"
        )
    return [_path_in_model(backbone_path, layer) for layer in layers]


def freeze_backbone(model):
    """Freezes the whole encoder backbone (embeddings, layers, pooler).

    Args:
        model: a `keras.Model` holding an encoder backbone (e.g. a
            `TextClassifier`), or the backbone itself.

    Returns:
        The paths of the frozen layers.
    """
    path, _ = find_backbone(model)
    return _set(model, [path], trainable=False)


def unfreeze_backbone(model):
    """Makes the whole encoder backbone trainable (see `freeze_backbone`)."""
    path, _ = find_backbone(model)
    return _set(model, [path], trainable=True)


def freeze_embeddings(model):
    """Freezes the token, position and segment embeddings and their norm.

    Args:
        model: a `keras.Model` holding an encoder backbone, or the backbone.

    Returns:
        The paths of the frozen layers.
    """
    return _set(model, _embedding_paths(model), trainable=False)


def unfreeze_embeddings(model):
    """Makes the embeddings trainable (see `freeze_embeddings`), also under
    a frozen backbone; its other layers keep their state."""
    return _set(model, _embedding_paths(model), trainable=True)


def transformer_blocks(model):
    """The backbone's transformer blocks, bottom to top: one `Block` per
    transformer layer (per layer group for ALBERT, whose repeats share
    weights). `freeze_transformer_layers` and the strategies count these."""
    return [b for b in encoder_blocks(model) if b.kind == "transformer"]


def transformer_layer_paths(model):
    """The paths of the backbone's transformer layers, bottom to top (all
    inner layers of each group for ALBERT)."""
    return [path for block in transformer_blocks(model)
            for path in block.paths]


def _check_index_list(indices, num_layers, argument):
    values = indices if isinstance(indices, (list, tuple, range)) else [
        indices
    ]
    if not values:
        raise ValueError(
            f"`{argument}` must name at least one transformer layer. "
            f"Received: {argument}={indices!r}"
        )
    picked = []
    for value in values:
        if not is_int(value):
            raise TypeError(
                f"`{argument}` must be an int or a list of ints (layer "
                "indices, negative from the top). Received: "
                f"{argument}={indices!r}"
            )
        if not -num_layers <= value < num_layers:
            raise ValueError(
                f"Transformer layer index {value} is out of range: the "
                f"backbone has {num_layers} transformer layers (indices 0 to "
                f"{num_layers - 1}, or -{num_layers} to -1). Received: "
                f"{argument}={indices!r}"
            )
        picked.append(int(value) % num_layers)
    return sorted(set(picked))


def _layer_indices(model, indices, count, count_name, count_is_kept):
    paths = [block.paths for block in transformer_blocks(model)]
    num_layers = len(paths)
    if indices is not None and count is not None:
        raise ValueError(
            f"Pass `indices` or `{count_name}`, not both. Received: "
            f"indices={indices!r}, {count_name}={count!r}"
        )
    if count is not None:
        count = check_int(
            count_name, count, 0, num_layers,
            why=f"the backbone has {num_layers} transformer layers",
        )
        picked = (
            range(num_layers - count) if count_is_kept
            else range(num_layers - count, num_layers)
        )
    elif indices is not None:
        picked = _check_index_list(indices, num_layers, "indices")
    else:
        picked = range(num_layers)
    return [path for i in picked for path in paths[i]]


def freeze_transformer_layers(model, indices=None, keep_top=None):
    """Freezes transformer layers by index, or all but the top ones.

    Layers other than the picked ones keep their state: `keep_top=2` freezes
    the bottom `n - 2` layers and leaves the top two as they are.

    Args:
        model: a `keras.Model` holding an encoder backbone, or the backbone.
        indices: int, list of ints or None. Layers to freeze; negative
            indices count from the top (-1 is the last layer). None with no
            `keep_top` freezes them all.
        keep_top: int or None. Freeze all but the top `keep_top` layers
            (0 to the number of layers).

    Returns:
        The paths of the frozen layers (possibly empty, e.g. `keep_top=n`).

    Raises:
        ValueError: for an index beyond the number of layers (it names both),
            or both `indices` and `keep_top`.

    Example:
    ```python
    freezing.freeze_embeddings(model)
    freezing.freeze_transformer_layers(model, keep_top=2)  # top 2 train
    ```
    """
    paths = _layer_indices(model, indices, keep_top, "keep_top", True)
    return _set(model, paths, trainable=False) if paths else []


def unfreeze_transformer_layers(model, indices=None, top=None):
    """Makes transformer layers trainable, by index or the top ones.

    Works under a frozen backbone, as the user means: the backbone becomes
    trainable, the picked layers train and its other layers (embeddings,
    lower layers, pooler) stay frozen.

    Args:
        model: a `keras.Model` holding an encoder backbone, or the backbone.
        indices: int, list of ints or None. Layers to unfreeze; negative
            indices count from the top. None with no `top` unfreezes all.
        top: int or None. Unfreeze the top `top` layers (0 to the number of
            layers).

    Returns:
        The paths of the unfrozen layers.

    Raises:
        ValueError: for an index beyond the number of layers (it names both),
            or both `indices` and `top`.

    Example:
    ```python
    freezing.freeze_backbone(model)
    freezing.unfreeze_transformer_layers(model, top=2)  # + the head
    ```
    """
    paths = _layer_indices(model, indices, top, "top", False)
    return _set(model, paths, trainable=True) if paths else []


@dataclasses.dataclass(frozen=True)
class Block:
    """A group of layers that fine-tuning treats as one unit.

    Attributes:
        name: str. `"embeddings"`, `"transformer_layer_<i>"`, `"pooler"`,
            `"head"` (all layers outside the backbone), or the name of
            another backbone layer with weights.
        depth: int. Position from the input: embeddings 0, transformer layer
            i is i + 1, then the pooler, then the head.
        paths: tuple of str. The paths of the layers in it.
        layers: tuple of `keras.layers.Layer`.
        kind: str. `"embeddings"`, `"transformer"`, `"pooler"` or `"head"`.
    """

    name: str
    depth: int
    paths: tuple
    layers: tuple
    kind: str = ""


def encoder_blocks(model):
    """Splits an encoder model (any keras-hub family) into blocks.

    The backbone's parts come from `kerasft.presets.encoder_parts`, one
    rule for every family.

    Returns:
        A list of `Block`, input to output: `"embeddings"`, each
        transformer layer (under its own name: `transformer_layer_3`,
        DeBERTa's `disentangled_attention_encoder_layer_3`, ALBERT's
        `group_0_inner_layer_0`, shared by all its layers), `"pooler"`
        where the family has one, then `"head"` (every layer outside the
        backbone that has weights; absent when the model is the backbone).
    """
    backbone_path, backbone = find_backbone(model)
    parts = presets.encoder_parts(backbone)

    def block(name, layers, kind):
        return (
            name,
            tuple(_path_in_model(backbone_path, la) for la in layers),
            tuple(layers),
            kind,
        )

    blocks = []
    if parts.embeddings:
        blocks.append(block("embeddings", parts.embeddings, "embeddings"))
    for name, layers in parts.transformer_blocks:
        blocks.append(block(name, layers, "transformer"))
    if parts.pooler:
        blocks.append(block("pooler", parts.pooler, "pooler"))
    # The head: every weight-holding layer outside the backbone. Only the
    # shallowest ones are listed (a parent stands for its children).
    head = []
    if backbone is not model:
        for path, _, layer, ancestors in _walk(model):
            if layer is model or layer is backbone or not layer.weights:
                continue
            inside = any(a is backbone for a in ancestors)
            listed = any(
                any(a is h for _, h in head) for a in ancestors
            )
            if not inside and not listed and not _holds(layer, backbone):
                head.append((path, layer))
    if head:
        blocks.append((
            "head", tuple(p for p, _ in head), tuple(la for _, la in head),
            "head",
        ))
    return [
        Block(name=name, depth=i, paths=paths, layers=layers, kind=kind)
        for i, (name, paths, layers, kind) in enumerate(blocks)
    ]


def _holds(layer, backbone):
    """True when `backbone` is nested inside `layer`."""
    return any(sub is backbone for _, _, sub, _ in _walk(layer))




# The name it had when only BERT was supported.
bert_blocks = encoder_blocks
