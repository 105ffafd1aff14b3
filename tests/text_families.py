"""Tiny random keras-hub presets for seven text families, built offline.

Not a test file: tests import it (`tests/` is on sys.path, as pytest puts the
rootdir conftest's folder there): `from text_families import tiny_preset`.

`make_tiny_preset(family, directory)` writes a real keras-hub preset folder
(`backbone.save_to_preset` + `tokenizer.save_to_preset`) holding a randomly
initialised backbone of that family (2 layers, hidden 16, 2 heads) and a
tokenizer of the family's own kind, made here without any download:

* WordPiece (bert, distil_bert, electra): the [PAD] [UNK] [CLS] [SEP]
  [MASK] specials, `WORDS`, and the 26 letters, word-initial and as `##`
  continuations.
* Byte-level BPE (roberta): RoBERTa's five specials, the 256 byte
  characters, and merges learnt by `train_bpe` (a small, deterministic BPE
  trainer) until every word of `WORDS`, with and without its leading space
  (Ġ), is one token.
* SentencePiece (albert, deberta_v3, xlm_roberta): a word-level proto trained
  from `CORPUS` (400 generated sentences) with the `sentencepiece` package
  (one thread, fixed seed) and the special pieces each keras-hub tokenizer
  checks for (`SENTENCE_PIECE_SPECIALS`).

`tiny_preset(family)` builds each family once per process into a
`tempfile.mkdtemp()` folder. `FAMILY_FACTS` records, per family, what the
built backbone, tokenizer and preprocessor look like; tests/
test_text_families.py checks every entry against a preset loaded back.
"""

import atexit
import io
import os
import random
import shutil
import sys
import tempfile

# Keras reads its backend once, on its first import. This helper needs no
# part of kerasft, so it does not import it (kerasft selects TF the same way).
if "keras" not in sys.modules:
    os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import keras_hub  # noqa: E402
import sentencepiece as spm  # noqa: E402

FAMILIES = (
    "bert",
    "roberta",
    "distil_bert",
    "albert",
    "deberta_v3",
    "xlm_roberta",
    "electra",
)

DETERMINERS = ["the", "a", "this", "that", "every", "my", "your", "our"]
ADJECTIVES = [
    "big", "small", "quick", "lazy", "brown", "red", "old", "new", "happy",
    "sad", "good", "bad", "great", "dull",
]
NOUNS = [
    "cat", "dog", "fox", "bird", "man", "woman", "child", "movie", "film",
    "book", "house", "tree", "river", "city", "garden", "story",
]
VERBS = [
    "sees", "likes", "watches", "reads", "finds", "loves", "hates", "follows",
]
INTRANSITIVE = ["runs", "sleeps", "waits", "sings", "is", "was"]
PREPOSITIONS = ["on", "in", "under", "near", "with", "by"]
OTHER = ["and", "very", "not", "today"]
WORDS = tuple(
    dict.fromkeys(
        DETERMINERS + ADJECTIVES + NOUNS + VERBS + INTRANSITIVE
        + PREPOSITIONS + OTHER
    )
)

# In-vocabulary, lower case and unpunctuated, so that every family's
# tokenizer (the word-level SentencePiece protos included) knows each word.
SENTENCES = [
    "the quick brown fox sees a lazy dog",
    "my old cat sleeps under the big tree",
    "this movie was very good",
    "that film is not great today",
    "a happy child reads the new book near the river",
]
SENTENCE_PAIR = (
    ["the dog likes the cat", "a great movie"],
    ["the cat hates the dog", "every film was dull"],
)


def _make_corpus(num_sentences=400, seed=0):
    """Short English sentences over `WORDS`; each word appears in them."""
    rng = random.Random(seed)
    sentences = list(SENTENCES)
    for pair in zip(*SENTENCE_PAIR):
        sentences.extend(pair)
    # One sentence per word first, so that every word is in the corpus.
    for word in WORDS:
        sentences.append(f"the {word} and my {rng.choice(NOUNS)}")
    while len(sentences) < num_sentences:
        subject = [rng.choice(DETERMINERS)]
        if rng.random() < 0.6:
            subject.append(rng.choice(ADJECTIVES))
        subject.append(rng.choice(NOUNS))
        if rng.random() < 0.5:
            rest = [rng.choice(VERBS), rng.choice(DETERMINERS),
                    rng.choice(NOUNS)]
        else:
            rest = [rng.choice(INTRANSITIVE)]
            if rng.random() < 0.5:
                rest += [rng.choice(PREPOSITIONS), rng.choice(DETERMINERS),
                         rng.choice(NOUNS)]
        if rng.random() < 0.2:
            rest.append(rng.choice(OTHER[2:]))
        sentences.append(" ".join(subject + rest))
    return sentences


CORPUS = tuple(_make_corpus())

# ---------------------------------------------------------------------------
# Tokenizers.

WORD_PIECE_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
# SentencePiece trainer arguments per family: the ids and pieces of the
# specials that keras-hub's tokenizer looks up (see each tokenizer's
# `__init__`), laid out as in the family's released protos (ids 0-4).
SENTENCE_PIECE_SPECIALS = {
    # AlbertTokenizer: [CLS] [SEP] <pad> [MASK] must be pieces. [MASK] is a
    # control symbol: as a user-defined one, a word model also learns a
    # `▁[MASK]` word for it (and maps the text "[MASK]" to that, not to 4).
    "albert": dict(
        pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece="<pad>",
        unk_piece="<unk>", bos_piece="[CLS]", eos_piece="[SEP]",
        control_symbols=["[MASK]"],
    ),
    # DebertaV3Tokenizer: [CLS] [SEP] [PAD] must be pieces. The released
    # proto has no [MASK]: the tokenizer then appends it as the last id
    # (vocabulary_size() is the proto's size + 1), as here.
    "deberta_v3": dict(
        pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]",
        bos_piece="[CLS]", eos_piece="[SEP]", unk_piece="[UNK]",
    ),
    # XLMRobertaTokenizer: the proto holds <unk> <s> </s> at 0 1 2 (the
    # sentencepiece defaults, no pad); the tokenizer puts fairseq's <s>
    # <pad> </s> <unk> at 0-3, the proto's other pieces from 4 (one up),
    # and <mask> last: vocabulary_size() is the proto's size + 2.
    "xlm_roberta": dict(
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece="<unk>",
        bos_piece="<s>", eos_piece="</s>",
    ),
}


def word_piece_vocabulary():
    """[PAD] [UNK] [CLS] [SEP] [MASK], `WORDS`, then a ... z and ##a ... ##z.

    The letters spell out any other lower-case word, so only words with
    characters outside a-z (punctuation, digits) become [UNK].
    """
    letters = [c for c in LETTERS if c not in WORDS]
    return (WORD_PIECE_SPECIALS + list(WORDS) + letters
            + [f"##{c}" for c in LETTERS])


def byte_alphabet():
    """GPT-2's printable stand-ins for the 256 bytes, in byte order.

    Printable Latin-1 bytes stand for themselves; the others (space, control
    characters) map to chr(256 + k), which makes the space `Ġ`.
    """
    printable = {
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    }
    alphabet, shifted = [], 0
    for byte in range(256):
        if byte in printable:
            alphabet.append(chr(byte))
        else:
            alphabet.append(chr(256 + shifted))
            shifted += 1
    return alphabet


def train_bpe(words, specials=ROBERTA_SPECIALS):
    """A byte-level BPE vocabulary and merges in which each word is a token.

    Learns merges the usual way (most frequent adjacent pair first, ties
    broken by the pair itself, so the result is deterministic) over each
    word with a leading space (`Ġword`, as RoBERTa sees every word but the
    first) and without, until every one of them is a single token. Applying
    the merges in rank order, as `BytePairTokenizer` does, then rebuilds each
    word whole. The vocabulary is `specials`, the 256 byte characters (so any
    text tokenizes without unknown pieces), then the merged tokens in the
    order they were learnt.
    """
    sequences = [list("Ġ" + w) for w in words] + [list(w) for w in words]
    vocabulary = {token: i for i, token in enumerate(specials)}
    for char in byte_alphabet():
        vocabulary.setdefault(char, len(vocabulary))
    merges = []
    while True:
        counts = {}
        for sequence in sequences:
            for pair in zip(sequence, sequence[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merged = best[0] + best[1]
        merges.append(f"{best[0]} {best[1]}")
        vocabulary.setdefault(merged, len(vocabulary))
        for sequence in sequences:
            i = 0
            while i < len(sequence) - 1:
                if (sequence[i], sequence[i + 1]) == best:
                    sequence[i:i + 2] = [merged]
                i += 1
    return vocabulary, merges


def train_sentence_piece(family, corpus=CORPUS):
    """A word-level SentencePiece proto (bytes) for `family`'s tokenizer."""
    specials = SENTENCE_PIECE_SPECIALS[family]
    num_meta = len(specials.get("control_symbols", [])) + sum(
        specials[key] >= 0 for key in ("pad_id", "unk_id", "bos_id", "eos_id")
    )
    words = {word for sentence in corpus for word in sentence.split()}
    writer = io.BytesIO()
    spm.set_random_generator_seed(0)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=writer,
        model_type="word",
        # A word model keeps the most frequent words: exactly all of them.
        vocab_size=len(words) + num_meta,
        normalization_rule_name="nmt_nfkc_cf",  # lower-cases
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
        **specials,
    )
    return writer.getvalue()


def make_tokenizer(family):
    """The family's own keras-hub tokenizer, with a tiny vocabulary."""
    tokenizers = keras_hub.tokenizers
    if family in ("bert", "distil_bert", "electra"):
        cls = {
            "bert": tokenizers.BertTokenizer,
            "distil_bert": tokenizers.DistilBertTokenizer,
            "electra": tokenizers.ElectraTokenizer,
        }[family]
        return cls(vocabulary=word_piece_vocabulary(), lowercase=True)
    if family == "roberta":
        vocabulary, merges = train_bpe(WORDS)
        return tokenizers.RobertaTokenizer(
            vocabulary=vocabulary, merges=merges
        )
    cls = {
        "albert": tokenizers.AlbertTokenizer,
        "deberta_v3": tokenizers.DebertaV3Tokenizer,
        "xlm_roberta": tokenizers.XLMRobertaTokenizer,
    }[family]
    return cls(proto=train_sentence_piece(family))


# ---------------------------------------------------------------------------
# Backbones.


def make_backbone(
    family,
    vocabulary_size,
    num_layers=2,
    hidden_dim=16,
    num_heads=2,
    intermediate_dim=32,
    max_sequence_length=32,
    embedding_dim=None,
    seed=0,
):
    """A randomly initialised backbone; `seed` makes its weights repeat.

    `embedding_dim` (ALBERT and ELECTRA only) defaults to half of
    `hidden_dim`, so that their embedding projection exists, as in ALBERT
    and in ELECTRA-small. Calls `keras.utils.set_random_seed(seed)`, which
    also reseeds Python's, NumPy's and TensorFlow's global generators.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")
    if embedding_dim is None:
        embedding_dim = max(hidden_dim // 2, 1)
    # Keras-hub's initializers take no seed; unseeded Keras initializers
    # draw theirs from the global generators that this seeds.
    keras.utils.set_random_seed(seed)
    common = dict(
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length,
    )
    models = keras_hub.models
    if family == "electra":
        return models.ElectraBackbone(
            vocab_size=vocabulary_size, embedding_dim=embedding_dim, **common
        )
    if family == "albert":
        return models.AlbertBackbone(
            vocabulary_size=vocabulary_size, embedding_dim=embedding_dim,
            num_groups=1, **common,
        )
    if family == "deberta_v3":
        return models.DebertaV3Backbone(
            vocabulary_size=vocabulary_size,
            bucket_size=max_sequence_length, **common,
        )
    cls = {
        "bert": models.BertBackbone,
        "roberta": models.RobertaBackbone,
        "distil_bert": models.DistilBertBackbone,
        "xlm_roberta": models.XLMRobertaBackbone,
    }[family]
    return cls(vocabulary_size=vocabulary_size, **common)


def build_tiny(family, num_layers=2, hidden_dim=16, **backbone_kwargs):
    """(backbone, tokenizer) of `family`, as `make_tiny_preset` saves them.

    The backbone's vocabulary size is the tokenizer's `vocabulary_size()`.
    Other backbone arguments (num_heads, intermediate_dim,
    max_sequence_length, embedding_dim, seed) go to `make_backbone`.
    """
    tokenizer = make_tokenizer(family)
    backbone = make_backbone(
        family,
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=num_layers,
        hidden_dim=hidden_dim,
        **backbone_kwargs,
    )
    return backbone, tokenizer


def make_tiny_preset(family, directory, num_layers=2, hidden_dim=16,
                     **backbone_kwargs):
    """Writes a tiny `family` preset (backbone + tokenizer) to `directory`.

    Saved with keras-hub's own `save_to_preset`, so `directory` is a real
    preset: `keras_hub.models.Backbone.from_preset(directory)` and the
    family's `*TextClassifierPreprocessor.from_preset(directory)` load it.
    Returns `directory` as a str. Keyword arguments as for `build_tiny`.
    """
    backbone, tokenizer = build_tiny(
        family, num_layers=num_layers, hidden_dim=hidden_dim,
        **backbone_kwargs,
    )
    directory = str(directory)
    backbone.save_to_preset(directory)
    tokenizer.save_to_preset(directory)
    return directory


_PRESETS = {}


def tiny_preset(family):
    """The default tiny preset of `family`, built once per process.

    Its folder (a `tempfile.mkdtemp()`) is removed when the process exits.
    """
    if family not in _PRESETS:
        directory = tempfile.mkdtemp(prefix=f"tiny_{family}_preset_")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _PRESETS[family] = make_tiny_preset(family, directory)
    return _PRESETS[family]


# ---------------------------------------------------------------------------
# What the tiny presets look like, family by family (keras-hub 0.32), as
# checked by tests/test_text_families.py on presets loaded back:
#
# backbone, preprocessor, tokenizer: class names in keras_hub.models (the
#     tokenizers also in keras_hub.tokenizers). ELECTRA has no preprocessor
#     upstream, and `from_preset` finds none for an ElectraBackbone preset
#     (ValueError "Unable to find a subclass of TextClassifierPreprocessor
#     that is compatible with ElectraBackbone"), neither through
#     TextClassifierPreprocessor nor BertTextClassifierPreprocessor. Built
#     directly, `keras_hub.models.TextClassifierPreprocessor(tokenizer=
#     ElectraTokenizer.from_preset(path), sequence_length=...)` works, and so
#     does BertTextClassifierPreprocessor with that tokenizer (same outputs:
#     it only sets backbone_cls and tokenizer_cls); we use the generic one.
# tokenizer_kind: "wordpiece", "bpe" or "sentencepiece".
# inputs: the backbone's input names, in `backbone.input` order; the
#     preprocessor outputs exactly these keys ("segment_ids" only for the
#     families whose backbone takes it).
# output: "dict" ({"sequence_output", "pooled_output"}) or "tensor" (the
#     sequence output alone).
# pooler: the top-level pooler layer's name, or None.
# embeddings: the top-level layers that hold weights before the first
#     transformer layer, in `backbone.layers` order. ELECTRA's projection
#     exists only when embedding_dim != hidden_dim (as in these presets and
#     in ELECTRA-small; not in ELECTRA-base); ALBERT's always does.
#     DeBERTa-v3's rel_embedding feeds every layer, not the first one only.
# transformer_prefix: the name of the transformer layers up to their index.
#     ALBERT's layers are shared: num_groups (1 here) layers named
#     group_{g}_inner_layer_{i}, each called num_layers // num_groups times,
#     and `backbone.transformer_layers` is a list of lists.
# start_index_attr: the backbone attribute with the position of the [CLS]
#     or <s> token (0 everywhere). hidden_attr / vocabulary_attr: the
#     attributes with the hidden size and vocabulary size (ELECTRA's
#     constructor argument and attribute is vocab_size).
# specials: start, end, pad, unknown and mask token strings; special_ids:
#     their ids in these presets' vocabularies (laid out as in the released
#     presets). mask_is_last: the mask id is vocabulary_size() - 1, added
#     by the tokenizer after the SentencePiece proto's pieces (DeBERTa-v3,
#     XLM-R; so in the released presets too).
# pair_separator: end tokens between the two segments of a sentence pair.
# vocabulary_size: these presets' tokenizer (= backbone) vocabulary sizes.

_WORD_PIECE_SPECIALS = {
    "start": "[CLS]", "end": "[SEP]", "pad": "[PAD]", "unk": "[UNK]",
    "mask": "[MASK]",
}
_WORD_PIECE_IDS = {"start": 2, "end": 3, "pad": 0, "unk": 1, "mask": 4}
_BERT_EMBEDDINGS = (
    "token_embedding", "position_embedding", "segment_embedding",
    "embeddings_layer_norm",
)
_SEGMENTED_INPUTS = ("token_ids", "segment_ids", "padding_mask")
_INPUTS = ("token_ids", "padding_mask")
_ROBERTA_SPECIALS = {"start": "<s>", "end": "</s>", "pad": "<pad>",
                     "unk": "<unk>", "mask": "<mask>"}
_ROBERTA_IDS = {"start": 0, "end": 2, "pad": 1, "unk": 3, "mask": 4}

FAMILY_FACTS = {
    "bert": dict(
        backbone="BertBackbone",
        preprocessor="BertTextClassifierPreprocessor",
        tokenizer="BertTokenizer",
        tokenizer_kind="wordpiece",
        inputs=_SEGMENTED_INPUTS,
        output="dict",
        pooler="pooled_dense",
        embeddings=_BERT_EMBEDDINGS,
        transformer_prefix="transformer_layer_",
        start_index_attr="cls_token_index",
        hidden_attr="hidden_dim",
        vocabulary_attr="vocabulary_size",
        specials=_WORD_PIECE_SPECIALS,
        special_ids=_WORD_PIECE_IDS,
        mask_is_last=False,
        pair_separator=1,
        vocabulary_size=118,
    ),
    "roberta": dict(
        backbone="RobertaBackbone",
        preprocessor="RobertaTextClassifierPreprocessor",
        tokenizer="RobertaTokenizer",
        tokenizer_kind="bpe",
        inputs=_INPUTS,
        output="tensor",
        pooler=None,
        embeddings=("embeddings", "embeddings_layer_norm"),
        transformer_prefix="transformer_layer_",
        start_index_attr="start_token_index",
        hidden_attr="hidden_dim",
        vocabulary_attr="vocabulary_size",
        specials=_ROBERTA_SPECIALS,
        special_ids=_ROBERTA_IDS,
        mask_is_last=False,
        pair_separator=2,
        vocabulary_size=476,
    ),
    "distil_bert": dict(
        backbone="DistilBertBackbone",
        preprocessor="DistilBertTextClassifierPreprocessor",
        tokenizer="DistilBertTokenizer",
        tokenizer_kind="wordpiece",
        inputs=_INPUTS,
        output="tensor",
        pooler=None,
        embeddings=("token_and_position_embedding", "embeddings_layer_norm"),
        transformer_prefix="transformer_layer_",
        start_index_attr="cls_token_index",
        hidden_attr="hidden_dim",
        vocabulary_attr="vocabulary_size",
        specials=_WORD_PIECE_SPECIALS,
        special_ids=_WORD_PIECE_IDS,
        mask_is_last=False,
        pair_separator=1,
        vocabulary_size=118,
    ),
    "albert": dict(
        backbone="AlbertBackbone",
        preprocessor="AlbertTextClassifierPreprocessor",
        tokenizer="AlbertTokenizer",
        tokenizer_kind="sentencepiece",
        inputs=_SEGMENTED_INPUTS,
        output="dict",
        pooler="pooled_dense",
        embeddings=_BERT_EMBEDDINGS + ("embedding_projection",),
        transformer_prefix="group_0_inner_layer_",
        start_index_attr="cls_token_index",
        hidden_attr="hidden_dim",
        vocabulary_attr="vocabulary_size",
        specials={"start": "[CLS]", "end": "[SEP]", "pad": "<pad>",
                  "unk": "<unk>", "mask": "[MASK]"},
        special_ids={"start": 2, "end": 3, "pad": 0, "unk": 1, "mask": 4},
        mask_is_last=False,
        pair_separator=1,
        vocabulary_size=67,
    ),
    "deberta_v3": dict(
        backbone="DebertaV3Backbone",
        preprocessor="DebertaV3TextClassifierPreprocessor",
        tokenizer="DebertaV3Tokenizer",
        tokenizer_kind="sentencepiece",
        inputs=_INPUTS,
        output="tensor",
        pooler=None,
        embeddings=("token_embedding", "embeddings_layer_norm",
                    "rel_embedding"),
        transformer_prefix="disentangled_attention_encoder_layer_",
        start_index_attr="start_token_index",
        hidden_attr="hidden_dim",
        vocabulary_attr="vocabulary_size",
        specials=_WORD_PIECE_SPECIALS,
        special_ids={"start": 1, "end": 2, "pad": 0, "unk": 3, "mask": 66},
        mask_is_last=True,
        pair_separator=1,
        vocabulary_size=67,
    ),
    "xlm_roberta": dict(
        backbone="XLMRobertaBackbone",
        preprocessor="XLMRobertaTextClassifierPreprocessor",
        tokenizer="XLMRobertaTokenizer",
        tokenizer_kind="sentencepiece",
        inputs=_INPUTS,
        output="tensor",
        pooler=None,
        embeddings=("embeddings", "embeddings_layer_norm"),
        transformer_prefix="transformer_layer_",
        start_index_attr="start_token_index",
        hidden_attr="hidden_dim",
        vocabulary_attr="vocabulary_size",
        specials=_ROBERTA_SPECIALS,
        special_ids={**_ROBERTA_IDS, "mask": 66},
        mask_is_last=True,
        pair_separator=2,
        vocabulary_size=67,
    ),
    "electra": dict(
        backbone="ElectraBackbone",
        preprocessor="TextClassifierPreprocessor",
        tokenizer="ElectraTokenizer",
        tokenizer_kind="wordpiece",
        inputs=_SEGMENTED_INPUTS,
        output="dict",
        pooler="pooled_dense",
        embeddings=_BERT_EMBEDDINGS + ("embeddings_projection",),
        transformer_prefix="transformer_layer_",
        start_index_attr="cls_token_index",
        hidden_attr="hidden_dim",
        vocabulary_attr="vocab_size",
        specials=_WORD_PIECE_SPECIALS,
        special_ids=_WORD_PIECE_IDS,
        mask_is_last=False,
        pair_separator=1,
        vocabulary_size=118,
    ),
}
