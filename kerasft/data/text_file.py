"""Reads the user's own text data sets: CSV, TSV and JSON Lines files.

One row per example: a text column, optionally a second text (sentence
pairs) and a label column. `read_text_file` returns the raw strings with the
file line of every row; `load_text_file` encodes the labels as class ids
with a `LabelMap` (the splits of several files: `text_file_splits`). The
results go straight into `make_text_dataset`.

Only the standard library reads the files (`csv`, `json`, `gzip`), row by
row; errors name the file, the line and the column.
"""

import contextlib
import csv
import dataclasses
import gzip
import html
import json
import re
from pathlib import Path

from kerasft.checks import (
    check_bool,
    check_choice,
    check_optional_int,
    check_path,
    is_int,
)
from kerasft.data.label_map import LabelMap

FILE_FORMATS = ("csv", "tsv", "jsonl")
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
    """The rows of a text file, as read: strings, one entry per row.

    Attributes:
        texts: list of str. The text column.
        text_pairs: list of str or None. The second text of each pair, or
            None without `text_pair_column`.
        labels: list of str or None. The raw labels (stripped of surrounding
            spaces; a JSON integer becomes its digits), or None without
            `label_column`.
        path: `Path`. The file read.
        line_numbers: list of int. The file line (1-based) where each row
            starts, for error messages.
    """

    texts: list
    text_pairs: list | None
    labels: list | None
    path: Path
    line_numbers: list

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
):
    """Reads the text (and label) columns of a CSV, TSV or JSON Lines file.

    CSV and TSV files need a header line naming the columns (spaces around
    the names are ignored); JSON Lines files hold one JSON object per line,
    the columns being its keys. CSV uses normal quoting (`"a, b"`, `""` for
    a quote); TSV uses none (`csv.QUOTE_NONE`), as in GLUE files whose
    sentences hold unbalanced `"`: a field cannot contain a tab or newline.
    gzip-compressed files are read as such whatever their name. Text is
    decoded as UTF-8 (a leading byte-order mark is dropped, undecodable
    bytes are replaced). Blank lines are skipped.

    Every row needs a non-empty text (and pair text, and label, when those
    columns are asked for); a bad row raises a `ValueError` naming the
    file, the line and the column.

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
    file_format = _file_format(path, file_format)
    delimiter = _delimiter(file_format, delimiter)
    check_bool("clean_html", clean_html)
    max_rows = check_optional_int("max_rows", max_rows)

    columns = {"text": text_column, "pair": text_pair_column,
               "label": label_column}
    columns = {key: column for key, column in columns.items() if column}
    rows = (
        _json_rows(path, columns) if file_format == "jsonl"
        else _delimited_rows(path, columns, file_format, delimiter)
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
                labels.append(
                    _row_label(path, line, label_column, row["label"])
                )
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
):
    """Loads a text file as texts and class ids, ready for training.

    Args:
        path: str or path-like. A CSV, TSV or JSON Lines file (see
            `read_text_file`).
        text_column: str. The column holding the text.
        label_column: str. The column holding the label.
        text_pair_column: str or None. The column holding the second text of
            a sentence pair. Defaults to None.
        label_map: `LabelMap` or None. Encodes the labels; a label it does
            not know is an error naming the file, line and column. Defaults
            to None: the map of the file's own labels (`from_labels`).
        file_format, delimiter, clean_html, max_rows: see `read_text_file`.

    Returns:
        A tuple `(texts, labels, label_map)`: texts a list of str, or a
        `(first, second)` tuple of lists with `text_pair_column`; labels an
        int64 array `(N,)` of class ids; the `LabelMap` used.

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
    ```
    """
    if label_column is None:
        raise ValueError(
            "`label_column` is required to load labels (use `read_text_file` "
            "for texts alone). Received: label_column=None"
        )
    if label_map is not None and not isinstance(label_map, LabelMap):
        raise TypeError(
            "`label_map` must be a LabelMap or None. Received: label_map of "
            f"type {type(label_map).__name__}"
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
    )
    if label_map is None:
        label_map = LabelMap.from_labels(table.labels)
    labels = label_map.encode(
        table.labels,
        source=lambda i: _where(
            table.path, table.line_numbers[i], label_column
        ),
    )
    return _texts(table), labels, label_map


def _row_text(path, line, column, text, clean_html):
    cleaned = _clean_html(text) if clean_html else text
    if not cleaned.strip():
        raise ValueError(
            f"{_where(path, line, column)}: the text is empty (every row "
            f"needs one). Received: {text!r}"
        )
    return cleaned


def _row_label(path, line, column, label):
    # Spaces around a label ("pos " in "text, pos ") are never meant.
    if not label.strip():
        raise ValueError(
            f"{_where(path, line, column)}: the label is missing (every row "
            f"needs one). Received: {label!r}"
        )
    return label.strip()


def _check_column(name, column):
    if not isinstance(column, str) or not column.strip():
        raise TypeError(
            f"`{name}` must be a column name (a non-empty str). Received: "
            f"{name}={column!r}"
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


def _delimited_rows(path, columns, file_format, delimiter):
    """Yields `(line_number, {key: field})` for each row of a CSV / TSV."""
    quoting = csv.QUOTE_MINIMAL if file_format == "csv" else csv.QUOTE_NONE
    # Unquoted, a tab in a text splits the row: say so when counts differ.
    hint = " (a tab inside a field?)" if quoting == csv.QUOTE_NONE else ""
    with _open(path) as file:
        reader = csv.reader(file, delimiter=delimiter, quoting=quoting)
        try:
            header = next((row for row in reader if row), None)
            if header is None:
                raise ValueError(
                    f"'{path}' is empty: it needs a header line naming the "
                    f"columns, then rows. Received: path='{path}'"
                )
            header_line = reader.line_num
            header = [name.strip() for name in header]
            positions = {
                key: _header_position(path, header_line, header, column)
                for key, column in columns.items()
            }
            line_number = header_line + 1
            for fields in reader:
                # A quoted CSV field may span lines: a row starts where the
                # previous one ended.
                start, line_number = line_number, reader.line_num + 1
                if not fields:
                    continue  # a blank line
                if len(fields) != len(header):
                    raise ValueError(
                        f"{_where(path, start)}: {len(fields)} fields, but "
                        f"the header has {len(header)} ({', '.join(header)})"
                        f"{hint}. Received: "
                        f"{delimiter.join(fields)[:200]!r}"
                    )
                yield start, {key: fields[i] for key, i in positions.items()}
        except csv.Error as error:
            # e.g. a field over csv.field_size_limit(), a NUL byte.
            raise ValueError(
                f"{_where(path, reader.line_num)}: not valid "
                f"{file_format.upper()} ({error}). Received: path='{path}'"
            ) from None


def _header_position(path, line_number, header, column):
    count = header.count(column)
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
    if value is None:
        return ""  # null: missing, reported as such by the caller
    if isinstance(value, str):
        return value
    if key == "label" and isinstance(value, bool):
        return json.dumps(value)  # as written: "true" / "false"
    if key == "label" and is_int(value):
        return str(value)
    expected = "a string or an integer" if key == "label" else "a string"
    raise ValueError(
        f"{where}: expected {expected}. Received: {json.dumps(value)[:200]}"
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
