"""Train / validation / test splits of the user's text files.

The label map is learned from the train file only (or given); the other
files are encoded with it, and a split without a file is cut from the train
rows, seeded, and stratified for classification (see `load_text_splits`).
"""

import dataclasses

import numpy as np

from kerasft.checks import check_fraction, check_int
from kerasft.data.label_map import LabelMap
from kerasft.data.splits import train_val_test_split
from kerasft.data.text_file import load_text_file


@dataclasses.dataclass(frozen=True)
class TextFileSplits:
    """Train, validation and test data from files, with one label map.

    Each split is `(texts, labels)`: texts a list of str, or a
    `(first, second)` tuple of lists for sentence pairs; labels as
    `load_text_file` gives them for `task`: an int64 array `(N,)` of class
    ids from `label_map`, float32 multi-hot rows `(N, len(label_map))`, or
    float32 targets `(N,)` / `(N, num_outputs)` (regression, whose
    `label_map` is None). `validation` and `test` are None when there is
    neither a file nor a fraction for them.
    """

    train: tuple
    validation: tuple | None
    test: tuple | None
    label_map: LabelMap | None
    task: str = "classification"


def load_text_splits(
    train_path,
    text_column,
    label_column,
    test_path=None,
    validation_path=None,
    text_pair_column=None,
    validation_fraction=0.1,
    test_fraction=0.1,
    seed=0,
    file_format=None,
    delimiter=None,
    clean_html=False,
    max_rows=None,
    task="classification",
    label_map=None,
    label_format="names",
    label_separator=",",
    num_outputs=1,
    quoting=None,
    column_names=None,
    allow_extra_fields=False,
):
    """Loads train, validation and test splits with one label map.

    The label map is learned from the train file alone (unless `label_map`
    is given); the test and validation files are encoded with it, so a label
    the train file lacks is an error (naming the file, line and column)
    rather than a new class. A split without a file is cut from the train
    file's rows: a seeded shuffle (`train_val_test_split`), test first,
    stratified by label for classification (multi-label rows and regression
    targets are cut unstratified); every part keeps the file's row order.

    Args:
        train_path: str or path-like. The training file.
        text_column: str. The column holding the text, in every file.
        label_column: str. The column holding the label, in every file.
        test_path: str, path-like or None. The test file. Defaults to None
            (cut `test_fraction` of the train rows).
        validation_path: str, path-like or None. The validation file.
            Defaults to None (cut `validation_fraction` of the train rows).
        text_pair_column: str or None. The column holding the second text of
            a sentence pair. Defaults to None.
        validation_fraction: float. Share of the train file's rows for
            validation when there is no `validation_path` (ignored when
            there is one), in `[0, 1)`; 0 for no validation split. Defaults
            to `0.1`.
        test_fraction: float. Share of the train file's rows for test when
            there is no `test_path` (ignored when there is one), in
            `[0, 1)`; 0 for no test split. Defaults to `0.1`.
        seed: int. Seeds the cut. Defaults to `0`.
        file_format, delimiter, clean_html: see `read_text_file`; the same
            for every file (the format is inferred per file name when
            `file_format` is None).
        max_rows: int or None. Read at most this many rows of each file.
            Defaults to None (all).
        task: str. `"classification"`, `"multi_label"` or `"regression"`
            (see `read_text_file`). Defaults to `"classification"`.
        label_map: `LabelMap` or None. Encodes every file's labels (needed
            for `label_format="ids"`). Defaults to None: learned from the
            train file.
        label_format, label_separator, num_outputs, quoting, column_names,
            allow_extra_fields: see `load_text_file`; the same for every
            file.

    Returns:
        A `TextFileSplits(train, validation, test, label_map, task)`.

    Example:
    ```python
    import pathlib

    rows = "".join(f"{i % 2},review number {i}\\n" for i in range(40))
    pathlib.Path("train.csv").write_text("label,review\\n" + rows)
    splits = load_text_splits("train.csv", "review", "label")
    len(splits.train[0]), len(splits.validation[0]), len(splits.test[0])
    # (32, 4, 4)
    # then: make_text_dataset(*splits.train, preprocessor=preprocessor)
    ```
    """
    validation_fraction = check_fraction(
        "validation_fraction", validation_fraction
    )
    test_fraction = check_fraction("test_fraction", test_fraction)
    seed = check_int("seed", seed, minimum=0)
    options = dict(
        text_column=text_column,
        label_column=label_column,
        text_pair_column=text_pair_column,
        file_format=file_format,
        delimiter=delimiter,
        clean_html=clean_html,
        max_rows=max_rows,
        task=task,
        label_format=label_format,
        label_separator=label_separator,
        num_outputs=num_outputs,
        quoting=quoting,
        column_names=column_names,
        allow_extra_fields=allow_extra_fields,
    )
    texts, labels, label_map = load_text_file(
        train_path, label_map=label_map, **options
    )
    test = validation = None
    if test_path is not None:
        test = load_text_file(test_path, label_map=label_map, **options)[:2]
    if validation_path is not None:
        validation = load_text_file(
            validation_path, label_map=label_map, **options
        )[:2]

    # The fractions of the splits that come from their own file are 0.
    cut_validation = 0.0 if validation_path is not None else validation_fraction
    cut_test = 0.0 if test_path is not None else test_fraction
    stratify = task == "classification"
    train = (texts, labels)
    if cut_validation or cut_test:
        try:
            # Split row indices: the texts are not numeric arrays. Only
            # class ids stratify; for the other tasks the row indices stand
            # in as labels.
            rows = np.arange(len(labels))
            (train_rows, _), (val_rows, _), (test_rows, _) = (
                train_val_test_split(
                    rows,
                    labels if stratify else rows,
                    val_fraction=cut_validation,
                    test_fraction=cut_test,
                    seed=seed,
                    stratify=stratify,
                )
            )
        except ValueError as error:
            if not stratify:
                raise ValueError(
                    f"Cannot cut a split from '{train_path}' "
                    f"({len(labels)} rows): {error} Pass test_path / "
                    "validation_path or smaller fractions. Received: "
                    f"validation_fraction={validation_fraction}, "
                    f"test_fraction={test_fraction}"
                ) from error
            counts = np.bincount(labels, minlength=len(label_map))
            reason = getattr(error, "reason", error)  # scikit-learn's alone
            raise ValueError(
                f"Cannot cut a stratified split from '{train_path}' "
                f"({len(labels)} rows; per class {counts.tolist()}): {reason} "
                "Pass test_path / validation_path or smaller fractions. "
                f"Received: validation_fraction={validation_fraction}, "
                f"test_fraction={test_fraction}"
            ) from error
        train = _take(texts, labels, train_rows)
        if cut_validation:
            validation = _take(texts, labels, val_rows)
        if cut_test:
            test = _take(texts, labels, test_rows)
    return TextFileSplits(
        train=train, validation=validation, test=test, label_map=label_map,
        task=task,
    )


def _take(texts, labels, rows):
    """The rows of `(texts, labels)`, in file order."""
    rows = np.sort(rows)
    if isinstance(texts, tuple):
        taken = tuple([part[i] for i in rows] for part in texts)
    else:
        taken = [texts[i] for i in rows]
    return taken, labels[rows]
