"""What trains: freeze/unfreeze layers by selector, and parameter reports.

Freezing works on Keras' `trainable` flag. Setting it on a layer sets it on
all its sublayers and their weights: a frozen parent freezes its children. A
frozen `BatchNormalization` runs in inference mode (moving statistics) even
when the model is called with `training=True`.

Setting `trainable = True` back on one child of a frozen parent is not enough:
Keras then trains the child's weights (they are in `model.trainable_weights`)
while `parent.trainable` stays False and `parent.trainable_weights` empty.
`unfreeze()` keeps the flags consistent: it makes the ancestors trainable and
leaves every other layer under them as it was.

Layers are addressed by their path from the model, names joined by `/`, e.g.
`"feature_extractor/conv_0"` or, in a `BertClassifier`,
`"bert_backbone/transformer_layer_3"` (the backbone layer's own name; Keras
numbers it `bert_backbone_1`, ... when several exist, so prefer the layer
name `"transformer_layer_3"` or a glob). A selector is one of, or a list of:

- a path or a layer name: `"head"`, `"feature_extractor/conv_0"`, `"conv_0"`
  (a name matches that layer wherever it is nested);
- a glob pattern matched (fnmatch) against paths and names:
  `"transformer_layer_*"`, `"feature_extractor/*"`;
- an int: an index into the model's top-level layers (negative from the end).

For BERT-style models (a keras-hub `BertBackbone`, alone or inside a model
such as `BertClassifier`) there are shortcuts: `freeze_backbone`,
`freeze_embeddings`, `freeze_transformer_layers(model, indices, keep_top)`
and their `unfreeze_*` twins, and `block_report` (embeddings, each
transformer layer, pooler, head) with `compare_block_reports`.

After changing what trains, a compiled train step must be rebuilt (the
kerasft Trainer notices; for `model.fit`, compile again).

Example:
```python
import kerasft
from kerasft import freezing

model = kerasft.models.ConvNetwork(filters=(8, 16), num_classes=5)
model.build((None, 8, 8, 1))
before = freezing.parameter_report(model)
freezing.freeze(model, "feature_extractor")
freezing.unfreeze(model, "feature_extractor/conv_1")  # fine-tune the top conv
print(freezing.compare_parameter_reports(
    {"before": before, "after": freezing.parameter_report(model)}
))
```
"""

import dataclasses
import fnmatch
import math
import numbers

import keras

_GLOB_CHARS = "*?["


# --- Walking the layer tree -------------------------------------------------


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


# --- Freezing ----------------------------------------------------------------


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


# --- Parameter reports -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ParameterRow:
    """Parameter counts of one layer (or of the whole model, at depth 0).

    Attributes:
        path: str. Path from the model, names joined by "/"; "" for the model.
        name: str. The layer's name.
        depth: int. 0 for the model, 1 for its top-level layers, ...
        class_name: str. The layer's class, e.g. "Dense".
        trainable_params: int. Scalars in the layer's weights that the model
            trains (that are in `model.trainable_weights`).
        non_trainable_params: int. Scalars in its other weights (a frozen
            layer's weights, BatchNorm moving statistics).
        total_params: int. The sum of both.
        share_percent: float. `total_params` as a % of the model's total.
        frozen: bool. True when the layer has `trainable=False` (or the
            whole model has).
    """

    path: str
    name: str
    depth: int
    class_name: str
    trainable_params: int
    non_trainable_params: int
    total_params: int
    share_percent: float
    frozen: bool


def _count(weights):
    return sum(math.prod(w.shape) for w in weights)


def parameter_report(model, max_depth=2):
    """Counts trainable and non-trainable parameters, per layer.

    Args:
        model: a built `keras.Model`.
        max_depth: int or None. Deepest level reported: 1 is the top-level
            layers, 2 also their sublayers (default), None everything.

    Returns:
        A list of `ParameterRow`, the model itself first (depth 0, path ""),
        then its layers, parents before children.

    Raises:
        ValueError: if the model is not built (it has no weights to count).
    """
    if not model.built:
        raise ValueError(
            "parameter_report() counts weights, so the model must be built "
            "first: call it on a batch or call `model.build(input_shape)`. "
            f"Received: model {model.name!r} that is not built"
        )
    model_total = _count(model.weights) or 1  # no division by zero
    # What the optimizer sees. Per layer, `layer.trainable_weights` can
    # disagree with it (a trainable child under a frozen parent).
    trained = {id(v) for v in model.trainable_weights}
    rows = []
    for path, depth, layer, _ in _walk(model, max_depth):
        trainable = _count(v for v in layer.weights if id(v) in trained)
        non_trainable = _count(v for v in layer.weights if id(v) not in trained)
        rows.append(
            ParameterRow(
                path=path,
                name=layer.name,
                depth=depth,
                class_name=layer.__class__.__name__,
                trainable_params=trainable,
                non_trainable_params=non_trainable,
                total_params=trainable + non_trainable,
                share_percent=100.0 * (trainable + non_trainable) / model_total,
                frozen=not (layer.trainable and model.trainable),
            )
        )
    return rows


def _totals(rows):
    """The model row if present, else the sum of the shallowest rows."""
    roots = [r for r in rows if r.depth == 0]
    if roots:
        return roots[0]
    top = min((r.depth for r in rows), default=0)
    tops = [r for r in rows if r.depth == top]
    trainable = sum(r.trainable_params for r in tops)
    non_trainable = sum(r.non_trainable_params for r in tops)
    return ParameterRow(
        path="",
        name="",
        depth=0,
        class_name="",
        trainable_params=trainable,
        non_trainable_params=non_trainable,
        total_params=trainable + non_trainable,
        share_percent=sum(r.share_percent for r in tops),
        frozen=all(r.frozen for r in tops),
    )


def _table(header, body, footer, align):
    """Lays out rows of strings; `align` is "<" or ">" per column."""
    widths = [
        max(len(row[i]) for row in [header, *body, footer])
        for i in range(len(header))
    ]

    def line(cells):
        return "  ".join(
            f"{cell:{a}{w}}" for cell, a, w in zip(cells, align, widths)
        ).rstrip()

    rule = "-" * len(line(["-" * w for w in widths]))
    return "\n".join(
        [line(header), rule, *(line(r) for r in body), rule, line(footer)]
    )


def format_parameter_report(rows):
    """Formats `parameter_report()` rows as a text table with a totals line.

    Nested layers are indented under their parent; a `*` marks frozen ones.
    """
    totals = _totals(rows)
    header = ["layer", "class", "trainable", "non-trainable", "total", "%"]
    body = []
    for row in rows:
        if row.depth == 0:
            continue
        mark = " *" if row.frozen else ""
        body.append(
            [
                "  " * (row.depth - 1) + row.name + mark,
                row.class_name,
                f"{row.trainable_params:,}",
                f"{row.non_trainable_params:,}",
                f"{row.total_params:,}",
                f"{row.share_percent:.1f}",
            ]
        )
    footer = [
        f"total ({totals.name})" if totals.name else "total",
        "",
        f"{totals.trainable_params:,}",
        f"{totals.non_trainable_params:,}",
        f"{totals.total_params:,}",
        f"{totals.share_percent:.1f}",
    ]
    table = _table(header, body, footer, "<<>>>>")
    return table + "\n(* frozen)" if any(r.frozen for r in rows) else table


def compare_parameter_reports(reports):
    """Side-by-side trainable parameter counts, one column per report.

    Args:
        reports: dict mapping a label (e.g. "before freeze") to the rows of
            `parameter_report()` taken in that state. Layers are matched by
            path; a layer missing from a report shows "-".

    Returns:
        A text table: one line per layer, a totals line, and the total
        non-trainable count per report.
    """
    if not reports:
        raise ValueError(
            "`reports` must map at least one label to report rows. "
            "Received: reports={}"
        )
    labels = list(reports)
    by_path = {
        label: {r.path: r for r in rows} for label, rows in reports.items()
    }
    order = {}  # path -> (depth, name), in first-seen order
    for rows in reports.values():
        for r in rows:
            if r.depth > 0:
                order.setdefault(r.path, (r.depth, r.name))
    header = ["layer", *(f"trainable: {label}" for label in labels)]
    body = []
    for path, (depth, name) in order.items():
        cells = []
        for label in labels:
            row = by_path[label].get(path)
            cells.append("-" if row is None else f"{row.trainable_params:,}")
        body.append(["  " * (depth - 1) + name, *cells])
    totals = {label: _totals(rows) for label, rows in reports.items()}
    footer = [
        "total trainable",
        *(f"{totals[label].trainable_params:,}" for label in labels),
    ]
    table = _table(header, body, footer, "<" + ">" * len(labels))
    non_trainable = "  ".join(
        f"{label}: {totals[label].non_trainable_params:,}" for label in labels
    )
    return f"{table}\nnon-trainable: {non_trainable}"


# --- BERT-style models --------------------------------------------------------
#
# A keras-hub BertBackbone is a Functional model whose top-level layers are
# token_embedding, position_embedding, segment_embedding, embeddings_add,
# embeddings_layer_norm, embeddings_dropout, transformer_layer_0 ... _{n-1}
# and pooled_dense. The functions below find it in a model (the model
# itself, `model.backbone`, or the first sublayer with `transformer_layers`)
# and freeze/unfreeze its parts with `freeze`/`unfreeze`, so the nesting
# rule is kept the same way.

EMBEDDING_LAYER_NAMES = (
    "token_embedding",
    "position_embedding",
    "segment_embedding",
    "embeddings_layer_norm",
)
POOLER_LAYER_NAME = "pooled_dense"


def _is_backbone(layer):
    return isinstance(getattr(layer, "transformer_layers", None), list)


def _find_backbone(model):
    """Returns `(path, backbone)`; path "" when the model is the backbone."""
    for path, _, layer, _ in _walk(model):
        if _is_backbone(layer):
            return path, layer
    raise ValueError(
        "The model has no BERT-style backbone (a layer with a "
        "`transformer_layers` list, such as keras_hub.models.BertBackbone). "
        f"Received: model {model.name!r} of type {type(model).__name__}"
    )


def _path_in_model(backbone_path, layer):
    return f"{backbone_path}/{layer.name}" if backbone_path else layer.name


def _set(model, paths, trainable):
    """freeze()/unfreeze() by exact paths; "" is the whole model."""
    if paths == [""]:
        return (unfreeze if trainable else freeze)(model)
    return (unfreeze if trainable else freeze)(model, list(paths))


def _embedding_paths(model):
    backbone_path, backbone = _find_backbone(model)
    children = {layer.name: layer for layer in _children(backbone)}
    paths = [
        _path_in_model(backbone_path, children[name])
        for name in EMBEDDING_LAYER_NAMES
        if name in children
    ]
    if not paths:
        raise ValueError(
            "The backbone has none of the embedding layers "
            f"{', '.join(EMBEDDING_LAYER_NAMES)}. Received: backbone "
            f"{backbone.name!r} with layers "
            f"{[layer.name for layer in _children(backbone)]}"
        )
    return paths


def freeze_backbone(model):
    """Freezes the whole BERT backbone (embeddings, layers, pooler).

    Args:
        model: a `keras.Model` holding a BERT-style backbone (e.g. a
            `BertClassifier`), or the backbone itself.

    Returns:
        The paths of the frozen layers.
    """
    path, _ = _find_backbone(model)
    return _set(model, [path], trainable=False)


def unfreeze_backbone(model):
    """Makes the whole BERT backbone trainable (see `freeze_backbone`)."""
    path, _ = _find_backbone(model)
    return _set(model, [path], trainable=True)


def freeze_embeddings(model):
    """Freezes the token, position and segment embeddings and their norm.

    Args:
        model: a `keras.Model` holding a BERT-style backbone, or the backbone.

    Returns:
        The paths of the frozen layers.
    """
    return _set(model, _embedding_paths(model), trainable=False)


def unfreeze_embeddings(model):
    """Makes the embeddings trainable (see `freeze_embeddings`), also under
    a frozen backbone; its other layers keep their state."""
    return _set(model, _embedding_paths(model), trainable=True)


def transformer_layer_paths(model):
    """The paths of the backbone's transformer layers, bottom to top."""
    backbone_path, backbone = _find_backbone(model)
    return [
        _path_in_model(backbone_path, layer)
        for layer in backbone.transformer_layers
    ]


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
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
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


def _check_count(value, num_layers, argument):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not 0 <= value <= num_layers
    ):
        raise ValueError(
            f"`{argument}` must be an int from 0 to {num_layers}: the "
            f"backbone has {num_layers} transformer layers. Received: "
            f"{argument}={value!r}"
        )
    return int(value)


def _layer_indices(model, indices, count, count_name, count_is_kept):
    paths = transformer_layer_paths(model)
    num_layers = len(paths)
    if indices is not None and count is not None:
        raise ValueError(
            f"Pass `indices` or `{count_name}`, not both. Received: "
            f"indices={indices!r}, {count_name}={count!r}"
        )
    if count is not None:
        count = _check_count(count, num_layers, count_name)
        picked = (
            range(num_layers - count) if count_is_kept
            else range(num_layers - count, num_layers)
        )
    elif indices is not None:
        picked = _check_index_list(indices, num_layers, "indices")
    else:
        picked = range(num_layers)
    return [paths[i] for i in picked]


def freeze_transformer_layers(model, indices=None, keep_top=None):
    """Freezes transformer layers by index, or all but the top ones.

    Layers other than the picked ones keep their state: `keep_top=2` freezes
    the bottom `n - 2` layers and leaves the top two as they are.

    Args:
        model: a `keras.Model` holding a BERT-style backbone, or the backbone.
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
        model: a `keras.Model` holding a BERT-style backbone, or the backbone.
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


# --- Per-block reports -------------------------------------------------------


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
    """

    name: str
    depth: int
    paths: tuple
    layers: tuple


def bert_blocks(model):
    """Splits a BERT model into blocks, input to output.

    Returns:
        A list of `Block`: embeddings, each transformer layer, the pooler,
        other backbone layers with weights, then `"head"` (every layer
        outside the backbone that has weights; absent when the model is the
        backbone itself).
    """
    backbone_path, backbone = _find_backbone(model)
    children = _children(backbone)
    by_name = {layer.name: layer for layer in children}

    def block(name, layers):
        return (
            name,
            tuple(_path_in_model(backbone_path, la) for la in layers),
            tuple(layers),
        )

    blocks = []
    embeddings = [by_name[n] for n in EMBEDDING_LAYER_NAMES if n in by_name]
    if embeddings:
        blocks.append(block("embeddings", embeddings))
    for layer in backbone.transformer_layers:
        blocks.append(block(layer.name, [layer]))
    if POOLER_LAYER_NAME in by_name:
        blocks.append(block("pooler", [by_name[POOLER_LAYER_NAME]]))
    placed = {id(la) for _, _, layers in blocks for la in layers}
    for layer in children:
        if id(layer) not in placed and layer.weights:
            blocks.append(block(layer.name, [layer]))
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
        blocks.append(
            ("head", tuple(p for p, _ in head), tuple(la for _, la in head))
        )
    return [
        Block(name=name, depth=i, paths=paths, layers=layers)
        for i, (name, paths, layers) in enumerate(blocks)
    ]


def _holds(layer, backbone):
    """True when `backbone` is nested inside `layer`."""
    return any(sub is backbone for _, _, sub, _ in _walk(layer))


@dataclasses.dataclass(frozen=True)
class BlockRow:
    """Parameter counts of one block of a BERT model.

    Attributes:
        block: str. The block's name (see `Block`).
        depth: int. Its position from the input (embeddings 0).
        trainable_params: int. Scalars the model trains (in
            `model.trainable_weights`).
        non_trainable_params: int. Its other scalars.
        total_params: int. The sum of both.
        share_percent: float. `total_params` as a % of the model's total.
        state: str. `"trainable"`, `"frozen"` or `"partial"`.
    """

    block: str
    depth: int
    trainable_params: int
    non_trainable_params: int
    total_params: int
    share_percent: float
    state: str


def block_report(model):
    """Counts trainable and non-trainable parameters per block.

    Blocks are the embeddings, each transformer layer, the pooler and the
    head (see `bert_blocks`); each weight counts once, in the first block
    that holds it.

    Args:
        model: a `keras.Model` holding a BERT-style backbone, or the backbone.

    Returns:
        A list of `BlockRow`, input to output.

    Example:
    ```python
    reports = {"full": freezing.block_report(model)}
    freezing.freeze_backbone(model)
    freezing.unfreeze_transformer_layers(model, top=2)
    reports["top-2"] = freezing.block_report(model)
    print(freezing.compare_block_reports(reports))
    ```
    """
    blocks = bert_blocks(model)
    model_total = _count(model.weights) or 1
    trained = {id(v) for v in model.trainable_weights}
    seen = set()
    rows = []
    for block in blocks:
        weights = []
        for layer in block.layers:
            for variable in layer.weights:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    weights.append(variable)
        trainable = _count(v for v in weights if id(v) in trained)
        non_trainable = _count(v for v in weights if id(v) not in trained)
        if trainable and non_trainable:
            state = "partial"
        else:
            state = "trainable" if trainable else "frozen"
        rows.append(
            BlockRow(
                block=block.name,
                depth=block.depth,
                trainable_params=trainable,
                non_trainable_params=non_trainable,
                total_params=trainable + non_trainable,
                share_percent=100.0 * (trainable + non_trainable)
                / model_total,
                state=state,
            )
        )
    return rows


def format_block_report(rows):
    """Formats `block_report()` rows as a text table with a totals line."""
    header = ["block", "depth", "trainable", "non-trainable", "total", "%",
              "state"]
    body = [
        [
            r.block,
            str(r.depth),
            f"{r.trainable_params:,}",
            f"{r.non_trainable_params:,}",
            f"{r.total_params:,}",
            f"{r.share_percent:.1f}",
            r.state,
        ]
        for r in rows
    ]
    footer = [
        "total",
        "",
        f"{sum(r.trainable_params for r in rows):,}",
        f"{sum(r.non_trainable_params for r in rows):,}",
        f"{sum(r.total_params for r in rows):,}",
        f"{sum(r.share_percent for r in rows):.1f}",
        "",
    ]
    return _table(header, body, footer, "<>>>>><")


def compare_block_reports(reports):
    """Side-by-side trainable parameters per block, one column per state.

    Args:
        reports: dict mapping a label (e.g. "head only", "top-2", "full") to
            the rows of `block_report()` taken in that state. Blocks are
            matched by name; a block missing from a report shows "-".

    Returns:
        A text table: one line per block, a total trainable line, and the
        trainable share of each state.
    """
    if not reports:
        raise ValueError(
            "`reports` must map at least one label to block_report() rows. "
            "Received: reports={}"
        )
    labels = list(reports)
    by_block = {
        label: {r.block: r for r in rows} for label, rows in reports.items()
    }
    order = {}
    for rows in reports.values():
        for r in rows:
            order.setdefault(r.block, r.depth)
    header = ["block", "depth", *(f"trainable: {label}" for label in labels)]
    body = []
    for name, depth in order.items():
        cells = []
        for label in labels:
            row = by_block[label].get(name)
            cells.append("-" if row is None else f"{row.trainable_params:,}")
        body.append([name, str(depth), *cells])
    totals = {
        label: (
            sum(r.trainable_params for r in rows),
            sum(r.total_params for r in rows),
        )
        for label, rows in reports.items()
    }
    footer = [
        "total trainable",
        "",
        *(f"{totals[label][0]:,}" for label in labels),
    ]
    table = _table(header, body, footer, "<>" + ">" * len(labels))
    shares = "  ".join(
        f"{label}: {100.0 * trained / (total or 1):.1f}%"
        for label, (trained, total) in totals.items()
    )
    return f"{table}\ntrainable share: {shares}"
