"""Reads the user's own text data sets: CSV, TSV and JSON Lines files.

One row per example: a text column, optionally a second text (sentence
pairs) and a label column. `read_text_file` returns the raw strings with the
file line of every row; `load_text_file` encodes the labels with a
`LabelMap` (the splits of several files: `text_file_splits`). The results go
straight into `make_text_dataset`.

Three tasks: `"classification"`, one label per row (class ids);
`"multi_label"`, several labels per row, `"joy,love"` or ids `"17,18"`
(multi-hot rows); `"regression"`, one number per row, or several
(float targets).

Only the standard library reads the files (`csv`, `json`, `gzip`), row by
row; errors name the file, the line and the column.
"""

import contextlib
import csv
import dataclasses
import gzip
import html
import json
import math
import re
from pathlib import Path

import numpy as np

from kerasft.checks import (
    check_bool,
    check_choice,
    check_int,
    check_optional_int,
    check_path,
    is_int,
    is_real,
)
from kerasft.data.label_map import LabelMap

FILE_FORMATS = ("csv", "tsv", "jsonl")
# What the label column holds: one class, several classes, numbers.
TASKS = ("classification", "multi_label", "regression")
# How labels are written: names ("joy") or ids into the names ("17").
LABEL_FORMATS = ("names", "ids")
# File name endings (before an optional ".gz") and the format they mean.
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
}
DEFAULT_DELIMITERS = {"csv": ",", "tsv": "\t"}
_GZIP_MAGIC = b"\x1f\x8b"
# <br>, <br/>, <br />, <BR  />: the line breaks of scraped reviews (IMDB).
_HTML_LINE_BREAK = re.compile(r"<br\s*/?\s*>", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class TextTable:
    """The rows of a text file, as read: one entry per row.

    Attributes:
        texts: list of str. The text column.
        text_pairs: list of str or None. The second text of each pair, or
            None without `text_pair_column`.
        labels: list or None. The label of each row, or None without
            `label_column`, as `task` reads it: for `"classification"` a
            str (stripped of surrounding spaces; a JSON integer becomes its
            digits); for `"multi_label"` a tuple of str, the row's labels
            (empty for none); for `"regression"` a tuple of `num_outputs`
            floats.
        path: `Path`. The file read.
        line_numbers: list of int. The file line (1-based) where each row
            starts, for error messages.
        task: str. The task the labels were read for. Defaults to
            `"classification"`.
    """

    texts: list
    text_pairs: list | None
    labels: list | None
    path: Path
    line_numbers: list
    task: str = "classification"

    def __len__(self):
        return len(self.texts)


def read_text_file(
    path,
    text_column,
    label_column=None,
    text_pair_column=None,
    file_format=None,
    delimiter=None,
    clean_html=False,
    max_rows=None,
    task="classification",
    label_separator=",",
    num_outputs=1,
    quoting=None,
    column_names=None,
    allow_extra_fields=False,
):
    """Reads the text (and label) columns of a CSV, TSV or JSON Lines file.

    CSV and TSV files need a header line naming the columns (spaces around
    the names are ignored), or `column_names` for a file without one; JSON
    Lines files hold one JSON object per line, the columns being its keys.
    CSV uses normal quoting (`"a, b"`, `""` for a quote); TSV uses none
    (`csv.QUOTE_NONE`), as in GLUE files whose sentences hold unbalanced
    `"`: a field cannot contain a tab or newline (`quoting` changes either).
    gzip-compressed files are read as such whatever their name. Text is
    decoded as UTF-8 (a leading byte-order mark is dropped, undecodable
    bytes are replaced). Blank lines are skipped.

    Every row needs a non-empty text (and pair text, when that column is
    asked for); a bad row raises a `ValueError` naming the file, the line
    and the column. The label column is read by `task`:

    - `"classification"`: one label per row, required.
    - `"multi_label"`: the row's labels separated by `label_separator`
      (`"joy,love"`, or ids `"17,18"`), spaces around each ignored; an
      empty cell means no label. In JSON Lines also a list (`["joy"]`,
      `[17, 18]`) or null.
    - `"regression"`: `num_outputs` numbers separated by `label_separator`
      (`"3.8"`, or `"0.5,1.2"` for two); in JSON Lines also a number or a
      list of numbers. Anything else (`"n/a"`, `"nan"`, a missing value)
      is an error naming the file, line, column and value.

    Args:
        path: str or path-like. The file.
        text_column: str. The column holding the text.
        label_column: str or None. The column holding the label. Defaults to
            None (no labels, e.g. for prediction).
        text_pair_column: str or None. The column holding the second text of
            a sentence pair. Defaults to None.
        file_format: str or None. `"csv"`, `"tsv"` or `"jsonl"`. Defaults to
            None: from the file name, `.csv`, `.tsv`, `.jsonl` (also `.json`
            and `.ndjson`, read as JSON Lines), each optionally `.gz`.
        delimiter: str or None. The one-character field separator of a CSV
            or TSV file. Defaults to `","` for CSV and a tab for TSV.
        clean_html: bool. Replace HTML line breaks (`<br />`, `<br>`, any
            case) by a space and unescape entities (`&amp;` -> `&`) in the
            texts. Defaults to `False` (the text as in the file).
        max_rows: int or None. Read at most this many rows. Defaults to None
            (all).
        task: str. `"classification"`, `"multi_label"` or `"regression"`:
            what the label column holds (above). Defaults to
            `"classification"`.
        label_separator: str. Separates the labels of a `"multi_label"`
            cell and the numbers of a `"regression"` one (in a CSV file
            such a cell is quoted, `"2,3"`). Defaults to `","`.
        num_outputs: int. The numbers per row for `"regression"`. Defaults
            to `1`.
        quoting: bool or None. Whether `"` quotes fields of a CSV or TSV
            file: True for a TSV file with CSV-quoted texts (GoEmotions),
            False to read every `"` as text (a CSV file with unbalanced
            quotes). Defaults to None: True for CSV, False for TSV.
        column_names: list of str or None. The names of the columns of a CSV
            or TSV file without a header line, in order; its first line is
            then a row. Defaults to None (the first line is the header).
        allow_extra_fields: bool. Let rows of a CSV or TSV file have more
            fields than there are columns, the extra ones (at the end)
            ignored, for files whose last fields are optional. Defaults to
            `False` (a row of another width is an error).

    Returns:
        A `TextTable`.

    Example:
    ```python
    import pathlib

    pathlib.Path("reviews.csv").write_text(
        'label,review\\npos,"A fine film, <br />really."\\nneg,Dull.\\n'
    )
    table = read_text_file("reviews.csv", "review", "label",
                           clean_html=True)
    table.texts, table.labels  # ['A fine film,  really.', 'Dull.'], [...]
    table.line_numbers  # [2, 3]

    pathlib.Path("tags.tsv").write_text("a fine film\\t2,3\\ndull\\t\\n")
    table = read_text_file("tags.tsv", "text", "tags", task="multi_label",
                           column_names=["text", "tags"])
    table.labels  # [('2', '3'), ()]
    ```
    """
    path = check_path("path", path)
    _check_column("text_column", text_column)
    for name, column in (
        ("label_column", label_column),
        ("text_pair_column", text_pair_column),
    ):
        if column is not None:
            _check_column(name, column)
    _check_distinct_columns(text_column=text_column,
                            text_pair_column=text_pair_column,
                            label_column=label_column)
    file_format = _file_format(path, file_format)
    delimiter = _delimiter(file_format, delimiter)
    check_bool("clean_html", clean_html)
    max_rows = check_optional_int("max_rows", max_rows)
    task = check_choice("task", task, TASKS)
    label_separator = _label_separator(label_separator)
    num_outputs = check_int("num_outputs", num_outputs)
    if num_outputs != 1 and task != "regression":
        raise ValueError(
            "`num_outputs` is the numbers per row of task='regression'. "
            f"Received: num_outputs={num_outputs!r}, task={task!r}"
        )
    quoting = _quoting(file_format, quoting)
    column_names = _column_names(file_format, column_names)
    check_bool("allow_extra_fields", allow_extra_fields)
    if allow_extra_fields and file_format == "jsonl":
        raise ValueError(
            "`allow_extra_fields` applies to CSV and TSV files only (JSON "
            "objects may always hold other keys). Received: "
            "allow_extra_fields=True, file_format='jsonl'"
        )

    columns = {"text": text_column, "pair": text_pair_column,
               "label": label_column}
    columns = {key: column for key, column in columns.items() if column}
    rows = (
        _json_rows(path, columns) if file_format == "jsonl"
        else _delimited_rows(
            path, columns, file_format, delimiter, quoting, column_names,
            allow_extra_fields,
        )
    )
    texts, pairs, labels, line_numbers = [], [], [], []
    # closing(): the file closes at `max_rows` or on an error, not at GC.
    with contextlib.closing(rows):
        for line, row in rows:
            texts.append(
                _row_text(path, line, text_column, row["text"], clean_html)
            )
            if text_pair_column:
                pairs.append(_row_text(
                    path, line, text_pair_column, row["pair"], clean_html
                ))
            if label_column:
                where = _where(path, line, label_column)
                labels.append(_row_label(
                    where, row["label"], task, label_separator, num_outputs
                ))
            line_numbers.append(line)
            if len(texts) == max_rows:
                break
    if not texts:
        raise ValueError(
            f"'{path}' holds no rows (expected at least one example). "
            f"Received: path='{path}'"
        )
    return TextTable(
        texts=texts,
        text_pairs=pairs if text_pair_column else None,
        labels=labels if label_column else None,
        path=path,
        line_numbers=line_numbers,
        task=task,
    )


def load_text_file(
    path,
    text_column,
    label_column,
    text_pair_column=None,
    label_map=None,
    file_format=None,
    delimiter=None,
    clean_html=False,
    max_rows=None,
    task="classification",
    label_format="names",
    label_separator=",",
    num_outputs=1,
    quoting=None,
    column_names=None,
    allow_extra_fields=False,
):
    """Loads a text file as texts and targets, ready for training.

    The targets by `task`: class ids (`"classification"`), multi-hot rows
    (`"multi_label"`) or numbers (`"regression"`). Class labels are written
    as names (`label_format="names"`, the default: `"joy"`; the map is the
    file's own unless `label_map` is given) or as ids into the names of a
    given `label_map` (`label_format="ids"`: `"17"` is
    `label_map.names[17]`, as in GoEmotions). The format is never guessed,
    so labels such as `"1"` / `"2"` cannot be misread: as names they are
    just names. A name the map lacks, an id that is not an int in
    `[0, len(label_map))`, is an error naming the file, line and column.

    Args:
        path: str or path-like. A CSV, TSV or JSON Lines file (see
            `read_text_file`).
        text_column: str. The column holding the text.
        label_column: str. The column holding the label(s) or number(s).
        text_pair_column: str or None. The column holding the second text of
            a sentence pair. Defaults to None.
        label_map: `LabelMap` or None. Encodes the labels of a
            classification or multi-label file (e.g.
            `LabelMap.from_file("emotions.txt")`). Defaults to None: the map
            of the file's own labels (`from_labels`), for names only.
        file_format, delimiter, clean_html, max_rows: see `read_text_file`.
        task: str. `"classification"`, `"multi_label"` or `"regression"`
            (see `read_text_file`). Defaults to `"classification"`.
        label_format: str. `"names"` or `"ids"` (above); for the class
            tasks. Defaults to `"names"`.
        label_separator, num_outputs, quoting, column_names,
            allow_extra_fields: see `read_text_file`.

    Returns:
        A tuple `(texts, labels, label_map)`: texts a list of str, or a
        `(first, second)` tuple of lists with `text_pair_column`; labels an
        int64 array `(N,)` of class ids (classification), a float32 array
        `(N, len(label_map))` of 0/1 (multi-label), or a float32 array
        `(N,)`, `(N, num_outputs)` when above 1 (regression); the
        `LabelMap` used, None for regression.

    Example:
    ```python
    import pathlib

    pathlib.Path("pairs.tsv").write_text(
        "sentence1\\tsentence2\\tlabel\\n"
        "A man eats.\\tA man is eating.\\tyes\\n"
    )
    texts, labels, label_map = load_text_file(
        "pairs.tsv", "sentence1", "label", text_pair_column="sentence2"
    )
    texts  # (['A man eats.'], ['A man is eating.'])
    labels, label_map.names  # array([0]), ('yes',)

    pathlib.Path("emotions.txt").write_text("anger\\njoy\\nlove\\n")
    pathlib.Path("tags.tsv").write_text("text\\ttags\\nyay\\t1,2\\nhm\\t\\n")
    texts, labels, label_map = load_text_file(
        "tags.tsv", "text", "tags", task="multi_label",
        label_map=LabelMap.from_file("emotions.txt"), label_format="ids",
    )
    labels  # [[0., 1., 1.], [0., 0., 0.]], float32
    ```
    """
    if label_column is None:
        raise ValueError(
            "`label_column` is required to load labels (use `read_text_file` "
            "for texts alone). Received: label_column=None"
        )
    task = check_choice("task", task, TASKS)
    label_format = check_choice("label_format", label_format, LABEL_FORMATS)
    if label_map is not None and not isinstance(label_map, LabelMap):
        raise TypeError(
            "`label_map` must be a LabelMap or None. Received: label_map of "
            f"type {type(label_map).__name__}"
        )
    if task == "regression" and (
        label_map is not None or label_format != "names"
    ):
        raise ValueError(
            "`label_map` and `label_format` are for class labels; "
            "task='regression' reads numbers. Received: label_map="
            f"{label_map!r}, label_format={label_format!r}"
        )
    if label_format == "ids" and label_map is None:
        raise ValueError(
            "label_format='ids' reads each label as an id into the names of "
            "`label_map`: pass it (e.g. LabelMap.from_file('labels.txt')). "
            "Received: label_map=None"
        )
    table = read_text_file(
        path,
        text_column,
        label_column=label_column,
        text_pair_column=text_pair_column,
        file_format=file_format,
        delimiter=delimiter,
        clean_html=clean_html,
        max_rows=max_rows,
        task=task,
        label_separator=label_separator,
        num_outputs=num_outputs,
        quoting=quoting,
        column_names=column_names,
        allow_extra_fields=allow_extra_fields,
    )
    labels, label_map = _encode_labels(
        table, label_column, label_map, from_ids=label_format == "ids"
    )
    return _texts(table), labels, label_map


def _encode_labels(table, column, label_map, from_ids):
    """The `(labels, label_map)` of a table's labels (see load_text_file)."""
    if table.task == "regression":
        targets = np.array(table.labels, dtype=np.float32)  # (N, outputs)
        return (targets[:, 0] if targets.shape[1] == 1 else targets), None
    if label_map is None:
        names = (
            table.labels if table.task == "classification"
            else [label for row in table.labels for label in row]
        )
        if not names:
            raise ValueError(
                f"'{table.path}', column '{column}': no row has a label, so "
                "there are no label names to learn; pass `label_map`. "
                f"Received: {len(table)} rows, every label cell empty"
            )
        label_map = LabelMap.from_labels(names)

    def source(index):
        return _where(table.path, table.line_numbers[index], column)

    encode = (
        label_map.encode if table.task == "classification"
        else label_map.encode_multi_hot
    )
    return encode(table.labels, source=source, from_ids=from_ids), label_map


def _row_text(path, line, column, text, clean_html):
    cleaned = _clean_html(text) if clean_html else text
    if not cleaned.strip():
        raise ValueError(
            f"{_where(path, line, column)}: the text is empty (every row "
            f"needs one). Received: {text!r}"
        )
    return cleaned


def _row_label(where, value, task, separator, num_outputs):
    """One row's label cell as `task` reads it (see `TextTable.labels`).

    `value` is a str, or for JSON Lines any JSON value (None for null).
    """
    if task == "multi_label":
        return _multi_label(where, value, separator)
    if task == "regression":
        return _regression_label(where, value, separator, num_outputs)
    if value is None:
        value = ""  # null: missing
    elif isinstance(value, bool):
        value = json.dumps(value)  # as written: "true" / "false"
    elif is_int(value):
        value = str(value)
    elif not isinstance(value, str):
        raise ValueError(
            f"{where}: expected a string or an integer. Received: "
            f"{json.dumps(value)[:200]}"
        )
    # Spaces around a label ("pos " in "text, pos ") are never meant.
    if not value.strip():
        raise ValueError(
            f"{where}: the label is missing (every row needs one). "
            f"Received: {value!r}"
        )
    return value.strip()


def _multi_label(where, value, separator):
    """A multi-label cell -> a tuple of label strings, () for none."""
    if value is None:
        return ()  # JSON null, like an empty cell: no label
    if is_int(value):
        return (str(value),)
    if isinstance(value, list):
        labels = [
            item.strip() if isinstance(item, str)
            else str(item) if is_int(item)
            else ""
            for item in value
        ]
        if not all(labels):
            raise ValueError(
                f"{where}: expected a list of labels (non-empty strings or "
                f"integers). Received: {json.dumps(value)[:200]}"
            )
        return tuple(labels)
    if not isinstance(value, str):
        raise ValueError(
            f"{where}: expected labels as a string, an integer or a list. "
            f"Received: {json.dumps(value)[:200]}"
        )
    if not value.strip():
        return ()  # an empty cell: no label, allowed
    labels = tuple(label.strip() for label in value.split(separator))
    if not all(labels):
        raise ValueError(
            f"{where}: an empty label between separators (labels are "
            f"separated by {separator!r}; an empty cell means no label). "
            f"Received: {value!r}"
        )
    return labels


def _regression_label(where, value, separator, num_outputs):
    """A regression cell -> a tuple of `num_outputs` finite floats."""
    expected = (
        "a number" if num_outputs == 1
        else f"{num_outputs} numbers separated by {separator!r}"
    )
    received = repr(value) if isinstance(value, str) else json.dumps(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(
            f"{where}: the label is missing (every row needs {expected}). "
            f"Received: {received}"
        )
    if isinstance(value, str):
        pieces = [piece.strip() for piece in value.split(separator)]
    elif is_real(value):
        pieces = [value]  # a JSON number
    elif isinstance(value, list) and all(is_real(v) for v in value):
        pieces = value
    else:
        raise ValueError(
            f"{where}: expected {expected} (in JSON, a number or a list of "
            f"numbers). Received: {received[:200]}"
        )
    numbers = []
    for piece in pieces:
        try:
            number = float(piece)
        except (ValueError, OverflowError):  # "n/a"; a 400-digit JSON int
            number = None
        if number is None or not math.isfinite(number):
            # NaN or inf would turn every loss and metric into NaN.
            kind = "a number" if number is None else "a finite number"
            raise ValueError(
                f"{where}: {piece!r} is not {kind} (task='regression' needs "
                f"{expected}). Received: {received[:200]}"
            )
        numbers.append(number)
    if len(numbers) != num_outputs:
        raise ValueError(
            f"{where}: {len(numbers)} value{'' if len(numbers) == 1 else 's'}"
            f", but num_outputs={num_outputs} "
            f"(expected {expected}). Received: {received[:200]}"
        )
    return tuple(numbers)


def _check_column(name, column):
    if not isinstance(column, str) or not column.strip():
        raise TypeError(
            f"`{name}` must be a column name (a non-empty str). Received: "
            f"{name}={column!r}"
        )


def _check_distinct_columns(**columns):
    """Raises if two of the text, pair and label columns are one column."""
    given = [(name, column) for name, column in columns.items()
             if column is not None]
    for i, (name, column) in enumerate(given):
        for other, other_column in given[i + 1:]:
            if column == other_column:
                raise ValueError(
                    f"`{name}` and `{other}` must be different columns (a "
                    "model would read its labels from its inputs). "
                    f"Received: {name}={column!r}, {other}={other_column!r}"
                )


def _file_format(path, file_format):
    if file_format is not None:
        return check_choice("file_format", file_format, FILE_FORMATS)
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffixes[-1]]
    endings = ", ".join(SUFFIX_FORMATS)
    raise ValueError(
        f"Cannot tell the format of '{path}' from its name (known endings: "
        f"{endings}, each optionally .gz); pass `file_format`. Received: "
        f"path='{path}', file_format=None"
    )


def _delimiter(file_format, delimiter):
    if delimiter is None:
        return DEFAULT_DELIMITERS.get(file_format)
    if file_format == "jsonl":
        raise ValueError(
            "`delimiter` applies to CSV and TSV files only. Received: "
            f"delimiter={delimiter!r}, file_format='jsonl'"
        )
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(
            "`delimiter` must be a single character. Received: "
            f"delimiter={delimiter!r}"
        )
    return delimiter


def _label_separator(separator):
    if not isinstance(separator, str) or not separator:
        raise ValueError(
            "`label_separator` must be a non-empty str (it separates the "
            "labels, or numbers, of one cell). Received: "
            f"label_separator={separator!r}"
        )
    return separator


def _quoting(file_format, quoting):
    """The `csv` quoting mode of a CSV / TSV file (None for JSON Lines)."""
    if quoting is not None and not isinstance(quoting, bool):
        raise TypeError(
            "`quoting` must be True (`\"` quotes fields), False (`\"` is "
            "text) or None (the format's default). Received: "
            f"quoting={quoting!r} of type {type(quoting).__name__}"
        )
    if file_format == "jsonl":
        if quoting is not None:
            raise ValueError(
                "`quoting` applies to CSV and TSV files only. Received: "
                f"quoting={quoting!r}, file_format='jsonl'"
            )
        return None
    if quoting is None:
        quoting = file_format == "csv"
    return csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE


def _column_names(file_format, column_names):
    if column_names is None:
        return None
    if file_format == "jsonl":
        raise ValueError(
            "`column_names` applies to CSV and TSV files only (a JSON object "
            "names its fields). Received: column_names=..., "
            "file_format='jsonl'"
        )
    if isinstance(column_names, (str, bytes)) or not hasattr(
        column_names, "__iter__"
    ):
        raise TypeError(
            "`column_names` must be a list of str, one per column. "
            f"Received: column_names={column_names!r}"
        )
    names = list(column_names)
    if not names or not all(
        isinstance(name, str) and name.strip() for name in names
    ):
        raise TypeError(
            "`column_names` must be a non-empty list of non-empty str. "
            f"Received: column_names={column_names!r}"
        )
    if len(set(names)) != len(names):
        raise ValueError(
            "`column_names` must be unique. Received: "
            f"column_names={column_names!r}"
        )
    return names


def _open(path):
    """Opens `path` as UTF-8 text, through gzip when it is compressed."""
    with open(path, "rb") as file:
        is_gzip = file.read(2) == _GZIP_MAGIC
    # utf-8-sig drops the byte-order mark spreadsheet exports start with
    # (it would glue onto the first column's name); newline="" leaves line
    # endings to the csv module, which needs them inside quoted fields.
    options = dict(encoding="utf-8-sig", errors="replace", newline="")
    if is_gzip:
        return gzip.open(path, "rt", **options)
    return open(path, **options)


def _delimited_rows(
    path, columns, file_format, delimiter, quoting, column_names,
    allow_extra_fields,
):
    """Yields `(line_number, {key: field})` for each row of a CSV / TSV."""
    # Unquoted, a delimiter in a text splits the row: say so when counts
    # differ.
    hint = ""
    if quoting == csv.QUOTE_NONE:
        shown = "tab" if delimiter == "\t" else repr(delimiter)
        hint = f" (a {shown} inside a field?)"
    with _open(path) as file:
        reader = csv.reader(file, delimiter=delimiter, quoting=quoting)
        try:
            if column_names is None:
                header = next((row for row in reader if row), None)
                if header is None:
                    raise ValueError(
                        f"'{path}' is empty: it needs a header line naming "
                        f"the columns, then rows. Received: path='{path}'"
                    )
                header_line = reader.line_num
                header = [name.strip() for name in header]
            else:
                header, header_line = column_names, 0  # every line a row
            positions = {
                key: _header_position(
                    path, header_line, header, column,
                    named_by_argument=column_names is not None,
                )
                for key, column in columns.items()
            }
            described = (
                "the header has" if column_names is None
                else "`column_names` has"
            )
            at_least = " (rows need at least that many)" if (
                allow_extra_fields
            ) else ""
            line_number = header_line + 1
            for fields in reader:
                # A quoted CSV field may span lines: a row starts where the
                # previous one ended.
                start, line_number = line_number, reader.line_num + 1
                if not fields:
                    continue  # a blank line
                if len(fields) != len(header) and not (
                    allow_extra_fields and len(fields) > len(header)
                ):
                    raise ValueError(
                        f"{_where(path, start)}: {len(fields)} fields, but "
                        f"{described} {len(header)} ({', '.join(header)})"
                        f"{at_least}{hint}. Received: "
                        f"{delimiter.join(fields)[:200]!r}"
                    )
                yield start, {key: fields[i] for key, i in positions.items()}
        except csv.Error as error:
            # e.g. a field over csv.field_size_limit(), a NUL byte.
            raise ValueError(
                f"{_where(path, reader.line_num)}: not valid "
                f"{file_format.upper()} ({error}). Received: path='{path}'"
            ) from None


def _header_position(path, line_number, header, column,
                     named_by_argument=False):
    count = header.count(column)
    if count != 1 and named_by_argument:
        # The names are unique (checked): the column is not among them.
        raise ValueError(
            f"'{path}', column '{column}': `column_names` has no "
            f"'{column}'; its names are "
            f"{', '.join(repr(h) for h in header)}. Received: "
            f"column='{column}'"
        )
    if count != 1:
        problem = "no" if count == 0 else f"{count} columns named"
        raise ValueError(
            f"{_where(path, line_number, column)}: the header has {problem} "
            f"'{column}'"
            f"; its columns are {', '.join(repr(h) for h in header)}. "
            f"Received: column='{column}'"
        )
    return header.index(column)


def _json_rows(path, columns):
    """Yields `(line_number, {key: field})` for each object of a JSONL."""
    with _open(path) as file:
        for line_number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{_where(path, line_number)}: not valid JSON ({error}). "
                    f"Received: {line.strip()[:200]!r}"
                ) from None
            if not isinstance(record, dict):
                raise ValueError(
                    f"{_where(path, line_number)}: expected a JSON object "
                    f"(one row per line). Received: a "
                    f"{type(record).__name__}, {line.strip()[:200]!r}"
                )
            yield line_number, {
                key: _json_field(path, line_number, record, column, key)
                for key, column in columns.items()
            }


def _json_field(path, line_number, record, column, key):
    where = _where(path, line_number, column)
    if column not in record:
        keys = ", ".join(repr(k) for k in record)
        raise ValueError(
            f"{where}: the object has no key '{column}'; its keys are "
            f"{keys or 'none'}. Received: column='{column}'"
        )
    value = record[column]
    if key == "label":
        return value  # any JSON value: `_row_label` reads it by task
    if value is None:
        return ""  # null: missing, reported as such by the caller
    if isinstance(value, str):
        return value
    raise ValueError(
        f"{where}: expected a string. Received: {json.dumps(value)[:200]}"
    )


def _where(path, line_number, column=None):
    """`'path' line 17, column 'label'`: where a problem is, for messages."""
    where = f"'{path}' line {line_number}"
    return where if column is None else f"{where}, column '{column}'"


def _clean_html(text):
    return html.unescape(_HTML_LINE_BREAK.sub(" ", text))


def _texts(table):
    if table.text_pairs is None:
        return table.texts
    return table.texts, table.text_pairs
