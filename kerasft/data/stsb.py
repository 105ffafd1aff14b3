"""STS-B: sentence pairs scored for similarity from 0 (unrelated) to 5.

The GLUE release: `train.tsv` and `dev.tsv` (header `index genre filename
year old_index source1 source2 sentence1 sentence2 score`) and `test.tsv`
(the same without `score`); the test scores come from the original
benchmark's `original/sts-test.tsv` (no header; `genre filename year
old_index score sentence1 sentence2`, sometimes two source fields more),
whose rows are in the same order. Sentences hold unbalanced `"`, so nothing
is read as quoting. All is read by `load_text_file` (task `"regression"`).

Reference: Cer et al., "SemEval-2017 Task 1: Semantic Textual Similarity",
SemEval 2017; Wang et al., "GLUE", ICLR 2019.
"""

from kerasft.checks import check_choice, check_path
from kerasft.data.paths import shared_dir
from kerasft.data.text_file import load_text_file, read_text_file

STSB_FILES = {"train": "train.tsv", "validation": "dev.tsv",
              "test": "test.tsv"}
# original/sts-test.tsv: the columns always there (two source fields may
# follow; they are ignored).
STSB_ORIGINAL_COLUMNS = (
    "genre", "filename", "year", "old_index", "score", "sentence1",
    "sentence2",
)


def load_stsb(split="train", data_dir=None):
    """Loads an STS-B split as sentence pairs and similarity scores.

    Args:
        split: str. `"train"` (5,749 pairs), `"validation"` (1,500) or
            `"test"` (1,379). Defaults to `"train"`.
        data_dir: str, path-like or None. The GLUE STS-B folder, with the
            original test file in `original/sts-test.tsv`. Defaults to
            `shared_dir() / "data" / "stsb"`.

    Returns:
        A tuple `(sentence1, sentence2, scores)`: two lists of str and a
        float32 array `(N,)` of scores in `[0, 5]`.

    Raises:
        ValueError: if the test sentences of the two files differ (beyond
            spaces at their ends), i.e. their rows are not in one order.

    Example:
    ```python
    first, second, scores = load_stsb("validation")
    first[0], second[0], scores[0]
    # ('A man with a hard hat is dancing.',
    #  'A man wearing a hard hat is dancing.', 5.0)
    # then: make_text_dataset((first, second), scores, preprocessor,
    #                         task="regression")
    ```
    """
    split = check_choice("split", split, tuple(STSB_FILES))
    data_dir = check_path(
        "data_dir",
        shared_dir() / "data" / "stsb" if data_dir is None else data_dir,
        kind="directory",
    )
    glue = dict(file_format="tsv", quoting=False)  # `"` is text
    if split != "test":
        (first, second), scores, _ = load_text_file(
            data_dir / STSB_FILES[split], "sentence1", "score",
            text_pair_column="sentence2", task="regression", **glue,
        )
        return first, second, scores

    table = read_text_file(
        data_dir / "test.tsv", "sentence1", text_pair_column="sentence2",
        **glue,
    )
    original = data_dir / "original" / "sts-test.tsv"
    (first, second), scores, _ = load_text_file(
        original, "sentence1", "score", text_pair_column="sentence2",
        task="regression", column_names=STSB_ORIGINAL_COLUMNS,
        allow_extra_fields=True, **glue,
    )
    if len(first) != len(table):
        raise ValueError(
            f"'{original}' holds {len(first)} scored pairs but "
            f"'{table.path}' {len(table)}; they must be the same test set. "
            f"Received: data_dir='{data_dir}'"
        )
    # The original keeps a few trailing spaces that GLUE stripped; any other
    # difference means the rows are not in the same order.
    for index, pair in enumerate(zip(first, second)):
        glue_pair = (table.texts[index], table.text_pairs[index])
        if tuple(t.strip() for t in pair) != tuple(
            t.strip() for t in glue_pair
        ):
            raise ValueError(
                f"'{table.path}' line {table.line_numbers[index]} and "
                f"'{original}' line {index + 1} hold different sentence "
                "pairs; the test scores cannot be matched to the GLUE rows. "
                f"Received: {glue_pair!r} and {pair!r}"
            )
    return table.texts, table.text_pairs, scores
