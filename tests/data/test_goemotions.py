import numpy as np
import pytest
from conftest import shared_path

from kerasft.data.goemotions import load_goemotions

# The published per-emotion counts of the train split (Demszky et al. 2020,
# table 9): admiration, ..., neutral.
TRAIN_COUNTS = {"admiration": 4130, "amusement": 2328, "gratitude": 2662,
                "grief": 77, "neutral": 14219}


def write_goemotions(folder, rows):
    folder.mkdir()
    (folder / "emotions.txt").write_text("anger\njoy\nneutral\n")
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
        (folder / name).write_text(rows)
    return folder


def test_reads_quoted_texts_and_id_lists(tmp_path):
    folder = write_goemotions(
        tmp_path / "go",
        '"He said ""no"", twice. "\t0,1\tc1\nplain, no quotes\t2\tc2\n',
    )
    texts, labels, label_map = load_goemotions("validation", folder)
    assert texts == ['He said "no", twice. ', "plain, no quotes"]
    assert labels.dtype == np.float32
    np.testing.assert_array_equal(labels, [[1, 1, 0], [0, 0, 1]])
    assert label_map.names == ("anger", "joy", "neutral")


def test_errors_name_the_file_and_line(tmp_path):
    folder = write_goemotions(tmp_path / "go", "fine\t2\tc1\nbad\t3\tc2\n")
    with pytest.raises(
        ValueError,
        match=r"train.tsv' line 2, column 'labels': label id '3' is out of "
        r"range: ids index the 3 label names",
    ):
        load_goemotions("train", folder)
    with pytest.raises(ValueError, match="Received: split='dev'"):
        load_goemotions("dev", folder)
    with pytest.raises(FileNotFoundError, match="Received: data_dir="):
        load_goemotions("train", tmp_path / "missing")


@pytest.fixture(scope="module")
def goemotions():
    folder = shared_path("data", "goemotions")
    return {
        split: load_goemotions(split, folder)
        for split in ("train", "validation", "test")
    }


@pytest.mark.shared
def test_counts_names_and_multi_hot_rows(goemotions):
    sizes = {split: len(texts) for split, (texts, _, _) in goemotions.items()}
    assert sizes == {"train": 43_410, "validation": 5_426, "test": 5_427}
    for texts, labels, label_map in goemotions.values():
        assert labels.shape == (len(texts), 28)
        assert labels.dtype == np.float32
        assert set(np.unique(labels)) == {0.0, 1.0}
        # Every comment has 1 to 5 emotions.
        per_row = labels.sum(axis=1)
        assert per_row.min() == 1 and per_row.max() <= 5
        assert len(label_map) == 28
        assert label_map.names[:3] == ("admiration", "amusement", "anger")
        assert label_map.names[-1] == "neutral"
    _, train, label_map = goemotions["train"]
    counts = dict(zip(label_map.names, train.sum(axis=0).astype(int)))
    assert {name: counts[name] for name in TRAIN_COUNTS} == TRAIN_COUNTS
    assert int(train.sum()) == 51_103
    assert (train.sum(axis=1) > 1).sum() == 7_102  # awk: ids with a ','


@pytest.mark.shared
def test_first_and_last_rows(goemotions):
    # Line 1 and the last line of each file, read by hand.
    expected = {
        "train": [
            ("My favourite food is anything I didn't have to cook myself.",
             ["neutral"]),
            ("Enjoy the ride!", ["joy"]),
        ],
        "validation": [
            ("Is this in New Orleans?? I really feel like this is New "
             "Orleans.", ["neutral"]),
            ("::but I like baby bangs:: /tiny voice", ["love"]),
        ],
        "test": [
            ("I’m really sorry about your situation :( Although I love the "
             "names Sapphira, Cirilla, and Scarlett!", ["sadness"]),
            ('Had to watch "Elmo in Grouchland" one time too many when my '
             "kids were little...musical Elmo / Oscar overdose...",
             ["neutral"]),
        ],
    }
    for split, rows in expected.items():
        texts, labels, label_map = goemotions[split]
        names = label_map.decode_multi_hot(labels[[0, -1]])
        assert list(zip([texts[0], texts[-1]], names)) == rows


@pytest.mark.shared
def test_quoted_and_multi_label_rows(goemotions):
    texts, labels, label_map = goemotions["train"]
    # '"Three words, no subtlety. ""Dude. Stop. Seriously."" "\t3'
    row = texts.index('Three words, no subtlety. "Dude. Stop. Seriously." ')
    assert label_map.decode_multi_hot(labels[row:row + 1]) == [["annoyance"]]
    # ids "2,3": two emotions.
    row = next(i for i, t in enumerate(texts) if t.startswith(
        "[NAME] dude I see [NAME] so rarely"
    ))
    assert label_map.decode_multi_hot(labels[row:row + 1]) == [
        ["anger", "annoyance"]
    ]
