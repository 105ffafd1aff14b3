import random
import warnings

import pytest
from conftest import shared_path
from seqeval.metrics.sequence_labeling import get_entities

from kerasft.data.conll import TaggedSentences
from kerasft.data.tag_schemes import (
    SCHEMES,
    check_tags,
    convert_tags,
    entity_spans,
    tag_names_for,
    tag_names_from,
    tags_from_spans,
)
from kerasft.data.wnut17 import load_wnut17


def random_tags(rng, length, prefixes="BIESO", types=("PER", "LOC")):
    """Any mix of prefixes and types, malformed sequences included."""
    tags = []
    for _ in range(length):
        prefix = rng.choice(prefixes)
        tags.append("O" if prefix == "O" else
                    f"{prefix}-{rng.choice(types)}")
    return tags


def random_valid_tags(rng, length, scheme, types=("PER", "LOC")):
    """Tags spelled by the scheme: random entities, adjacent ones often."""
    spans, position = [], 0
    while position < length:
        position += rng.choice([0, 0, 1, 2])  # 0: an adjacent entity
        if position >= length:
            break
        end = min(position + rng.choice([0, 0, 1, 2]), length - 1)
        spans.append((rng.choice(types), position, end))
        position = end + 1
    return tags_from_spans(spans, length, scheme)


# --- entity_spans: seqeval's reading -----------------------------------------


def test_entity_spans_matches_seqeval_on_random_sequences():
    rng = random.Random(0)
    # Malformed ones too, and the odd tags seqeval reads anyway ("B" bare,
    # "X-PER", a type holding "-"): seqeval only warns on those.
    odd = ["B", "I", "X-PER", "B-creative-work", "I-creative-work", ".-PER"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval's "not NE tag" warnings
        for _ in range(3000):
            tags = random_tags(rng, rng.randint(0, 12))
            if rng.random() < 0.3:
                tags.insert(rng.randint(0, len(tags)), rng.choice(odd))
            assert entity_spans(tags) == get_entities(tags), tags


def test_entity_spans_by_hand_and_nested_as_seqeval():
    assert entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [
        ("PER", 0, 1), ("LOC", 3, 3)
    ]
    # An I- after O starts an entity; B- splits two of the same type.
    assert entity_spans(["O", "I-PER", "I-PER", "B-PER"]) == [
        ("PER", 1, 2), ("PER", 3, 3)
    ]
    assert entity_spans(["B-PER", "E-PER", "S-PER", "I-LOC"]) == [
        ("PER", 0, 1), ("PER", 2, 2), ("LOC", 3, 3)
    ]
    nested = [["B-PER", "I-PER"], ["I-LOC"], ["O", "B-LOC"]]
    assert entity_spans(nested) == get_entities(nested) == [
        ("PER", 0, 1), ("LOC", 3, 3), ("LOC", 6, 6)
    ]
    assert entity_spans([]) == []


# --- check_tags --------------------------------------------------------------


def test_valid_tags_pass_unchanged_in_every_scheme():
    rng = random.Random(1)
    for scheme in SCHEMES:
        corpus = [random_valid_tags(rng, rng.randint(0, 10), scheme)
                  for _ in range(300)]
        assert check_tags(corpus, scheme) == corpus
        assert check_tags(corpus[3], scheme) == corpus[3]  # one sentence


@pytest.mark.parametrize("tags, j, after", [
    (["I-PER", "O"], 0, "the sentence start"),
    (["O", "O", "I-PER"], 2, "'O'"),
    (["B-LOC", "I-PER"], 1, "'B-LOC'"),
    (["B-PER", "I-PER", "O", "I-PER"], 3, "'O'"),
])
def test_iob2_refuses_an_i_tag_that_starts_an_entity(tags, j, after):
    with pytest.raises(ValueError) as info:
        check_tags([["O"], tags], "IOB2")
    message = str(info.value)
    assert message.startswith(f"sentence 1, word {j}: '{tags[j]}' does not "
                              "continue an entity of type 'PER'")
    assert f"(it follows {after})" in message
    assert "repair=True" in message and "'B-PER'" in message


def test_repair_rewrites_to_b_as_seqeval_reads_it():
    tags = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-PER"], ["O"]]
    assert check_tags(tags, "IOB2", repair=True) == [
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-PER"], ["O"]
    ]
    assert tags[0][0] == "I-PER"  # the input is left alone
    # In BIOES the whole entity is respelled (B- + E-, or S-).
    assert check_tags(["I-PER", "I-PER", "O", "B-LOC"], "BIOES",
                      repair=True) == ["B-PER", "E-PER", "O", "S-LOC"]
    # IOB1 writes an entity-initial I-: only a B- after O is off.
    assert check_tags(["B-PER", "I-PER", "B-PER"], "IOB1",
                      repair=True) == ["I-PER", "I-PER", "B-PER"]


def test_repair_never_changes_what_seqeval_reads():
    rng = random.Random(2)
    for scheme in SCHEMES:
        prefixes = "BIESO" if scheme == "BIOES" else "BIO"
        for _ in range(500):
            tags = random_tags(rng, rng.randint(1, 10), prefixes)
            repaired = check_tags(tags, scheme, repair=True)
            assert get_entities(repaired) == get_entities(tags)
            assert check_tags(repaired, scheme) == repaired  # now valid


def test_errors_name_the_file_and_line_with_where():
    sentences = TaggedSentences(
        words=[["a"], ["b", "c", "d"]],
        tags=[["O"], ["O", "B-PER", "I-LOC"]],
        lines=[3, 5],
        path="train.conll",
    )
    with pytest.raises(ValueError, match=r"^train\.conll:7: 'I-LOC' does "):
        check_tags(sentences.tags, "IOB2", where=sentences.location)


@pytest.mark.parametrize("scheme, tag", [
    ("IOB2", "E-PER"), ("IOB2", "S-PER"), ("IOB1", "E-PER"),
    ("BIOES", "PER"), ("IOB2", "B-"), ("IOB2", "b-PER"), ("IOB2", "B_PER"),
    ("BIOES", "o"), ("IOB2", ""),
])
def test_tags_outside_the_scheme_are_refused_even_with_repair(scheme, tag):
    with pytest.raises(ValueError) as info:
        check_tags(["O", tag], scheme, repair=True)
    assert str(info.value).startswith(
        f"sentence 0, word 1: {tag!r} is not a valid {scheme} tag"
    )


def test_iob1_refuses_a_b_that_separates_nothing():
    with pytest.raises(ValueError, match="look like IOB2"):
        check_tags(["O", "B-PER", "I-PER"], "IOB1")
    # Between two adjacent entities of one type, B- is IOB1's own.
    assert check_tags(["I-PER", "B-PER"], "IOB1") == ["I-PER", "B-PER"]


@pytest.mark.parametrize("tags, message", [
    (["B-PER", "O"], "'B-PER' is not followed by 'I-PER' or 'E-PER' (but "
                     "by 'O')"),
    (["B-PER", "I-PER"], "'I-PER' is not followed by"),
    (["O", "E-PER"], "'E-PER' does not continue an entity"),
    (["S-PER", "I-PER", "E-PER"], "'I-PER' does not continue an entity"),
])
def test_bioes_refuses_entities_left_open_or_closed_twice(tags, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        check_tags(tags, "BIOES")


def test_bad_arguments():
    with pytest.raises(ValueError, match="`scheme` must be one of"):
        check_tags(["O"], "BIO")
    with pytest.raises(TypeError, match="not one string"):
        check_tags("O", "IOB2")
    with pytest.raises(TypeError, match=r"Received: tags\[1\]\[0\]=3"):
        check_tags([["O"], [3]], "IOB2")
    with pytest.raises(TypeError, match="`where` must be a callable"):
        check_tags(["O"], "IOB2", where="train.conll")


# --- convert_tags ------------------------------------------------------------

IOB1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-PER", "O", "I-LOC"]
IOB2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-PER", "O", "B-LOC"]
BIOES = ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "S-PER", "O", "S-LOC"]
BY_HAND = {"IOB1": IOB1, "IOB2": IOB2, "BIOES": BIOES}


@pytest.mark.parametrize("source", SCHEMES)
@pytest.mark.parametrize("target", SCHEMES)
def test_convert_by_hand(source, target):
    assert convert_tags(BY_HAND[source], source, target) == BY_HAND[target]
    assert convert_tags([BY_HAND[source], ["O"]], source, target) == [
        BY_HAND[target], ["O"]
    ]


@pytest.mark.parametrize("source", SCHEMES)
@pytest.mark.parametrize("target", SCHEMES)
def test_round_trips_keep_tags_and_entities(source, target):
    rng = random.Random(3)
    corpus = [random_valid_tags(rng, rng.randint(0, 12), source)
              for _ in range(400)]
    converted = convert_tags(corpus, source, target)
    assert check_tags(converted, target) == converted
    for tags, other in zip(corpus, converted):
        assert get_entities(other) == get_entities(tags)
    assert convert_tags(converted, target, source) == corpus


def test_convert_refuses_malformed_source_tags():
    with pytest.raises(ValueError, match="does not continue"):
        convert_tags(["O", "I-PER"], "IOB2", "BIOES")
    with pytest.raises(ValueError, match="`target` must be one of"):
        convert_tags(["O"], "IOB2", "IOBES")


def test_tags_from_spans_refuses_overlaps():
    with pytest.raises(ValueError, match="not overlap"):
        tags_from_spans([("PER", 0, 1), ("LOC", 1, 2)], 3, "IOB2")
    with pytest.raises(ValueError, match="inside the sentence"):
        tags_from_spans([("PER", 2, 3)], 3, "IOB2")


# --- tag names ---------------------------------------------------------------


def test_tag_names_for():
    assert tag_names_for(["PER", "LOC", "PER"], "IOB2") == [
        "O", "B-LOC", "I-LOC", "B-PER", "I-PER"
    ]
    assert tag_names_for(["PER", "LOC"], "IOB1") == [
        "O", "B-LOC", "I-LOC", "B-PER", "I-PER"
    ]
    assert tag_names_for(["PER"], "BIOES") == [
        "O", "B-PER", "I-PER", "E-PER", "S-PER"
    ]
    assert tag_names_for([], "IOB2") == ["O"]
    with pytest.raises(TypeError, match="not one string"):
        tag_names_for("PER", "IOB2")
    with pytest.raises(ValueError, match="non-empty strings"):
        tag_names_for(["PER", ""], "IOB2")


def test_tag_names_from():
    tags = [["B-PER", "I-PER"], ["O", "B-LOC"], ["S-ORG"]]
    assert tag_names_from(tags, "BIOES") == tag_names_for(
        ["LOC", "ORG", "PER"], "BIOES"
    )
    with pytest.raises(ValueError, match="'S-ORG' is not a valid IOB2 tag"):
        tag_names_from(tags, "IOB2")


# --- WNUT-17 ------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize("split, num_entities", [
    ("train", 1975), ("validation", 836), ("test", 1079),
])
def test_wnut17_has_no_i_tag_that_starts_an_entity(split, num_entities):
    sentences = load_wnut17(split, data_dir=shared_path("data", "wnut17"))
    # Counted by hand, not by check_tags: an I-X whose previous tag is not
    # B-X or I-X.
    starting = sum(
        tag.startswith("I-") and (j == 0 or tags[j - 1][2:] != tag[2:])
        for tags in sentences.tags
        for j, tag in enumerate(tags)
    )
    assert starting == 0
    assert check_tags(sentences.tags, "IOB2") == sentences.tags
    spans = [entity_spans(tags) for tags in sentences.tags]
    assert spans == [get_entities(tags) for tags in sentences.tags]
    assert sum(map(len, spans)) == num_entities
    assert sum(tag.startswith("B-") for tags in sentences.tags
               for tag in tags) == num_entities
