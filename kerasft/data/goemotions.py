"""GoEmotions: 58k Reddit comments, each with one or more of 28 emotions.

The files (`train.tsv`, `dev.tsv`, `test.tsv`) have no header; each line is
`text<TAB>label ids<TAB>comment id`, the ids comma-separated indices into
`emotions.txt` (one emotion per line, `neutral` last), the texts CSV-quoted
(`"..."`, `""` for a quote). They are read by `load_text_file`, as any
multi-label file would be.

Reference: Demszky et al., "GoEmotions: A Dataset of Fine-Grained
Emotions", ACL 2020 (https://github.com/google-research/google-research/
tree/master/goemotions).
"""

from kerasft.checks import check_choice, check_path
from kerasft.data.label_map import LabelMap
from kerasft.data.paths import shared_dir
from kerasft.data.text_file import load_text_file

# The split names kerasft uses and the file of each.
GOEMOTIONS_FILES = {
    "train": "train.tsv",
    "validation": "dev.tsv",
    "test": "test.tsv",
}
GOEMOTIONS_COLUMNS = ("text", "labels", "comment_id")


def load_goemotions(split="train", data_dir=None):
    """Loads a GoEmotions split as texts and multi-hot emotions.

    Args:
        split: str. `"train"` (43,410 comments), `"validation"` (5,426,
            the file `dev.tsv`) or `"test"` (5,427). Defaults to `"train"`.
        data_dir: str, path-like or None. The folder of the three files and
            `emotions.txt`. Defaults to `shared_dir() / "data" /
            "goemotions"`.

    Returns:
        A tuple `(texts, labels, label_map)`: texts a list of str; labels a
        float32 array `(N, 28)`, 1 where the comment has the emotion (most
        have one, some up to 5); `label_map` the `LabelMap` of the 28
        emotion names in id order (`label_map.names[27] == "neutral"`).

    Example:
    ```python
    texts, labels, label_map = load_goemotions("validation")
    labels.shape  # (5426, 28)
    label_map.decode_multi_hot(labels[:1])  # [['neutral']]
    # then: make_text_dataset(texts, labels, preprocessor,
    #                         task="multi_label")
    ```
    """
    split = check_choice("split", split, tuple(GOEMOTIONS_FILES))
    data_dir = check_path(
        "data_dir",
        shared_dir() / "data" / "goemotions" if data_dir is None
        else data_dir,
        kind="directory",
    )
    label_map = LabelMap.from_file(data_dir / "emotions.txt")
    return load_text_file(
        data_dir / GOEMOTIONS_FILES[split],
        "text",
        "labels",
        label_map=label_map,
        file_format="tsv",
        task="multi_label",
        label_format="ids",
        quoting=True,  # CSV-quoted texts: "He said ""no""."
        column_names=GOEMOTIONS_COLUMNS,
    )
