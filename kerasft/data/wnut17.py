"""Loads WNUT-17 (Emerging and Rare Entities; Derczynski et al., 2017).

Noisy user text (tweets, Reddit, YouTube and Stack Exchange comments) tagged
in IOB2 with six entity types. The shared folder holds the task's three
files, tab-separated `token<TAB>tag` lines:

| split          | file                        | sentences | words  |
|----------------|-----------------------------|-----------|--------|
| `"train"`      | `wnut17train.conll`         | 3,394     | 62,730 |
| `"validation"` | `emerging.dev.conll`        | 1,009     | 15,733 |
| `"test"`       | `emerging.test.annotated`   | 1,287     | 23,394 |

The training file separates 2,394 of its sentences with a line holding a
single tab (`read_conll` counts it as blank). No `I-` tag starts an entity
in any of the three files: the tags are valid IOB2 as they are, which
`load_wnut17` checks.
"""

from kerasft.checks import check_choice, check_path
from kerasft.data.conll import read_conll
from kerasft.data.paths import shared_dir
from kerasft.data.tag_schemes import check_tags, tag_names_for

WNUT17_FILES = {
    "train": "wnut17train.conll",
    "validation": "emerging.dev.conll",
    "test": "emerging.test.annotated",
}
WNUT17_TYPES = (
    "corporation", "creative-work", "group", "location", "person", "product",
)
# The 13 tags, "O" first: a model's output order.
WNUT17_TAGS = tuple(tag_names_for(WNUT17_TYPES, "IOB2"))


def load_wnut17(split="train", data_dir=None):
    """Loads one split of WNUT-17 as words and IOB2 tags.

    Args:
        split: str. `"train"` (3,394 sentences), `"validation"` (1,009) or
            `"test"` (1,287). Defaults to `"train"`.
        data_dir: str, path-like or None. The folder holding the three
            files. Defaults to `shared_dir() / "data" / "wnut17"`.

    Returns:
        A `TaggedSentences` (`words`, `tags`, `lines`, `path`); tags from
        `WNUT17_TAGS`, checked to be IOB2.

    Example:
    ```python
    train = load_wnut17("train")
    len(train), train.words[0][:3]  # 3394, ["@paulwalk", "It", "'s"]
    ```
    """
    check_choice("split", split, tuple(WNUT17_FILES))
    if data_dir is None:
        data_dir = shared_dir() / "data" / "wnut17"
    data_dir = check_path("data_dir", data_dir, kind="directory")
    path = data_dir / WNUT17_FILES[split]
    if not path.is_file():
        raise FileNotFoundError(
            f"`data_dir` has no '{WNUT17_FILES[split]}' (the WNUT-17 "
            f"{split} file). Received: data_dir='{data_dir}'"
        )
    sentences = read_conll(path, token_column=0, tag_column=1,
                           delimiter="\t")
    check_tags(sentences.tags, "IOB2", where=sentences.location)
    unknown = {tag for tags in sentences.tags for tag in tags} - set(
        WNUT17_TAGS
    )
    if unknown:
        raise ValueError(
            f"'{path}' holds tags outside WNUT-17's {len(WNUT17_TAGS)}: "
            f"{sorted(unknown)}. Received: data_dir='{data_dir}'"
        )
    return sentences
