import json
import re

import numpy as np
import pytest

from kerasft.data import LabelMap


def test_names_map_to_ids_and_back():
    label_map = LabelMap(["neg", "pos"])
    assert label_map.names == ("neg", "pos")
    assert label_map.num_classes == len(label_map) == 2
    ids = label_map.encode(["pos", "neg", "pos"])
    assert ids.dtype == np.int64
    assert ids.tolist() == [1, 0, 1]
    assert label_map.decode(ids) == ["pos", "neg", "pos"]
    assert label_map.decode(np.array([[0], [1]])) == ["neg", "pos"]
    assert repr(label_map) == "LabelMap(names=['neg', 'pos'])"


def test_from_labels_sorts_unique_strings():
    label_map = LabelMap.from_labels(["pos", "neutral", "neg", "pos"])
    assert label_map.names == ("neg", "neutral", "pos")


def test_from_labels_sorts_int_like_labels_numerically():
    values = [str(i) for i in range(12)][::-1] * 2
    label_map = LabelMap.from_labels(values)
    # As strings "10" < "2"; as numbers every label maps to itself.
    assert label_map.names == tuple(str(i) for i in range(12))
    assert label_map.encode(values).tolist() == [int(v) for v in values]
    assert LabelMap.from_labels(["-1", "1", "0"]).names == ("-1", "0", "1")
    # One non-integer label: string order for all.
    assert LabelMap.from_labels(["10", "9", "x"]).names == ("10", "9", "x")


def test_int_values_encode_as_their_digits():
    label_map = LabelMap.from_labels([1, 0, np.int64(2)])
    assert label_map.names == ("0", "1", "2")
    assert label_map.encode([2, "1", np.int32(0)]).tolist() == [2, 1, 0]


def test_config_round_trips_through_json():
    label_map = LabelMap(["positive", "negative", "neutral"])
    config = json.loads(json.dumps(label_map.get_config()))
    assert config == {"names": ["positive", "negative", "neutral"]}
    restored = LabelMap.from_config(config)
    assert restored == label_map
    assert hash(restored) == hash(label_map)
    assert restored != LabelMap(["negative", "positive", "neutral"])
    assert label_map != ["positive", "negative", "neutral"]


def test_unknown_label_names_label_known_names_and_source():
    label_map = LabelMap(["neg", "pos"])
    with pytest.raises(
        ValueError,
        match=r"^test.csv line 17, column 'label': unknown label 'maybe'; "
        r"the label map knows \['neg', 'pos'\]. Received: label='maybe'$",
    ):
        label_map.encode(
            ["pos", "maybe"], source="test.csv line 17, column 'label'"
        )
    # A callable source is asked about the bad value's position only.
    with pytest.raises(ValueError, match=r"^row 2: unknown label 'x'"):
        label_map.encode(["neg", "pos", "x"], source=lambda i: f"row {i}")
    with pytest.raises(ValueError, match=r"^unknown label 'x'"):
        label_map.encode(["x"])


def test_long_name_lists_are_cut_in_messages():
    label_map = LabelMap([f"class_{i}" for i in range(100)])
    with pytest.raises(ValueError, match=r"'class_19', \.\.\. \(80 more\)"):
        label_map.encode(["class_100"])


@pytest.mark.parametrize(
    "names, error, message",
    [
        ([], ValueError, "at least one label"),
        ("neg", TypeError, "must be a list of str"),
        (["neg", 1], TypeError, "only str"),
        (["neg", "pos", "neg"], ValueError, r"unique. Received: \['neg'\]"),
    ],
)
def test_bad_names(names, error, message):
    with pytest.raises(error, match=message):
        LabelMap(names)


def test_bad_values():
    label_map = LabelMap(["0", "1"])
    with pytest.raises(TypeError, match="str \\(or int\\). Received: 1.0"):
        label_map.encode([1.0])
    with pytest.raises(ValueError, match=r"\[0, num_classes=2\). .*id=2"):
        label_map.decode([0, 2])
    with pytest.raises(ValueError, match="id=-1"):
        label_map.decode([-1])
    with pytest.raises(ValueError, match="holds no labels"):
        LabelMap.from_labels([])


# --- ids, multi-hot rows, names from a file -----------------------------------


def test_from_ids_reads_ids_into_the_names():
    label_map = LabelMap(["anger", "joy", "love"])
    ids = label_map.encode(["2", 0, "01", np.int64(1)], from_ids=True)
    assert ids.dtype == np.int64
    assert ids.tolist() == [2, 0, 1, 1]
    # Names that look like ints are names unless from_ids says otherwise.
    digits = LabelMap(["10", "20"])
    assert digits.encode(["20"]).tolist() == [1]
    assert digits.encode(["1"], from_ids=True).tolist() == [1]
    with pytest.raises(ValueError, match=r"^unknown label '1'"):
        digits.encode(["1"])


@pytest.mark.parametrize(
    "value, message",
    [
        ("3", "label id '3' is out of range: ids index the 3 label names, so "
              "they are ints from 0 to 2. Received: label='3'"),
        ("-1", "label id '-1' is out of range"),
        ("joy", "label id 'joy' is not a label id"),
        ("1.0", "label id '1.0' is not a label id"),
    ],
)
def test_bad_ids_name_where_they_are(value, message):
    label_map = LabelMap(["anger", "joy", "love"])
    with pytest.raises(ValueError, match=r"^f.tsv line 4: " + re.escape(
        message
    )):
        label_map.encode(["1", value], from_ids=True,
                         source=lambda i: f"f.tsv line {i + 3}")


def test_encode_multi_hot():
    label_map = LabelMap(["anger", "joy", "love"])
    multi_hot = label_map.encode_multi_hot(
        [["joy", "love"], [], ("anger",), ["joy", "joy"]]
    )
    assert multi_hot.dtype == np.float32
    np.testing.assert_array_equal(multi_hot, [
        [0, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0],
    ])
    from_ids = label_map.encode_multi_hot([["2", "0"], [1]], from_ids=True)
    np.testing.assert_array_equal(from_ids, [[1, 0, 1], [0, 1, 0]])
    assert label_map.encode_multi_hot([]).shape == (0, 3)
    assert label_map.decode_multi_hot(multi_hot) == [
        ["joy", "love"], [], ["anger"], ["joy"],
    ]
    # Probabilities: a class is in when at least the threshold.
    assert label_map.decode_multi_hot(
        [[0.2, 0.7, 0.5]], threshold=0.6
    ) == [["joy"]]
    assert label_map.decode_multi_hot([[0.2, 0.7, 0.5]]) == [["joy", "love"]]


def test_encode_multi_hot_errors():
    label_map = LabelMap(["anger", "joy"])
    with pytest.raises(
        ValueError,
        match=r"^row 1: unknown label 'fear'; the label map knows "
        r"\['anger', 'joy'\]. Received: label='fear'$",
    ):
        label_map.encode_multi_hot([["joy"], ["anger", "fear"]],
                                   source=lambda i: f"row {i}")
    with pytest.raises(ValueError, match=r"^label id '2' is out of range"):
        label_map.encode_multi_hot([["1", "2"]], from_ids=True)
    with pytest.raises(TypeError, match=r"Received: rows\[1\]='joy' of type"):
        label_map.encode_multi_hot([["joy"], "joy"])
    with pytest.raises(TypeError, match="one per example. Received: rows='j"):
        label_map.encode_multi_hot("joy")
    with pytest.raises(TypeError, match="`from_ids` must be True or False"):
        label_map.encode(["joy"], from_ids="yes")
    with pytest.raises(ValueError, match=r"num_classes=2\). Received: "
                       r"multi_hot with shape \(1, 3\)"):
        label_map.decode_multi_hot([[0, 1, 0]])


def test_from_file(tmp_path):
    path = tmp_path / "emotions.txt"
    path.write_bytes("\ufeffanger\r\n joy \r\nlove\r\n\r\n".encode())
    label_map = LabelMap.from_file(path)
    assert label_map.names == ("anger", "joy", "love")
    assert label_map.encode(["2"], from_ids=True).tolist() == [2]
    gap = tmp_path / "gap.txt"
    gap.write_text("anger\n\njoy\n")
    with pytest.raises(
        ValueError, match=r"gap.txt' line 2: a blank line among the label"
    ):
        LabelMap.from_file(gap)
    twice = tmp_path / "twice.txt"
    twice.write_text("joy\nanger\njoy\n")
    with pytest.raises(ValueError, match=r"unique. Received: \['joy'\]"):
        LabelMap.from_file(twice)
    with pytest.raises(FileNotFoundError, match="missing.txt'"):
        LabelMap.from_file(tmp_path / "missing.txt")
