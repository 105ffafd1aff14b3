"""A user's unlabeled text: files, folders or a dataset of strings.

Pretraining reads a corpus as lines of text. The corpus is given as a text
file, a folder (every `*.txt` file under it, recursively, in sorted order), a
list of those, or a `tf.data.Dataset` of strings (one line or document per
element). Files are streamed with `tf.data.TextLineDataset`, never loaded
whole into memory.
"""

import os
from pathlib import Path

import tensorflow as tf

CORPUS_SUFFIX = ".txt"


def corpus_files(corpus):
    """Resolves files and folders to the list of text files they name.

    Args:
        corpus: str or path-like (a file, or a folder searched recursively
            for `*.txt`), or a list of those.

    Returns:
        A sorted list of str paths, each an existing, non-empty file.

    Raises:
        FileNotFoundError: if a path does not exist.
        ValueError: if no text file is found, or all of them are empty.

    Example:
    ```python
    files = corpus_files("my_corpus/")  # every my_corpus/**/*.txt
    ```
    """
    paths = corpus if isinstance(corpus, (list, tuple)) else [corpus]
    if not paths:
        raise ValueError(
            "`corpus` is empty: it names no file or folder. Received: "
            f"corpus={corpus!r}"
        )
    files = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                "`corpus` must be a file or folder path, a list of them, or "
                "a tf.data.Dataset of strings. Received: an element of type "
                f"{type(path).__name__} ({path!r})"
            )
        path = Path(path)
        if path.is_dir():
            files += sorted(
                p for p in path.rglob(f"*{CORPUS_SUFFIX}") if p.is_file()
            )
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(
                "The corpus path does not exist. Received: "
                f"corpus='{path}' (expected a text file or a folder of "
                f"{CORPUS_SUFFIX} files)"
            )
    if not files:
        raise ValueError(
            f"The corpus holds no {CORPUS_SUFFIX} files. Received: "
            f"corpus={[str(p) for p in paths]!r}"
        )
    non_empty = [str(p) for p in files if p.stat().st_size > 0]
    if not non_empty or not any(_has_text(p) for p in non_empty):
        raise ValueError(
            "The corpus is empty: its files hold no text. Received: "
            f"corpus={[str(p) for p in paths]!r} ({len(files)} file(s), "
            "all empty or blank)"
        )
    return non_empty


def corpus_lines(corpus):
    """The corpus as an unbatched `tf.data.Dataset` of non-blank lines.

    Args:
        corpus: a file or folder path, a list of them (see `corpus_files`),
            or a `tf.data.Dataset` of scalar strings (then each element is
            kept as it is, a line or a whole document).

    Returns:
        A `tf.data.Dataset` of scalar `tf.string`, blank lines dropped.
    """
    if isinstance(corpus, tf.data.Dataset):
        spec = corpus.element_spec
        if not (
            isinstance(spec, tf.TensorSpec)
            and spec.dtype == tf.string
            and spec.shape.rank == 0
        ):
            raise ValueError(
                "A corpus dataset must yield single strings (unbatched). "
                f"Received: a dataset with element_spec={spec}"
            )
        lines = corpus
    else:
        lines = tf.data.TextLineDataset(corpus_files(corpus))
    return lines.filter(
        lambda line: tf.strings.length(tf.strings.strip(line)) > 0
    )


def _has_text(path, chunk_size=1 << 16):
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            if chunk.strip():
                return True
    return False
