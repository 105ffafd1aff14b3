"""A BERT WordPiece vocabulary learned from a user's text."""

from pathlib import Path

import keras_hub

from kerasft.checks import (
    check_bool,
    check_choice,
    check_optional_int,
    check_seed,
    is_int,
)
from kerasft.pretraining.corpus import (
    SAMPLE_METHODS,
    corpus_lines,
    sample_corpus_lines,
)

# The BERT special tokens. `[PAD]` must be id 0: the backbone and keras-hub's
# packers pad with it, and BertTokenizer looks the others up by name.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VOCABULARY_FILE = "vocab.txt"
LEARN_BATCH_SIZE = 1024


def train_bert_tokenizer(
    corpus,
    vocabulary_size,
    output_dir=None,
    lowercase=True,
    strip_accents=None,
    sample_lines=None,
    sample="first",
    seed=0,
):
    """Learns a WordPiece vocabulary from a corpus; returns its tokenizer.

    keras-hub's `compute_word_piece_vocabulary` (tensorflow-text's learner)
    does the work: the text is split on whitespace and punctuation, then
    the most useful word pieces are kept, with the BERT special tokens
    `[PAD]` (id 0), `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` first. A small
    corpus can give fewer than `vocabulary_size` tokens: the tokenizer's
    `vocabulary_size()` is the real size, the one to build a backbone with.

    The learner counts every distinct word in Python, then runs a binary
    search of learning passes over them: on a large corpus, learn from a
    bounded sample (`sample_lines`) instead of every line.

    Settings of tensorflow-text's learner that keras-hub does not expose
    (`wordpiece_tokenizer_learner_lib.learn`), in effect here:
    - a word piece must occur at least 10 times (`lower_thresh=10`, the
      bottom of the count-threshold search): rarer pieces are spelled
      with single characters, so a small sample gives a smaller vocabulary
      than asked;
    - every character seen is a token, with its `##` suffix form; the
      alphabet is capped at the 1,000 most frequent characters
      (`max_unique_chars`), and words with another character are dropped;
    - words over 50 characters are dropped (`max_token_length`), and only
      the 5,000,000 most frequent words are counted (`max_input_tokens`);
    - the size found may be up to 5% under `vocabulary_size`
      (`slack_ratio=0.05`); 4 refinement passes (`num_iterations`).
    keras-hub cuts the list to `vocabulary_size`, characters first: a
    `vocabulary_size` under 5 + twice the alphabet drops characters (they
    become `[UNK]`).

    Args:
        corpus: a text or `.gz` file, a folder of `*.txt` / `*.txt.gz`
            files, a list of those, or a `tf.data.Dataset` of strings (see
            `kerasft.pretraining.corpus_lines`).
        vocabulary_size: int. The largest vocabulary to learn, special
            tokens included; more than the 5 special tokens.
        output_dir: str, path-like or None. Where to write `vocab.txt` (one
            token per line, id = line number). None writes nothing.
        lowercase: bool. Lowercase the text, as "uncased" BERTs do. The
            tokenizer lowercases in the same way. Defaults to `True`.
        strip_accents: bool or None. Remove accents. Defaults to
            `lowercase` (as BERT's uncased vocabularies do).
        sample_lines: int or None. Learn from this many lines of the
            corpus (see `kerasft.pretraining.sample_corpus_lines`); None
            learns from every line. Defaults to `None`.
        sample: `"first"` (the first `sample_lines` lines) or
            `"reservoir"` (a seeded uniform draw over the whole corpus).
            Defaults to `"first"`.
        seed: int. Seeds the `"reservoir"` draw. Defaults to `0`.

    Returns:
        A `keras_hub.tokenizers.BertTokenizer` on the learned vocabulary.

    Raises:
        ValueError: for a `vocabulary_size` too small for the special
            tokens, or an empty or missing corpus.

    Example:
    ```python
    tokenizer = kerasft.pretraining.train_bert_tokenizer(
        "my_corpus/", vocabulary_size=8000, output_dir="runs/vocab")
    tokenizer("a fine film")  # int32 token ids
    ```
    """
    check_vocabulary_size(vocabulary_size)
    check_bool("lowercase", lowercase)
    if strip_accents is None:
        strip_accents = lowercase
    check_bool("strip_accents", strip_accents)
    sample_lines = check_optional_int("sample_lines", sample_lines)
    check_choice("sample", sample, SAMPLE_METHODS)
    check_seed(seed, allow_none=False)
    if sample_lines is None:
        lines = corpus_lines(corpus)
    else:
        lines = sample_corpus_lines(corpus, sample_lines, sample, seed)
    # Lines in batches: the learner's word splitting is vectorized, and
    # counting takes ragged batches (one element per line is ~5x slower).
    data = lines.batch(LEARN_BATCH_SIZE)
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        data,
        int(vocabulary_size),
        lowercase=bool(lowercase),
        strip_accents=bool(strip_accents),
        # keras-hub's defaults, spelled out: they must match how
        # BertTokenizer splits text (on whitespace, punctuation and each
        # CJK character; "##" marks a word's continuation).
        split=True,
        split_on_cjk=True,
        suffix_indicator="##",
        reserved_tokens=list(SPECIAL_TOKENS),
    )
    if len(vocabulary) <= len(SPECIAL_TOKENS):
        raise ValueError(
            "The corpus is empty: no word piece was learned from it. "
            f"Received: corpus={corpus!r}"
        )
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / VOCABULARY_FILE).write_text(
            "".join(f"{token}\n" for token in vocabulary), encoding="utf-8"
        )
    return keras_hub.tokenizers.BertTokenizer(
        vocabulary=vocabulary, lowercase=bool(lowercase),
        strip_accents=bool(strip_accents),
    )


def check_vocabulary_size(vocabulary_size):
    """Raises unless `vocabulary_size` is an int above the special tokens."""
    if not is_int(vocabulary_size) or vocabulary_size <= len(SPECIAL_TOKENS):
        raise ValueError(
            "`vocabulary_size` must be an int larger than the "
            f"{len(SPECIAL_TOKENS)} special tokens {list(SPECIAL_TOKENS)}. "
            f"Received: vocabulary_size={vocabulary_size!r}"
        )
