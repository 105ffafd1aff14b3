"""Loads the MR sentence polarity data set (Pang & Lee, 2005).

`rt-polarity.pos` and `rt-polarity.neg` hold 5,331 positive and 5,331
negative Rotten Tomatoes snippets, one per line, lower-cased and tokenized.
There is no official split; kerasft uses one fixed split, so every figure
quoted on MR is on the same test sentences:

- read `rt-polarity.pos` then `rt-polarity.neg` (UTF-8, undecodable bytes
  replaced: a few lines are Latin-1), split on newlines, drop blank lines:
  10,662 sentences, labels 1 (positive) then 0 (negative);
- permute with `numpy.random.default_rng(0).permutation(10662)`; the first
  9,595 are `"train"`, the last 1,067 (a tenth, rounded up) `"test"`.
"""

import math

import numpy as np
import tensorflow as tf

from kerasft.checks import check_path
from kerasft.data.paths import shared_dir

RT_POLARITY_FILES = (("rt-polarity.pos", 1), ("rt-polarity.neg", 0))
RT_POLARITY_SPLITS = ("train", "test", "all")
SPLIT_SEED = 0


def load_rt_polarity_arrays(directory=None, split="train"):
    """Loads one split of MR as NumPy arrays.

    Args:
        directory: str, path-like or None. The folder holding
            `rt-polarity.pos` and `rt-polarity.neg`. Defaults to
            `shared_dir() / "data" / "rt-polarity"`.
        split: str. `"train"` (9,595 sentences), `"test"` (1,067) or
            `"all"` (10,662, in file order: positives first). Defaults to
            `"train"`.

    Returns:
        A tuple `(texts, labels)`: an object array of str `(N,)` and int64
        `(N,)` with 1 = positive, 0 = negative.

    Example:
    ```python
    texts, labels = load_rt_polarity_arrays(split="test")
    len(texts), labels.mean()  # 1067, about 0.5
    ```
    """
    if split not in RT_POLARITY_SPLITS:
        raise ValueError(
            f"`split` must be one of {RT_POLARITY_SPLITS}. Received: "
            f"split={split!r}"
        )
    if directory is None:
        directory = shared_dir() / "data" / "rt-polarity"
    directory = check_path("directory", directory, kind="directory")
    texts, labels = [], []
    for name, label in RT_POLARITY_FILES:
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(
                f"`directory` has no '{name}' (MR needs rt-polarity.pos and "
                f"rt-polarity.neg). Received: directory='{directory}'"
            )
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            raise ValueError(
                f"'{path}' holds no sentences. Received: "
                f"directory='{directory}'"
            )
        texts += lines
        labels += [label] * len(lines)
    texts = np.array(texts, dtype=object)
    labels = np.array(labels, dtype=np.int64)
    if split == "all":
        return texts, labels
    order = np.random.default_rng(SPLIT_SEED).permutation(len(texts))
    num_test = math.ceil(len(texts) / 10)
    indices = order[:-num_test] if split == "train" else order[-num_test:]
    return texts[indices], labels[indices]


def load_rt_polarity(directory=None, split="train"):
    """Loads one split of MR as an unbatched `tf.data.Dataset`.

    Args:
        directory: str, path-like or None. See `load_rt_polarity_arrays`.
        split: str. `"train"`, `"test"` or `"all"`. Defaults to `"train"`.

    Returns:
        A `tf.data.Dataset` of `(text, label)`: string `()`, int64 `()`; feed
        it to `make_text_dataset` to tokenize and batch it.

    Example:
    ```python
    train = make_text_dataset(load_rt_polarity(), preprocessor=preprocessor)
    ```
    """
    texts, labels = load_rt_polarity_arrays(directory, split=split)
    return tf.data.Dataset.from_tensor_slices((list(texts), labels))
