import gzip

import pytest
from conftest import shared_path

from kerasft.data.conll import TaggedSentences, read_conll
from kerasft.data.wnut17 import WNUT17_TAGS, load_wnut17

CONLL_2003 = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP B-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP B-MISC\n"
    "\n"
    "Peter NNP B-NP B-PER\n"
    "Blackburn NNP I-NP I-PER\n"
    "\n"
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "BRUSSELS NNP B-NP B-LOC\n"
)


def write(tmp_path, text, name="data.conll"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_reads_sentences_tags_and_first_lines(tmp_path):
    path = write(tmp_path, CONLL_2003)
    sentences = read_conll(path)
    assert sentences.words == [
        ["EU", "rejects", "German"], ["Peter", "Blackburn"], ["BRUSSELS"]
    ]
    assert sentences.tags == [
        ["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"], ["B-LOC"]
    ]
    assert sentences.lines == [3, 7, 12]
    assert len(sentences) == 3 and sentences.num_words == 6
    assert sentences.location(1, 1) == f"{path}:8"
    # Another column: the chunk tags.
    chunks = read_conll(path, tag_column=2)
    assert chunks.tags[1] == ["B-NP", "I-NP"]
    words_only = read_conll(path, tag_column=None)
    assert words_only.tags is None and words_only.words == sentences.words


def test_whitespace_only_lines_separate_sentences(tmp_path):
    # As in WNUT-17's train file: a tab alone; also spaces and a CRLF.
    text = "a\tO\nb\tB-X\n\t\nc\tO\n   \nd\tO\r\n\r\ne\tO\n\n\n"
    for delimiter in (None, "\t"):
        sentences = read_conll(write(tmp_path, text), delimiter=delimiter)
        assert sentences.words == [["a", "b"], ["c"], ["d"], ["e"]]
        assert sentences.tags == [["O", "B-X"], ["O"], ["O"], ["O"]]
        assert sentences.lines == [1, 4, 6, 8]


def test_a_docstart_line_ends_a_sentence(tmp_path):
    sentences = read_conll(write(tmp_path, "a O\n-DOCSTART- O\nb O\n"))
    assert sentences.words == [["a"], ["b"]]
    assert sentences.lines == [1, 3]


def test_gzip_files_are_read_whatever_their_name(tmp_path):
    data = gzip.compress(CONLL_2003.encode("utf-8"))
    for name in ("data.conll.gz", "data.conll"):
        sentences = read_conll(write(tmp_path, data, name))
        assert sentences.words[0] == ["EU", "rejects", "German"]


def test_byte_order_mark_and_tokens_with_spaces(tmp_path):
    text = "\ufeffNew York\tB-LOC\nis\tO\n"
    sentences = read_conll(write(tmp_path, text), delimiter="\t")
    assert sentences.words == [["New York", "is"]]
    # Split on any whitespace, the same line has three columns.
    with pytest.raises(ValueError, match=r"data\.conll:2 has 2 columns"):
        read_conll(write(tmp_path, text))


def test_tokens_keep_characters_that_splitlines_would_break_at(tmp_path):
    # \x1c and \u2028 are line breaks for str.splitlines, not for CoNLL.
    text = "a\x1cb\tO\nc\u2028d\tB-X\n"
    sentences = read_conll(write(tmp_path, text), delimiter="\t")
    assert sentences.words == [["a\x1cb", "c\u2028d"]]


def test_a_line_with_another_column_count_is_refused(tmp_path):
    path = write(tmp_path, "a B-NP O\nb B-NP\nc I-NP O\n")
    with pytest.raises(ValueError) as info:
        read_conll(path)
    assert str(info.value).startswith(
        f"{path}:2 has 2 columns (a missing tag?), but the file's first "
        f"token line ({path}:1) has 3."
    )
    path = write(tmp_path, "a O\n\nb O extra\n")
    with pytest.raises(ValueError, match=r":3 has 3 columns, but"):
        read_conll(path)


def test_a_missing_tag_in_a_tab_separated_file_is_refused(tmp_path):
    path = write(tmp_path, "a\tO\nb\t\n")
    with pytest.raises(ValueError, match=rf"^{path}:2 has an empty tag"):
        read_conll(path, delimiter="\t")
    path = write(tmp_path, "a\tO\n\tO\n")
    with pytest.raises(ValueError, match=rf"^{path}:2 has an empty token"):
        read_conll(path, delimiter="\t")


@pytest.mark.parametrize("text", ["", "\n\n\t\n", "-DOCSTART- O\n\n"])
def test_a_file_without_sentences_is_refused(tmp_path, text):
    with pytest.raises(ValueError, match="holds no sentences"):
        read_conll(write(tmp_path, text))


def test_bad_bytes_and_columns_are_refused_naming_the_line(tmp_path):
    path = write(tmp_path, b"a O\nb O\n\xff O\n")
    with pytest.raises(ValueError, match=rf"^{path}:3 is not UTF-8"):
        read_conll(path)
    path = write(tmp_path, "a O\n")
    with pytest.raises(ValueError, match="`tag_column` is out of range"):
        read_conll(path, tag_column=2)
    with pytest.raises(ValueError, match="name the same column"):
        read_conll(write(tmp_path, "a\nb\n"))
    with pytest.raises(ValueError, match="`delimiter` must be"):
        read_conll(path, delimiter="")
    with pytest.raises(TypeError, match="`token_column` must be an int"):
        read_conll(path, token_column="0")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_conll(tmp_path / "missing.conll")


def test_tagged_sentences_checks_its_shapes():
    with pytest.raises(ValueError, match="one tag per word"):
        TaggedSentences([["a", "b"]], [["O"]])
    with pytest.raises(ValueError, match="`tags` must have one entry"):
        TaggedSentences([["a"]], [["O"], ["O"]])
    assert TaggedSentences([["a"]]).location(0, 0) == "sentence 0, word 0"


# --- WNUT-17 ------------------------------------------------------------------


@pytest.mark.shared
def test_wnut17_splits_have_the_published_sizes():
    data_dir = shared_path("data", "wnut17")
    sizes = {}
    for split in ("train", "validation", "test"):
        sentences = load_wnut17(split, data_dir=data_dir)
        sizes[split] = (len(sentences), sentences.num_words)
        tags = {tag for sentence in sentences.tags for tag in sentence}
        assert tags == set(WNUT17_TAGS)
    assert sizes == {
        "train": (3394, 62730),
        "validation": (1009, 15733),
        "test": (1287, 23394),
    }
    train = load_wnut17("train", data_dir=data_dir)
    assert train.words[0][:3] == ["@paulwalk", "It", "'s"]
    assert train.lines[:2] == [1, 29]  # line 28 holds a tab alone
    # The trap: splitting on empty lines only finds 1,000 sentences.
    text = (data_dir / "wnut17train.conll").read_text(encoding="utf-8")
    blocks = [block for block in text.split("\n\n") if block.strip()]
    assert len(blocks) == 1000


def test_wnut17_arguments(tmp_path):
    with pytest.raises(ValueError, match="`split` must be one of"):
        load_wnut17("dev", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="no 'emerging.dev.conll'"):
        load_wnut17("validation", data_dir=tmp_path)
