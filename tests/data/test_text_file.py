import gzip
import json
import re
import time

import numpy as np
import pytest
from conftest import shared_path

from kerasft.data import (
    LabelMap,
    TextFileSplits,
    TextTable,
    load_text_file,
    load_text_splits,
    read_text_file,
)

# Texts with what each format must survive: a comma, quotes (unbalanced in
# the second), non-ASCII.
ROWS = [
    ("pos", "A fine film, truly.", "Yes."),
    ("neg", 'Dull "plot', "No."),
    ("pos", "Café crème", "Oui."),
]


def write(path, text):
    """Writes `text` to `path`, gzip-compressed when it ends with `.gz`."""
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def csv_text(rows=ROWS):
    def quote(field):
        return '"' + field.replace('"', '""') + '"'

    lines = [f"{label},{quote(text)},{quote(pair)}" for label, text, pair
             in rows]
    return "label,text,pair\n" + "\n".join(lines) + "\n"


def tsv_text(rows=ROWS):
    lines = ["\t".join(row) for row in rows]
    return "label\ttext\tpair\n" + "\n".join(lines) + "\n"


def jsonl_text(rows=ROWS):
    lines = [
        json.dumps({"text": text, "pair": pair, "label": label, "id": i})
        for i, (label, text, pair) in enumerate(rows)
    ]
    return "\n".join(lines) + "\n"


FORMATS = {
    "data.csv": csv_text,
    "data.csv.gz": csv_text,
    "data.tsv": tsv_text,
    "data.tsv.gz": tsv_text,
    "data.jsonl": jsonl_text,
    "data.jsonl.gz": jsonl_text,
    "data.json": jsonl_text,
    "data.NDJSON": jsonl_text,
}


# --- read_text_file: formats --------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_reads_the_same_rows(tmp_path, name):
    path = write(tmp_path / name, FORMATS[name]())
    table = read_text_file(path, "text", "label", text_pair_column="pair")
    assert isinstance(table, TextTable)
    assert table.texts == [text for _, text, _ in ROWS]
    assert table.text_pairs == [pair for _, _, pair in ROWS]
    assert table.labels == ["pos", "neg", "pos"]
    assert table.path == path
    # CSV / TSV: line 1 is the header; JSON Lines has none.
    first = 1 if "json" in name.lower() else 2
    assert table.line_numbers == [first, first + 1, first + 2]
    assert len(table) == 3


def test_texts_alone(tmp_path):
    table = read_text_file(write(tmp_path / "a.tsv", tsv_text()), "text")
    assert table.texts == [text for _, text, _ in ROWS]
    assert table.labels is None and table.text_pairs is None


def test_file_format_overrides_the_name_and_gzip_is_sniffed(tmp_path):
    # A .txt name says nothing; gzip is recognised by its bytes.
    path = tmp_path / "export.txt"
    path.write_bytes(gzip.compress(tsv_text().encode()))
    table = read_text_file(path, "text", "label", file_format="tsv")
    assert table.labels == ["pos", "neg", "pos"]
    with pytest.raises(ValueError, match="export.txt' from its name"):
        read_text_file(path, "text")


def test_csv_quoted_newlines_keep_line_numbers(tmp_path):
    path = write(
        tmp_path / "a.csv",
        'label,text\npos,"two\nlines"\n\nneg,"""quoted"", three\n\nlines"\n'
        "pos,last\n",
    )
    table = read_text_file(path, "text", "label")
    assert table.texts == ["two\nlines", '"quoted", three\n\nlines', "last"]
    # A row's number is the line it starts on; blank lines are skipped.
    assert table.line_numbers == [2, 5, 8]


def test_tsv_keeps_quotes_as_text(tmp_path):
    # GLUE-style: with CSV quoting the open quote would swallow the rows.
    path = write(
        tmp_path / "a.tsv", 'text\tlabel\n"Hi\t1\nsay "no" "\t0\nok\t1\n'
    )
    table = read_text_file(path, "text", "label")
    assert table.texts == ['"Hi', 'say "no" "', "ok"]
    assert table.labels == ["1", "0", "1"]


def test_header_spaces_bom_label_spaces_and_delimiter(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("\ufefflabel; text\n pos ;good\nneg;bad\n".encode())
    table = read_text_file(path, "text", "label", delimiter=";")
    assert table.texts == ["good", "bad"]
    assert table.labels == ["pos", "neg"]


def test_json_labels_may_be_ints_or_bools(tmp_path):
    path = write(
        tmp_path / "a.jsonl",
        '{"text": "a", "label": 1}\n\n{"text": "b", "label": false}\n',
    )
    table = read_text_file(path, "text", "label")
    assert table.labels == ["1", "false"]
    assert table.line_numbers == [1, 3]


def test_max_rows_stops_early(tmp_path):
    # Line 4 is bad, but never read.
    path = write(tmp_path / "a.csv", "label,text\n1,a\n0,b\n0,\n")
    table = read_text_file(path, "text", "label", max_rows=2)
    assert table.texts == ["a", "b"]


def test_clean_html(tmp_path):
    review = "Great.<br /><br />Tom &amp; Jerry<BR>in 3D<br/>&lt;3 &eacute;"
    path = write(tmp_path / "a.csv", f'label,review\n1,"{review}"\n')
    raw = read_text_file(path, "review", "label")
    assert raw.texts == [review]
    clean = read_text_file(path, "review", "label", clean_html=True)
    assert clean.texts == ["Great.  Tom & Jerry in 3D <3 é"]


# --- read_text_file: bad input ------------------------------------------------


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csv'.*not exist"):
        read_text_file(tmp_path / "missing.csv", "text")
    empty = write(tmp_path / "empty.csv", "")
    with pytest.raises(ValueError, match="empty.csv' is empty: it needs a"):
        read_text_file(empty, "text")
    blank = write(tmp_path / "blank.tsv.gz", "\n\n")
    with pytest.raises(ValueError, match="blank.tsv.gz' is empty"):
        read_text_file(blank, "text")
    header_only = write(tmp_path / "header.csv", "label,text\n\n")
    with pytest.raises(ValueError, match="header.csv' holds no rows"):
        read_text_file(header_only, "text", "label")
    no_objects = write(tmp_path / "none.jsonl", "\n")
    with pytest.raises(ValueError, match="none.jsonl' holds no rows"):
        read_text_file(no_objects, "text")


def test_column_not_in_header_lists_the_columns(tmp_path):
    path = write(tmp_path / "a.csv", "label,rating,id,review\n1,9,0,ok\n")
    with pytest.raises(
        ValueError,
        match=r"a.csv' line 1, column 'text': the header has no 'text'; its "
        r"columns are 'label', 'rating', 'id', 'review'",
    ):
        read_text_file(path, "text", "label")
    with pytest.raises(ValueError, match="column 'sentiment'"):
        read_text_file(path, "review", "sentiment")
    twice = write(tmp_path / "b.csv", "text,text\na,b\n")
    with pytest.raises(ValueError, match="has 2 columns named 'text'"):
        read_text_file(twice, "text")


@pytest.mark.parametrize("name", ["a.csv", "a.tsv", "a.jsonl"])
def test_empty_text_names_file_line_and_column(tmp_path, name):
    rows = [("pos", "fine", "x"), ("neg", "  ", "x")]
    path = write(tmp_path / name, FORMATS["data" + name[1:]](rows))
    line = 2 if name.endswith("jsonl") else 3
    with pytest.raises(
        ValueError,
        match=rf"{name}' line {line}, column 'text': the text is empty",
    ):
        read_text_file(path, "text", "label")
    # The same for the second text of a pair, and for an empty label.
    rows = [("pos", "fine", "x"), ("", "good", "")]
    path = write(tmp_path / name, FORMATS["data" + name[1:]](rows))
    with pytest.raises(ValueError, match=rf"line {line}, column 'pair'"):
        read_text_file(path, "text", text_pair_column="pair")
    with pytest.raises(
        ValueError,
        match=rf"{name}' line {line}, column 'label': the label is missing",
    ):
        read_text_file(path, "text", "label")


def test_text_empty_after_clean_html(tmp_path):
    path = write(tmp_path / "a.csv", "label,text\n1,ok\n0,<br />\n")
    assert read_text_file(path, "text").texts == ["ok", "<br />"]
    with pytest.raises(ValueError, match="line 3, column 'text'"):
        read_text_file(path, "text", clean_html=True)


def test_wrong_number_of_fields(tmp_path):
    tsv = write(tmp_path / "a.tsv", "text\tlabel\nok\t1\nok\tno\ttab\t0\n")
    with pytest.raises(
        ValueError,
        match=r"a.tsv' line 3: 4 fields, but the header has 2 \(text, label"
        r"\) \(a tab inside a field\?\)",
    ):
        read_text_file(tsv, "text", "label")
    csv_file = write(tmp_path / "a.csv", "text,label\nok,1\n\nshort\n")
    with pytest.raises(ValueError, match="a.csv' line 4: 1 fields"):
        read_text_file(csv_file, "text", "label")


def test_bad_json_lines(tmp_path):
    bad = write(tmp_path / "a.jsonl", '{"text": "a"}\n{"text": \n')
    with pytest.raises(ValueError, match="a.jsonl' line 2: not valid JSON"):
        read_text_file(bad, "text")
    not_object = write(tmp_path / "b.jsonl", '{"text": "a"}\n["a", 1]\n')
    with pytest.raises(
        ValueError, match="b.jsonl' line 2: expected a JSON object"
    ):
        read_text_file(not_object, "text")
    no_key = write(tmp_path / "c.jsonl", '{"text": "a"}\n{"txt": "b"}\n')
    with pytest.raises(
        ValueError,
        match="c.jsonl' line 2, column 'text': the object has no key 'text'; "
        "its keys are 'txt'",
    ):
        read_text_file(no_key, "text")
    null_label = write(tmp_path / "d.jsonl", '{"text": "a", "label": null}')
    with pytest.raises(ValueError, match="line 1, column 'label': the label"):
        read_text_file(null_label, "text", "label")
    float_label = write(tmp_path / "e.jsonl", '{"text": "a", "label": 0.5}')
    with pytest.raises(
        ValueError, match="column 'label': expected a string or an integer"
    ):
        read_text_file(float_label, "text", "label")
    number_text = write(tmp_path / "f.jsonl", '{"text": 3}')
    with pytest.raises(ValueError, match="column 'text': expected a string"):
        read_text_file(number_text, "text")


def test_bad_arguments(tmp_path):
    path = write(tmp_path / "a.csv", csv_text())
    with pytest.raises(ValueError, match="`file_format` must be one of"):
        read_text_file(path, "text", file_format="xlsx")
    with pytest.raises(ValueError, match="single character"):
        read_text_file(path, "text", delimiter=", ")
    with pytest.raises(ValueError, match="CSV and TSV files only"):
        read_text_file(path, "text", file_format="jsonl", delimiter=",")
    with pytest.raises(TypeError, match="`text_column` must be a column"):
        read_text_file(path, 0)
    with pytest.raises(TypeError, match="`clean_html` must be True or False"):
        read_text_file(path, "text", clean_html="yes")
    with pytest.raises(
        ValueError, match="`max_rows` must be an int >= 1. Received: max_rows=0"
    ):
        read_text_file(path, "text", max_rows=0)


# --- load_text_file -----------------------------------------------------------


def test_load_text_file_encodes_labels(tmp_path):
    path = write(tmp_path / "a.csv", csv_text())
    texts, labels, label_map = load_text_file(path, "text", "label")
    assert texts == [text for _, text, _ in ROWS]
    assert labels.dtype == np.int64
    assert labels.tolist() == [1, 0, 1]
    assert label_map == LabelMap(["neg", "pos"])
    restored = LabelMap.from_config(json.loads(json.dumps(
        label_map.get_config()
    )))
    assert restored.decode(labels) == ["pos", "neg", "pos"]


def test_load_text_file_sentence_pairs_reach_make_text_dataset(tmp_path):
    from kerasft.data import make_text_dataset, text_preprocessor

    path = write(tmp_path / "a.tsv", "s1\ts2\tlabel\na b\tb\t1\nb\ta a\t0\n")
    texts, labels, _ = load_text_file(
        path, "s1", "label", text_pair_column="s2"
    )
    assert texts == (["a b", "b"], ["b", "a a"])
    preprocessor = text_preprocessor(
        vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"],
        sequence_length=8,
    )
    dataset = make_text_dataset(
        texts, labels, preprocessor, batch_size=2, shuffle=False
    )
    features, batch_labels = next(iter(dataset))
    assert features["token_ids"].numpy().tolist()[0] == [2, 5, 6, 3, 6, 3,
                                                         0, 0]
    assert features["segment_ids"].numpy().tolist()[0] == [0, 0, 0, 0, 1, 1,
                                                           0, 0]
    assert batch_labels.numpy().tolist() == [1, 0]


def test_given_label_map_rejects_unknown_labels(tmp_path):
    path = write(tmp_path / "a.csv", "text,label\na,pos\nb,neg\nc,meh\n")
    with pytest.raises(
        ValueError,
        match=r"a.csv' line 4, column 'label': unknown label 'meh'; the "
        r"label map knows \['neg', 'pos'\]",
    ):
        load_text_file(path, "text", "label", label_map=LabelMap(
            ["neg", "pos"]
        ))
    # A given map keeps its ids, even if the file holds fewer classes.
    _, labels, label_map = load_text_file(
        path, "text", "label", label_map=LabelMap(["meh", "pos", "neg"])
    )
    assert labels.tolist() == [1, 2, 0]
    assert label_map.names == ("meh", "pos", "neg")
    with pytest.raises(TypeError, match="`label_map` must be a LabelMap"):
        load_text_file(path, "text", "label", label_map=["neg", "pos"])
    with pytest.raises(ValueError, match="`label_column` is required"):
        load_text_file(path, "text", None)


# --- multi_label --------------------------------------------------------------

EMOTIONS = ["anger", "joy", "love"]


def test_multi_label_names_in_every_format(tmp_path):
    rows = [("joy, love", "a"), ("", "b"), ("anger", "c")]
    csv_file = write(
        tmp_path / "a.csv",
        "text,tags\n" + "".join(f'{t},"{tags}"\n' for tags, t in rows),
    )
    jsonl = write(tmp_path / "a.jsonl", "".join(
        json.dumps({"text": t, "tags": value}) + "\n"
        for t, value in [("a", ["joy", "love"]), ("b", None), ("c", "anger")]
    ))
    for path in (csv_file, jsonl):
        table = read_text_file(path, "text", "tags", task="multi_label")
        assert table.task == "multi_label"
        assert table.labels == [("joy", "love"), (), ("anger",)]
        texts, labels, label_map = load_text_file(
            path, "text", "tags", task="multi_label"
        )
        assert texts == ["a", "b", "c"]
        assert label_map.names == ("anger", "joy", "love")  # sorted
        assert labels.dtype == np.float32
        # An empty cell (or null) is no label: a row of zeros.
        np.testing.assert_array_equal(labels, [[0, 1, 1], [0, 0, 0],
                                               [1, 0, 0]])


def test_multi_label_ids_into_given_names(tmp_path):
    # GoEmotions' layout: no header, CSV-quoted texts in a TSV, ids.
    path = write(
        tmp_path / "a.tsv",
        '"Tab\tinside, ""quoted"""\t2,0\tx1\nfine\t1\tx2\nmeh\t\tx3\n',
    )
    options = dict(
        task="multi_label", label_format="ids", quoting=True,
        column_names=["text", "ids", "id"],
    )
    texts, labels, label_map = load_text_file(
        path, "text", "ids", label_map=LabelMap(EMOTIONS), **options
    )
    assert texts == ['Tab\tinside, "quoted"', "fine", "meh"]
    np.testing.assert_array_equal(labels, [[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    assert label_map.names == tuple(EMOTIONS)
    # The same ids read as names are just the names "0", "1", "2".
    _, _, as_names = load_text_file(
        path, "text", "ids", task="multi_label", quoting=True,
        column_names=["text", "ids", "id"],
    )
    assert as_names.names == ("0", "1", "2")
    # JSON ids may be ints; the separator is an option.
    jsonl = write(tmp_path / "a.jsonl", '{"t": "a", "y": [2, 1]}\n'
                                        '{"t": "b", "y": 0}\n')
    _, labels, _ = load_text_file(
        jsonl, "t", "y", task="multi_label", label_format="ids",
        label_map=LabelMap(EMOTIONS),
    )
    np.testing.assert_array_equal(labels, [[0, 1, 1], [1, 0, 0]])
    piped = write(tmp_path / "p.csv", "t,y\na,joy|love\n")
    _, labels, _ = load_text_file(
        piped, "t", "y", task="multi_label", label_separator="|",
        label_map=LabelMap(EMOTIONS),
    )
    assert labels.tolist() == [[0, 1, 1]]


def test_multi_label_errors_name_file_line_and_column(tmp_path):
    path = write(tmp_path / "a.tsv", "text\tids\na\t0\nb\t1,,2\n")
    with pytest.raises(
        ValueError,
        match=r"a.tsv' line 3, column 'ids': an empty label between "
        r"separators \(labels are separated by ','; an empty cell means no "
        r"label\). Received: '1,,2'",
    ):
        read_text_file(path, "text", "ids", task="multi_label")
    out_of_range = write(tmp_path / "b.tsv", "text\tids\na\t0\nb\t1,3\n")
    with pytest.raises(
        ValueError,
        match=r"b.tsv' line 3, column 'ids': label id '3' is out of range: "
        r"ids index the 3 label names, so they are ints from 0 to 2",
    ):
        load_text_file(out_of_range, "text", "ids", task="multi_label",
                       label_format="ids", label_map=LabelMap(EMOTIONS))
    unknown = write(tmp_path / "c.csv", 'text,tags\na,joy\nb,"joy,fear"\n')
    with pytest.raises(
        ValueError,
        match=r"c.csv' line 3, column 'tags': unknown label 'fear'; the "
        r"label map knows \['anger', 'joy', 'love'\]",
    ):
        load_text_file(unknown, "text", "tags", task="multi_label",
                       label_map=LabelMap(EMOTIONS))
    with pytest.raises(
        ValueError,
        match=r"label_format='ids' reads each label as an id .* Received: "
        r"label_map=None",
    ):
        load_text_file(path, "text", "ids", task="multi_label",
                       label_format="ids")
    empty = write(tmp_path / "d.csv", "text,tags\na,\nb, \n")
    with pytest.raises(
        ValueError,
        match=r"d.csv', column 'tags': no row has a label.*Received: 2 rows",
    ):
        load_text_file(empty, "text", "tags", task="multi_label")
    bad_json = write(tmp_path / "e.jsonl", '{"t": "a", "y": ["joy", true]}\n')
    with pytest.raises(
        ValueError,
        match=r"e.jsonl' line 1, column 'y': expected a list of labels",
    ):
        read_text_file(bad_json, "t", "y", task="multi_label")


# --- regression ---------------------------------------------------------------


def test_regression_targets(tmp_path):
    path = write(tmp_path / "a.tsv", 'text\tscore\na "b\t3.8\nc\t 0 \n'
                                     "d\t-1.5e-1\n")
    table = read_text_file(path, "text", "score", task="regression")
    assert table.labels == [(3.8,), (0.0,), (-0.15,)]
    texts, scores, label_map = load_text_file(
        path, "text", "score", task="regression"
    )
    assert texts == ['a "b', "c", "d"]
    assert label_map is None
    assert scores.dtype == np.float32 and scores.shape == (3,)
    np.testing.assert_allclose(scores, [3.8, 0.0, -0.15])
    two = write(tmp_path / "b.csv", 'text,xy\na,"1,2.5"\nb,"-3, 4"\n')
    _, targets, _ = load_text_file(two, "text", "xy", task="regression",
                                   num_outputs=2)
    assert targets.dtype == np.float32
    np.testing.assert_array_equal(targets, [[1, 2.5], [-3, 4]])
    jsonl = write(tmp_path / "c.jsonl", '{"t": "a", "y": 2}\n'
                                        '{"t": "b", "y": "0.5"}\n')
    assert load_text_file(jsonl, "t", "y", task="regression")[1].tolist() \
        == [2.0, 0.5]
    pairs = write(tmp_path / "d.jsonl", '{"t": "a", "y": [1, 0.5]}\n')
    assert load_text_file(pairs, "t", "y", task="regression",
                          num_outputs=2)[1].tolist() == [[1.0, 0.5]]


@pytest.mark.parametrize(
    "cell, num_outputs, message",
    [
        ("n/a", 1, "'n/a' is not a number (task='regression' needs a "
                   "number). Received: 'n/a'"),
        ("nan", 1, "'nan' is not a finite number"),
        ("-inf", 1, "'-inf' is not a finite number"),
        ("1,5", 1, "2 values, but num_outputs=1 (expected a number). "
                   "Received: '1,5'"),
        ("1", 2, "1 value, but num_outputs=2 (expected 2 numbers separated "
                 "by ',')"),
        ("2,x", 2, "'x' is not a number"),
        (" ", 1, "the label is missing (every row needs a number). "
                 "Received: ' '"),
    ],
)
def test_regression_errors_name_file_line_column_and_value(
    tmp_path, cell, num_outputs, message
):
    first = "1" if num_outputs == 1 else "1,2"
    path = write(tmp_path / "a.tsv", f"text\tscore\na\t{first}\nb\t{cell}\n")
    where = "a.tsv' line 3, column 'score': "
    with pytest.raises(ValueError, match=re.escape(where + message)):
        load_text_file(path, "text", "score", task="regression",
                       num_outputs=num_outputs)


def test_regression_json_errors_and_bad_arguments(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"t": "a", "y": true}\n')
    with pytest.raises(
        ValueError,
        match=r"line 1, column 'y': expected a number \(in JSON, a number or "
        r"a list of numbers\). Received: true",
    ):
        read_text_file(path, "t", "y", task="regression")
    null = write(tmp_path / "b.jsonl", '{"t": "a", "y": null}\n')
    with pytest.raises(ValueError, match="the label is missing.*: null"):
        read_text_file(null, "t", "y", task="regression")
    with pytest.raises(ValueError, match="task='regression' reads numbers"):
        load_text_file(path, "t", "y", task="regression",
                       label_map=LabelMap(["a"]))
    with pytest.raises(
        ValueError,
        match=r"`num_outputs` is the numbers per row of task='regression'. "
        r"Received: num_outputs=2, task='classification'",
    ):
        read_text_file(path, "t", "y", num_outputs=2)
    with pytest.raises(ValueError, match="Received: num_outputs=0"):
        read_text_file(path, "t", "y", task="regression", num_outputs=0)
    with pytest.raises(ValueError, match="`task` must be one of "
                       "'classification', 'multi_label', 'regression'"):
        read_text_file(path, "t", "y", task="multilabel")
    with pytest.raises(ValueError, match="Received: label_format='id'"):
        load_text_file(path, "t", "y", label_format="id")
    with pytest.raises(ValueError, match="Received: label_separator=''"):
        read_text_file(path, "t", "y", label_separator="")


# --- quoting, column_names, allow_extra_fields --------------------------------


def test_quoting_option(tmp_path):
    # A CSV export whose texts hold raw, unbalanced quotes.
    raw = write(tmp_path / "a.csv", 'text,label\n5" tall,1\n"hi,0\n')
    table = read_text_file(raw, "text", "label", quoting=False)
    assert table.texts == ['5" tall', '"hi']
    # TSV: off by default, on to read CSV-quoted fields (a tab inside).
    quoted = write(tmp_path / "a.tsv", 'text\tlabel\n"a\tb ""c"""\t1\n')
    with pytest.raises(ValueError, match=r"line 2: 3 fields, but the header "
                       r"has 2 \(text, label\) \(a tab inside a field\?\)"):
        read_text_file(quoted, "text", "label")
    table = read_text_file(quoted, "text", "label", quoting=True)
    assert table.texts == ['a\tb "c"']
    with pytest.raises(TypeError, match=r"`quoting` must be True .* "
                       r"Received: quoting='none' of type str"):
        read_text_file(raw, "text", quoting="none")
    with pytest.raises(ValueError, match="`quoting` applies to CSV and TSV"):
        read_text_file(raw, "text", file_format="jsonl", quoting=False)


def test_column_names_for_files_without_a_header(tmp_path):
    path = write(tmp_path / "a.tsv", "good film\t1\n\nbad\t0\n")
    table = read_text_file(path, "text", "label",
                           column_names=("text", "label"))
    assert table.texts == ["good film", "bad"]
    assert table.labels == ["1", "0"]
    assert table.line_numbers == [1, 3]  # the first line is a row
    with pytest.raises(
        ValueError,
        match=r"a.tsv', column 'review': `column_names` has no 'review'; its "
        r"names are 'text', 'label'",
    ):
        read_text_file(path, "review", column_names=["text", "label"])
    with pytest.raises(
        ValueError,
        match=r"a.tsv' line 1: 2 fields, but `column_names` has 3 \(text, "
        r"label, id\)",
    ):
        read_text_file(path, "text", column_names=["text", "label", "id"])
    with pytest.raises(ValueError, match="`column_names` must be unique"):
        read_text_file(path, "text", column_names=["text", "text"])
    with pytest.raises(TypeError, match="`column_names` must be a list"):
        read_text_file(path, "text", column_names="text")
    with pytest.raises(TypeError, match="non-empty list of non-empty str"):
        read_text_file(path, "text", column_names=["text", ""])
    with pytest.raises(ValueError, match="`column_names` applies to CSV"):
        read_text_file(path, "text", file_format="jsonl",
                       column_names=["text"])


def test_allow_extra_fields(tmp_path):
    # STS-B's original test file: two source fields on some rows only.
    path = write(tmp_path / "a.tsv", "a\t1\nb\t2\tsrc\tsrc\nc\n")
    with pytest.raises(ValueError, match="line 2: 4 fields, but"):
        read_text_file(path, "text", column_names=["text", "score"])
    with pytest.raises(
        ValueError,
        match=r"line 3: 1 fields, but `column_names` has 2 \(text, score\) "
        r"\(rows need at least that many\)",
    ):
        read_text_file(path, "text", "score", column_names=["text", "score"],
                       allow_extra_fields=True)
    table = read_text_file(path, "text", "score", task="regression",
                           column_names=["text", "score"],
                           allow_extra_fields=True, max_rows=2)
    assert table.labels == [(1.0,), (2.0,)]
    with pytest.raises(ValueError, match="`allow_extra_fields` applies to"):
        read_text_file(path, "text", file_format="jsonl",
                       allow_extra_fields=True)


# --- load_text_splits ---------------------------------------------------------


def parts(splits):
    return splits.train, splits.validation, splits.test


def labelled_rows(num_rows, num_classes=2, prefix="row"):
    labels = ["neg", "pos", "neutral"][:num_classes]
    return "".join(
        f"{prefix} {i},{labels[i % num_classes]}\n" for i in range(num_rows)
    )


def test_splits_from_files_share_the_train_map(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\n" + labelled_rows(6))
    test = write(tmp_path / "test.jsonl", jsonl_text())
    validation = write(tmp_path / "dev.tsv", tsv_text())
    splits = load_text_splits(
        train, "text", "label", test_path=test, validation_path=validation
    )
    assert isinstance(splits, TextFileSplits)
    # Both files given: the train file is used whole, in order.
    assert splits.train[0] == [f"row {i}" for i in range(6)]
    assert splits.train[1].tolist() == [0, 1, 0, 1, 0, 1]
    assert splits.test[0] == [text for _, text, _ in ROWS]
    assert splits.test[1].tolist() == [1, 0, 1]
    assert splits.validation[1].tolist() == [1, 0, 1]
    assert splits.label_map.names == ("neg", "pos")


def test_unknown_test_label_names_file_line_and_column(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\n" + labelled_rows(6))
    test = write(
        tmp_path / "test.csv", "text,label\n" + labelled_rows(6, 3, "t")
    )
    with pytest.raises(
        ValueError,
        match=r"test.csv' line 4, column 'label': unknown label 'neutral'",
    ):
        load_text_splits(train, "text", "label", test_path=test)


def test_cut_splits_are_stratified_disjoint_and_seeded(tmp_path):
    train = write(
        tmp_path / "train.csv", "text,label\n" + labelled_rows(60, 3)
    )
    splits = load_text_splits(train, "text", "label", seed=3)
    assert [len(part[0]) for part in parts(splits)] == [48, 6, 6]
    names = splits.label_map.names
    assert names == ("neg", "neutral", "pos")
    for texts, labels in parts(splits):
        # Stratified: each class keeps its share (a third).
        counts = np.bincount(labels, minlength=3).tolist()
        assert counts == [len(labels) // 3] * 3
        # Every text keeps its label.
        assert all(
            names[y] == ["neg", "pos", "neutral"][int(t.split()[1]) % 3]
            for t, y in zip(texts, labels)
        )
        # In file order.
        assert texts == sorted(texts, key=lambda t: int(t.split()[1]))
    everything = sum((part[0] for part in parts(splits)), [])
    assert sorted(everything) == sorted(f"row {i}" for i in range(60))
    again = load_text_splits(train, "text", "label", seed=3)
    assert again.test[0] == splits.test[0]
    other = load_text_splits(train, "text", "label", seed=4)
    assert other.test[0] != splits.test[0]


def test_cut_only_what_has_no_file(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\n" + labelled_rows(40))
    test = write(tmp_path / "test.csv", "text,label\n" + labelled_rows(4))
    splits = load_text_splits(
        train, "text", "label", test_path=test, validation_fraction=0.25
    )
    assert [len(part[0]) for part in parts(splits)] == [30, 10, 4]
    no_validation = load_text_splits(
        train, "text", "label", test_path=test, validation_fraction=0
    )
    assert no_validation.validation is None
    assert len(no_validation.train[0]) == 40
    neither = load_text_splits(
        train, "text", "label", validation_fraction=0, test_fraction=0
    )
    assert neither.validation is None and neither.test is None


def test_cut_splits_of_sentence_pairs(tmp_path):
    rows = [("pos" if i % 2 else "neg", f"a {i}", f"b {i}") for i in range(20)]
    train = write(tmp_path / "train.jsonl", jsonl_text(rows))
    splits = load_text_splits(
        train, "text", "label", text_pair_column="pair",
        validation_fraction=0.2, test_fraction=0.2,
    )
    for (first, second), labels in parts(splits):
        assert [t.split()[1] for t in first] == [t.split()[1] for t in second]
        assert len(first) == len(labels)
    assert [len(part[1]) for part in parts(splits)] == [12, 4, 4]


def test_too_few_rows_to_stratify(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\na,x\nb,y\nc,y\n")
    with pytest.raises(
        ValueError,
        match=r"stratified split from '.*train.csv' \(3 rows; per class "
        r"\[1, 2\]\)",
    ):
        load_text_splits(train, "text", "label")
    with pytest.raises(ValueError, match="`validation_fraction` must be"):
        load_text_splits(train, "text", "label", validation_fraction=1.0)


def test_multi_label_splits_are_cut_unstratified_with_one_map(tmp_path):
    tags = ["joy", "", "anger,joy", "love"]
    rows = "".join(f'row {i},"{tags[i % 4]}"\n' for i in range(20))
    train = write(tmp_path / "train.csv", "text,tags\n" + rows)
    test = write(tmp_path / "test.csv", 'text,tags\nt,"love,anger"\n')
    splits = load_text_splits(
        train, "text", "tags", test_path=test, validation_fraction=0.25,
        task="multi_label", seed=1,
    )
    assert splits.task == "multi_label"
    assert splits.label_map.names == ("anger", "joy", "love")
    assert [len(part[0]) for part in parts(splits)] == [15, 5, 1]
    np.testing.assert_array_equal(splits.test[1], [[1, 0, 1]])
    expected = {
        f"row {i}": LabelMap(["anger", "joy", "love"]).encode_multi_hot(
            [[t for t in tags[i % 4].split(",") if t]]
        )[0].tolist()
        for i in range(20)
    }
    for texts, labels in (splits.train, splits.validation):
        assert labels.dtype == np.float32
        assert [expected[t] for t in texts] == labels.tolist()
    seen = splits.train[0] + splits.validation[0]
    assert sorted(seen) == sorted(expected)
    again = load_text_splits(
        train, "text", "tags", test_path=test, validation_fraction=0.25,
        task="multi_label", seed=1,
    )
    assert again.validation[0] == splits.validation[0]


def test_regression_splits_and_given_id_map(tmp_path):
    rows = "".join(f"row {i}\t{i / 4}\n" for i in range(10))
    train = write(tmp_path / "train.tsv", "text\tscore\n" + rows)
    splits = load_text_splits(train, "text", "score", task="regression",
                              validation_fraction=0.2, test_fraction=0.1)
    assert splits.label_map is None and splits.task == "regression"
    assert [len(part[0]) for part in parts(splits)] == [7, 2, 1]
    for texts, scores in parts(splits):
        assert scores.dtype == np.float32
        assert [int(t.split()[1]) / 4 for t in texts] == scores.tolist()
    # Ids need the names; the test file's ids are read into the same ones.
    ids = write(tmp_path / "ids.tsv", "text\ty\na\t1\nb\t0,1\n")
    bad = write(tmp_path / "bad.tsv", "text\ty\nc\t2\n")
    with pytest.raises(ValueError, match=r"bad.tsv' line 2, column 'y': "
                       r"label id '2' is out of range"):
        load_text_splits(ids, "text", "y", test_path=bad,
                         validation_fraction=0, task="multi_label",
                         label_map=LabelMap(["no", "yes"]),
                         label_format="ids")
    tiny = write(tmp_path / "tiny.tsv", "text\tscore\na\t1\n")
    with pytest.raises(ValueError, match=r"Cannot cut a split from "
                       r"'.*tiny.tsv' \(1 rows\)"):
        load_text_splits(tiny, "text", "score", task="regression")


# --- the real IMDB files (../shared/data/imdb) --------------------------------


@pytest.fixture(scope="module")
def imdb():
    """Both IMDB files as read, raw; the ratings come as the `pair`."""
    tables = {}
    for split in ("train", "test"):
        path = shared_path("data", "imdb", f"{split}.csv.gz")
        start = time.perf_counter()
        # rating as the "pair" column: one read gives text, rating, label.
        tables[split] = read_text_file(
            path, "review", "label", text_pair_column="rating"
        )
        print(f"{split}: read in {time.perf_counter() - start:.2f} s")
    return tables


@pytest.mark.shared
def test_imdb_rows_and_labels(imdb):
    for table in imdb.values():
        assert len(table) == 25_000
        assert table.line_numbers[-1] == 25_001  # one review per line
        label_map = LabelMap.from_labels(table.labels)
        assert label_map.names == ("0", "1")
        labels = label_map.encode(table.labels)
        assert np.bincount(labels).tolist() == [12_500, 12_500]
        # Label 1 = positive: ratings 7-10; 0 = negative: 1-4.
        ratings = np.array(table.text_pairs, dtype=int)
        assert set(ratings[labels == 1]) == {7, 8, 9, 10}
        assert set(ratings[labels == 0]) == {1, 2, 3, 4}


@pytest.mark.shared
def test_imdb_html_line_breaks(imdb):
    for table in imdb.values():
        share = np.mean(["<br />" in text for text in table.texts])
        assert 0.55 <= share <= 0.63, share  # 0.587 train, 0.581 test


@pytest.mark.shared
def test_imdb_splits_with_the_train_map():
    start = time.perf_counter()
    splits = load_text_splits(
        shared_path("data", "imdb", "train.csv.gz"),
        "review",
        "label",
        test_path=shared_path("data", "imdb", "test.csv.gz"),
        validation_fraction=0.1,
        clean_html=True,
    )
    print(f"train + test, clean_html: {time.perf_counter() - start:.2f} s")
    assert splits.label_map.names == ("0", "1")
    assert splits.label_map.encode(["1"]).tolist() == [1]  # positive
    assert [len(part[1]) for part in parts(splits)] == [22_500, 2_500, 25_000]
    for texts, labels in parts(splits):
        assert not any("<br" in text.lower() for text in texts)
        assert labels.mean() == 0.5  # stratified, and both files balanced
    assert "&amp;" not in " ".join(splits.test[0])
