"""Parameter reports: trainable and frozen counts per layer and per block,
as tables, and one side-by-side comparison of several states."""

import dataclasses
import math

from kerasft.freezing.blocks import encoder_blocks
from kerasft.freezing.selection import _walk


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
    """The whole model's counts: for `parameter_report()` rows the model row
    if present, else the sum of the shallowest rows; for `block_report()`
    rows (blocks split the weights) their sum."""
    if rows and isinstance(rows[0], BlockRow):
        trainable = sum(r.trainable_params for r in rows)
        non_trainable = sum(r.non_trainable_params for r in rows)
        return BlockRow(
            block="total", depth=0, trainable_params=trainable,
            non_trainable_params=non_trainable,
            total_params=trainable + non_trainable,
            share_percent=sum(r.share_percent for r in rows), state="",
        )
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


def compare_reports(reports, key, first_columns, summary):
    """The side-by-side comparison behind both `compare_*_reports`.

    Args:
        reports: dict mapping a label to report rows (`ParameterRow` or
            `BlockRow`), one per state.
        key: callable. A row's identity across reports (path, block name);
            rows whose key is None are left out.
        first_columns: tuple `(header, align, cells)`: the header cells of
            the columns before the counts, their alignment ("<" / ">"), and
            a callable giving a row's cells.
        summary: callable. Maps `{label: rows}` to the last line.

    Returns:
        A text table: one line per key (first-seen order), a total
        trainable line and the summary line. A row missing from a report
        shows "-".
    """
    if not reports:
        raise ValueError(
            "`reports` must map at least one label to report rows. "
            "Received: reports={}"
        )
    header, align, cells = first_columns
    labels = list(reports)
    by_key = {
        label: {key(r): r for r in rows if key(r) is not None}
        for label, rows in reports.items()
    }
    order = {}  # key -> the first row seen with it
    for rows in reports.values():
        for r in rows:
            if key(r) is not None:
                order.setdefault(key(r), r)
    body = []
    for k, first in order.items():
        counts = []
        for label in labels:
            row = by_key[label].get(k)
            counts.append("-" if row is None else f"{row.trainable_params:,}")
        body.append([*cells(first), *counts])
    footer = [
        "total trainable",
        *([""] * (len(header) - 1)),
        *(f"{_totals(reports[label]).trainable_params:,}" for label in labels),
    ]
    table = _table(
        [*header, *(f"trainable: {label}" for label in labels)],
        body, footer, align + ">" * len(labels),
    )
    return f"{table}\n{summary(reports)}"


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
    def summary(reports):
        return "non-trainable: " + "  ".join(
            f"{label}: {_totals(rows).non_trainable_params:,}"
            for label, rows in reports.items()
        )

    return compare_reports(
        reports,
        key=lambda r: r.path if r.depth > 0 else None,
        first_columns=(
            ["layer"], "<", lambda r: ["  " * (r.depth - 1) + r.name]
        ),
        summary=summary,
    )


@dataclasses.dataclass(frozen=True)
class BlockRow:
    """Parameter counts of one block of an encoder model.

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
    head (see `encoder_blocks`); each weight counts once, in the first block
    that holds it.

    Args:
        model: a `keras.Model` holding an encoder backbone, or the backbone.

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
    blocks = encoder_blocks(model)
    model_total = _count(model.weights) or 1
    trained = {id(v) for v in model.trainable_weights}
    # Weights the model's forward pass never reads (a TextClassifier's
    # pooler under cls or mean pooling): "unused", not "frozen".
    unused = {id(v) for v in getattr(model, "unused_weights", [])}
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
        elif trainable:
            state = "trainable"
        elif weights and all(id(v) in unused for v in weights):
            state = "unused"
        else:
            state = "frozen"
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
    def summary(reports):
        shares = []
        for label, rows in reports.items():
            totals = _totals(rows)
            share = 100.0 * totals.trainable_params / (
                totals.total_params or 1
            )
            shares.append(f"{label}: {share:.1f}%")
        return "trainable share: " + "  ".join(shares)

    return compare_reports(
        reports,
        key=lambda r: r.block,
        first_columns=(
            ["block", "depth"], "<>", lambda r: [r.block, str(r.depth)]
        ),
        summary=summary,
    )
