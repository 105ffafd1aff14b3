"""The tiny presets of tests/text_families.py load back as real presets.

For each family: `Backbone.from_preset` gives the family's class with the
saved weights, the family's preprocessor (the generic one for ELECTRA)
packs SENTENCES and a sentence pair with the family's start/end tokens and
no unknown token, the backbone runs on them, and FAMILY_FACTS holds.
"""

import functools

import keras_hub
import numpy as np
import pytest
from text_families import (
    FAMILIES,
    FAMILY_FACTS,
    SENTENCE_PAIR,
    SENTENCES,
    build_tiny,
    tiny_preset,
)

SEQUENCE_LENGTH = 16
HIDDEN_DIM = 16

pytestmark = pytest.mark.parametrize("family", FAMILIES)


@functools.cache
def loaded_backbone(family):
    return keras_hub.models.Backbone.from_preset(tiny_preset(family))


@functools.cache
def loaded_preprocessor(family):
    path = tiny_preset(family)
    if family == "electra":
        # No ElectraTextClassifierPreprocessor upstream; see FAMILY_FACTS.
        tokenizer = keras_hub.tokenizers.ElectraTokenizer.from_preset(path)
        return keras_hub.models.TextClassifierPreprocessor(
            tokenizer=tokenizer, sequence_length=SEQUENCE_LENGTH
        )
    cls = getattr(keras_hub.models, FAMILY_FACTS[family]["preprocessor"])
    return cls.from_preset(path, sequence_length=SEQUENCE_LENGTH)


def numpy_dict(features):
    return {key: np.asarray(value) for key, value in features.items()}


def check_output(family, output, batch_size):
    if FAMILY_FACTS[family]["output"] == "dict":
        assert set(output) == {"sequence_output", "pooled_output"}
        sequence, pooled = output["sequence_output"], output["pooled_output"]
        assert tuple(pooled.shape) == (batch_size, HIDDEN_DIM)
    else:
        assert not isinstance(output, dict)
        sequence = output
    assert tuple(sequence.shape) == (batch_size, SEQUENCE_LENGTH, HIDDEN_DIM)
    assert np.all(np.isfinite(np.asarray(sequence)))


def test_backbone_matches_facts(family):
    facts = FAMILY_FACTS[family]
    backbone = loaded_backbone(family)
    assert type(backbone).__name__ == facts["backbone"]
    assert isinstance(backbone, getattr(keras_hub.models, facts["backbone"]))
    assert tuple(backbone.input) == facts["inputs"]
    assert isinstance(backbone.output, dict) == (facts["output"] == "dict")
    names = [layer.name for layer in backbone.layers]
    if facts["pooler"] is None:
        assert not any("pool" in name for name in names)
    else:
        assert facts["pooler"] in names
    first = next(
        i for i, name in enumerate(names)
        if name.startswith(facts["transformer_prefix"])
    )
    embeddings = tuple(
        layer.name for layer in backbone.layers[:first] if layer.weights
    )
    assert embeddings == facts["embeddings"]
    assert getattr(backbone, facts["start_index_attr"]) == 0
    assert getattr(backbone, facts["hidden_attr"]) == HIDDEN_DIM
    assert (
        getattr(backbone, facts["vocabulary_attr"])
        == facts["vocabulary_size"]
        == loaded_preprocessor(family).tokenizer.vocabulary_size()
    )


def test_weights_round_trip(family):
    """Loaded weights are those built: saved whole, and built repeatably."""
    built, tokenizer = build_tiny(family)
    loaded = loaded_backbone(family)
    assert [v.path for v in loaded.weights] == [v.path for v in built.weights]
    for saved, restored in zip(built.weights, loaded.weights):
        np.testing.assert_array_equal(
            restored.numpy(), saved.numpy(), err_msg=saved.path
        )
    loaded_tokenizer = loaded_preprocessor(family).tokenizer
    assert list(loaded_tokenizer.get_vocabulary()) == list(
        tokenizer.get_vocabulary()
    )


def test_tokenizer_matches_facts(family):
    facts = FAMILY_FACTS[family]
    preprocessor = loaded_preprocessor(family)
    tokenizer = preprocessor.tokenizer
    assert type(preprocessor).__name__ == facts["preprocessor"]
    assert type(tokenizer).__name__ == facts["tokenizer"]
    for role, token in facts["specials"].items():
        assert tokenizer.token_to_id(token) == facts["special_ids"][role]
    assert tokenizer.start_token_id == facts["special_ids"]["start"]
    assert tokenizer.end_token_id == facts["special_ids"]["end"]
    assert tokenizer.pad_token_id == facts["special_ids"]["pad"]
    assert tokenizer.mask_token_id == facts["special_ids"]["mask"]
    last = tokenizer.vocabulary_size() - 1
    assert (tokenizer.mask_token_id == last) == facts["mask_is_last"]
    # Every word of SENTENCES is one token, none of them unknown.
    words = sorted({word for sentence in SENTENCES for word in
                    sentence.split()})
    for word, ids in zip(words, tokenizer(words)):
        assert len(ids) == 1 and ids[0] != facts["special_ids"]["unk"], word


def test_generic_preprocessor_from_preset(family):
    """TextClassifierPreprocessor.from_preset resolves all but ELECTRA."""
    path = tiny_preset(family)
    generic = keras_hub.models.TextClassifierPreprocessor
    if family == "electra":
        for cls in (generic, keras_hub.models.BertTextClassifierPreprocessor):
            with pytest.raises(ValueError, match="Unable to find a subclass"):
                cls.from_preset(path, sequence_length=SEQUENCE_LENGTH)
        # Built directly, BERT's preprocessor packs ELECTRA's tokens alike.
        tokenizer = loaded_preprocessor(family).tokenizer
        bert_style = keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer=tokenizer, sequence_length=SEQUENCE_LENGTH
        )
        expected = numpy_dict(loaded_preprocessor(family)(SENTENCES))
        got = numpy_dict(bert_style(SENTENCES))
    else:
        preprocessor = generic.from_preset(
            path, sequence_length=SEQUENCE_LENGTH
        )
        assert type(preprocessor).__name__ == (
            FAMILY_FACTS[family]["preprocessor"]
        )
        expected = numpy_dict(loaded_preprocessor(family)(SENTENCES))
        got = numpy_dict(preprocessor(SENTENCES))
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def test_sentences_pack_and_run(family):
    facts = FAMILY_FACTS[family]
    ids = facts["special_ids"]
    features = loaded_preprocessor(family)(SENTENCES)
    assert set(features) == set(facts["inputs"])
    x = numpy_dict(features)
    token_ids = x["token_ids"]
    batch = len(SENTENCES)
    assert token_ids.shape == (batch, SEQUENCE_LENGTH)
    assert np.all(token_ids[:, 0] == ids["start"])
    assert not np.any(token_ids == ids["unk"])
    lengths = x["padding_mask"].sum(axis=1)
    for row, length, sentence in zip(token_ids, lengths, SENTENCES):
        # Every word is one token here: start, the words, end, then pads.
        assert length == len(sentence.split()) + 2, sentence
        assert row[length - 1] == ids["end"]
        assert np.all(row[length:] == ids["pad"])
        assert list(row[:length]).count(ids["end"]) == 1
    if "segment_ids" in x:
        assert not np.any(x["segment_ids"])
    check_output(family, loaded_backbone(family)(features), batch)


def test_sentence_pair_packs_and_runs(family):
    facts = FAMILY_FACTS[family]
    ids = facts["special_ids"]
    preprocessor = loaded_preprocessor(family)
    # Keras-hub preprocessors read a bare 2-tuple as (x, y), as tf.data
    # elements are; a pair of segments has to be passed as x (or y=None).
    x_and_y = preprocessor(SENTENCE_PAIR)
    assert isinstance(x_and_y, tuple) and len(x_and_y) == 2
    features = preprocessor(x=SENTENCE_PAIR)
    assert set(features) == set(facts["inputs"])
    x = numpy_dict(features)
    token_ids = x["token_ids"]
    batch = len(SENTENCE_PAIR[0])
    assert token_ids.shape == (batch, SEQUENCE_LENGTH)
    assert np.all(token_ids[:, 0] == ids["start"])
    assert not np.any(token_ids == ids["unk"])
    separator = facts["pair_separator"]
    lengths = x["padding_mask"].sum(axis=1)
    for i, (first, second) in enumerate(zip(*SENTENCE_PAIR)):
        row, length = token_ids[i], lengths[i]
        n_first, n_second = len(first.split()), len(second.split())
        assert length == 1 + n_first + separator + n_second + 1
        end = 1 + n_first
        assert np.all(row[end:end + separator] == ids["end"])
        assert row[length - 1] == ids["end"]
        assert list(row[:length]).count(ids["end"]) == separator + 1
        if "segment_ids" in x:
            segments = x["segment_ids"][i]
            assert np.all(segments[:end + separator] == 0)
            assert np.all(segments[end + separator:length] == 1)
    check_output(family, loaded_backbone(family)(features), batch)
