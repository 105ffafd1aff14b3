import gzip
import json
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
