"""A user's unlabeled text: files, folders or a dataset of strings.

Pretraining reads a corpus as lines of text. The corpus is given as a text
file (plain, or gzip-compressed when its name ends in `.gz`), a folder
(every `*.txt` and `*.txt.gz` file under it, recursively, in sorted order),
a list of those, or a `tf.data.Dataset` of strings (one line or document
per element). Files are streamed with `tf.data.TextLineDataset`, never
loaded whole into memory.

Every file is checked before any expensive work, cheaply: its first 64 KiB
(after decompression) must be UTF-8 text, and the corpus must hold a
non-blank line. A `.gz` file is also read through once with zlib (about
0.3 s per 25 MB compressed, ~1% of tokenizing it) because TensorFlow's
gzip reader stops silently at a truncated end: a cut-off download would
otherwise train on part of the corpus without a word.
"""

import codecs
import gzip
import os
import random
import zlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from kerasft.checks import check_choice, check_int, check_seed

CORPUS_SUFFIXES = (".txt", ".txt.gz")
GZIP_SUFFIX = ".gz"
# How much of each file (decompressed) is checked for text up front.
TEXT_CHECK_BYTES = 1 << 16
SAMPLE_METHODS = ("first", "reservoir")
_GZIP_MAGIC = b"\x1f\x8b"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_READ_CHUNK = 1 << 20


def corpus_files(corpus):
    """Resolves files and folders to the list of text files they name.

    Each file is checked (see the module docstring): it must hold UTF-8
    text, a `.gz` file must be complete, and at least one file must hold a
    non-blank line.

    Args:
        corpus: str or path-like (a `.txt` or `.gz` file, or a folder
            searched recursively for `*.txt` and `*.txt.gz`), or a list of
            those.

    Returns:
        A list of str paths, each an existing, non-empty file, in the
        order given (a folder's files sorted).

    Raises:
        FileNotFoundError: if a path does not exist.
        TypeError: if an element is not a path.
        ValueError: if no text file is found, all of them are empty or
            blank, or a file is binary, not UTF-8, or a truncated `.gz`.

    Example:
    ```python
    files = corpus_files("my_corpus/")  # my_corpus/**/*.txt and *.txt.gz
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
                p for suffix in CORPUS_SUFFIXES
                for p in path.rglob(f"*{suffix}") if p.is_file()
            )
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(
                "The corpus path does not exist. Received: "
                f"corpus='{path}' (expected a text file, a .gz file or a "
                f"folder of {' / '.join(CORPUS_SUFFIXES)} files)"
            )
    if not files:
        raise ValueError(
            "The corpus holds no .txt files (nor .txt.gz ones). Received: "
            f"corpus={[str(p) for p in paths]!r}"
        )
    non_empty = [p for p in files if p.stat().st_size > 0]
    # Cheap checks of every file first, the gzip read-through after them.
    has_text = [check_text_file(p) for p in non_empty]
    if not any(has_text):
        raise ValueError(
            "The corpus is empty: its files hold no text. Received: "
            f"corpus={[str(p) for p in paths]!r} ({len(files)} file(s), "
            "all empty or blank)"
        )
    for path in non_empty:
        if is_gzip_path(path):
            check_gzip_complete(path)
    return [str(p) for p in non_empty]


def corpus_lines(corpus):
    """The corpus as an unbatched `tf.data.Dataset` of non-blank lines.

    Plain and `.gz` files may be mixed: each file is read with its own
    compression, in the order of `corpus_files`. A byte sequence that is
    not UTF-8 past the checked head of a file becomes U+FFFD (the
    tokenizer would fail on it with a bare "utf-8" error).

    Args:
        corpus: a file or folder path, a list of them (see `corpus_files`),
            or a `tf.data.Dataset` of scalar strings (then each element is
            kept as it is, a line or a whole document).

    Returns:
        A `tf.data.Dataset` of scalar `tf.string`, blank lines dropped.

    Example:
    ```python
    lines = corpus_lines(["reviews.txt.gz", "more_reviews/"])
    next(iter(lines))  # b'I admit, the great majority of films ...'
    ```
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
        lines = _text_lines(corpus_files(corpus))
    lines = lines.filter(
        lambda line: tf.strings.length(tf.strings.strip(line)) > 0
    )
    return lines.map(
        lambda line: tf.strings.unicode_transcode(
            line, "UTF-8", "UTF-8", errors="replace"),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    )


def sample_corpus_lines(corpus, num_lines, method="first", seed=0):
    """A bounded sample of a corpus's lines, e.g. to learn a vocabulary.

    `"first"` takes the first `num_lines` lines (reads only those);
    `"reservoir"` draws `num_lines` lines uniformly from the whole corpus
    (one streamed pass, holding only the sample), kept in corpus order.

    Args:
        corpus: see `corpus_lines`.
        num_lines: int >= 1. Lines in the sample (fewer if the corpus has
            fewer).
        method: `"first"` or `"reservoir"`. Defaults to `"first"`.
        seed: int. Seeds the reservoir draw. Defaults to `0`.

    Returns:
        A `tf.data.Dataset` of scalar `tf.string`.

    Example:
    ```python
    sample = sample_corpus_lines("unsup.txt.gz", 5000, method="reservoir")
    ```
    """
    num_lines = check_int("num_lines", num_lines)
    check_choice("method", method, SAMPLE_METHODS)
    seed = check_seed(seed, allow_none=False)
    lines = corpus_lines(corpus)
    if method == "first":
        return lines.take(num_lines)
    # Algorithm R: line i (0-based) replaces a random slot with probability
    # num_lines / (i + 1). Batches keep the Python loop off TF's iterator.
    rng = random.Random(seed)
    reservoir = []  # (index, line)
    index = 0
    for batch in lines.batch(1024).as_numpy_iterator():
        for line in batch:
            if index < num_lines:
                reservoir.append((index, line))
            else:
                slot = rng.randint(0, index)
                if slot < num_lines:
                    reservoir[slot] = (index, line)
            index += 1
    reservoir.sort(key=lambda item: item[0])
    return tf.data.Dataset.from_tensor_slices(
        np.array([line for _, line in reservoir], dtype=object))


def is_gzip_path(path):
    """True for a file name ending in `.gz`: read with gzip."""
    return str(path).endswith(GZIP_SUFFIX)


def check_text_file(path):
    """Checks that a corpus file holds UTF-8 text; True if not blank.

    Reads the first `TEXT_CHECK_BYTES` (decompressed for `.gz`), then, only
    while those are blank, on until a non-blank chunk.

    Raises:
        ValueError: for a binary file (NUL bytes), UTF-16 text, a gzip file
            not named `.gz`, a `.gz` file that is not gzip, or bytes that
            are not UTF-8 (with the offset of the first bad byte).
    """
    path = Path(path)
    compressed = is_gzip_path(path)
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as file:
            head = file.read(TEXT_CHECK_BYTES)
            _check_text_head(path, head, compressed)
            if head.strip():
                return True
            while chunk := file.read(TEXT_CHECK_BYTES):
                if chunk.strip():
                    return True
    except gzip.BadGzipFile as error:
        raise ValueError(
            f"A corpus file named .gz is not gzip-compressed ({error}). "
            f"Received: corpus file '{path}' (expected gzip data, or a "
            "plain text file without the .gz suffix)"
        ) from None
    except EOFError:
        raise ValueError(_truncated_message(path)) from None
    return False


def check_gzip_complete(path):
    """Reads a `.gz` file through with zlib; raises if it is truncated.

    Constant memory (bounded output chunks); concatenated gzip members, as
    `cat a.gz b.gz` writes, are followed.
    """
    decompressor = zlib.decompressobj(wbits=31)  # 31: a gzip header
    ended = False
    with open(path, "rb") as file:
        try:
            while chunk := file.read(_READ_CHUNK):
                while chunk:
                    decompressor.decompress(chunk, _READ_CHUNK)
                    chunk = decompressor.unconsumed_tail
                    ended = decompressor.eof
                    if ended:
                        chunk = decompressor.unused_data
                        if chunk:  # another gzip member follows
                            decompressor = zlib.decompressobj(wbits=31)
                            ended = False
        except zlib.error as error:
            raise ValueError(
                f"A .gz corpus file is corrupt ({error}). Received: corpus "
                f"file '{path}' (expected a complete gzip file)"
            ) from None
    if not ended:
        raise ValueError(_truncated_message(path))


def _truncated_message(path):
    return (
        "A .gz corpus file is truncated: its compressed data ends before "
        "the end-of-stream marker (an interrupted download or copy?). "
        f"Received: corpus file '{path}' ({Path(path).stat().st_size:,} "
        "bytes; expected a complete gzip file, `gzip -t` checks one)"
    )


def _check_text_head(path, head, compressed):
    where = f"corpus file '{path}'"
    if head.startswith(_UTF16_BOMS):
        raise ValueError(
            f"A corpus file is UTF-16 text (it starts with a UTF-16 byte "
            f"order mark). Received: {where} (expected UTF-8; convert it, "
            f"e.g. `iconv -f UTF-16 -t UTF-8`)"
        )
    if not compressed and head.startswith(_GZIP_MAGIC):
        raise ValueError(
            "A corpus file is gzip-compressed but its name does not end "
            f"in .gz. Received: {where} (rename it to *.gz, or decompress "
            "it)"
        )
    nul = head.find(b"\x00")
    if nul >= 0:
        raise ValueError(
            f"A corpus file is not text: it holds NUL bytes (first at byte "
            f"{nul}{' after decompression' if compressed else ''}), as "
            f"binary files do. Received: {where} (expected UTF-8 text, one "
            "example per line)"
        )
    try:
        # final=False: the chunk may end inside a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as error:
        byte = head[error.start]
        guess = _encoding_guess(head)
        raise ValueError(
            f"A corpus file is not UTF-8: byte 0x{byte:02x} at offset "
            f"{error.start}{' after decompression' if compressed else ''} "
            f"starts no UTF-8 character{guess}. Received: {where} (expected "
            "UTF-8 text; convert it, e.g. `iconv -f LATIN1 -t UTF-8`)"
        ) from None


def _encoding_guess(head):
    # Not UTF-8, no NUL: a legacy single-byte encoding is the usual cause.
    # cp1252 leaves 5 bytes undefined; latin-1 decodes everything.
    try:
        head.decode("cp1252")
        return " (it looks like Windows-1252 / Latin-1)"
    except UnicodeDecodeError:
        return " (it looks like Latin-1 or another single-byte encoding)"


def _text_lines(files):
    """One `TextLineDataset` pipeline over plain and gzip files, in order."""
    kinds = ["GZIP" if is_gzip_path(f) else "" for f in files]
    if len(set(kinds)) == 1:
        return tf.data.TextLineDataset(files, compression_type=kinds[0])
    # Mixed: TextLineDataset takes one compression type per dataset, but
    # accepts it as a tensor, so one dataset per file keeps the file order.
    return tf.data.Dataset.from_tensor_slices((files, kinds)).flat_map(
        lambda file, kind: tf.data.TextLineDataset(
            file, compression_type=kind)
    )
