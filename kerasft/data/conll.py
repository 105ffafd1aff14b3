"""Reads CoNLL-style column files: one token per line, blank lines between.

The format of CoNLL-2003, WNUT-16/17, OntoNotes exports and most NER data:

```
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
...
```

- one token per line, its fields in columns (split on any run of
  whitespace by default, or on `delimiter`, e.g. `"\\t"`);
- sentences separated by blank lines, where a line holding only whitespace
  counts as blank: WNUT-17's training file separates 2,394 of its 3,394
  sentences with a line holding a single tab, so a reader that splits only
  on empty lines finds 1,000 sentences;
- `-DOCSTART-` lines (document boundaries) skipped; they also end a
  sentence;
- UTF-8 (a byte-order mark is skipped, `\\r\\n` line ends accepted), plain
  or gzip-compressed (recognised by its first bytes, whatever its name).

Every token line must have as many columns as the file's first one; the
first line that does not, an empty token or tag, or a file with no
sentences, is refused with an error naming `file:line`.
"""

import dataclasses
import gzip

from kerasft.checks import check_path, is_int

DOCSTART = "-DOCSTART-"
GZIP_MAGIC = b"\x1f\x8b"


@dataclasses.dataclass(frozen=True)
class TaggedSentences:
    """Sentences of words and their tags, with where each came from.

    Args:
        words: list of lists of str. The words of each sentence.
        tags: list of lists of str, or None. One tag per word; None for
            text without tags (e.g. to predict on).
        lines: list of int, or None. The 1-based line of each sentence's
            first word in `path`; its `j`-th word is on line
            `lines[i] + j` (`read_conll` keeps a sentence's words on
            consecutive lines). None when the sentences come from no file.
        path: str or None. The file read, for messages.

    Example:
    ```python
    sentences = TaggedSentences([["EU", "rejects"]], [["B-ORG", "O"]])
    len(sentences), sentences.num_words  # 1, 2
    sentences.location(0, 1)  # "sentence 0, word 1"
    # After repairing or converting the tags:
    # dataclasses.replace(sentences, tags=new_tags)
    ```
    """

    words: list
    tags: list = None
    lines: list = None
    path: str = None

    def __post_init__(self):
        if isinstance(self.words, str) or not isinstance(
            self.words, (list, tuple)
        ):
            raise TypeError(
                "`words` must be a list of sentences, each a list of str. "
                f"Received: words of type {type(self.words).__name__}"
            )
        for name in ("tags", "lines"):
            value = getattr(self, name)
            if value is not None and len(value) != len(self.words):
                raise ValueError(
                    f"`{name}` must have one entry per sentence. Received: "
                    f"len({name})={len(value)}, len(words)={len(self.words)}"
                )
        if self.tags is not None:
            for i, (words, tags) in enumerate(zip(self.words, self.tags)):
                if len(words) != len(tags):
                    raise ValueError(
                        "Every sentence needs one tag per word. Received: "
                        f"{self.location(i)} has {len(words)} words and "
                        f"{len(tags)} tags"
                    )

    def __len__(self):
        return len(self.words)

    @property
    def num_words(self):
        """The number of words in all sentences."""
        return sum(len(words) for words in self.words)

    def location(self, sentence_index, word_index=0):
        """Where a word comes from: `"path:line"`, or `"sentence i, word j"`.

        Usable as `check_tags(..., where=sentences.location)`.
        """
        if self.lines is None:
            return f"sentence {sentence_index}, word {word_index}"
        line = self.lines[sentence_index] + word_index
        return f"{self.path or '<text>'}:{line}"


def read_conll(path, token_column=0, tag_column=-1, delimiter=None):
    """Reads a CoNLL-style column file into sentences of words and tags.

    See the module docstring for the format. Columns are counted on each
    line's fields, so negative ones count from the end (`tag_column=-1`,
    the default, is the last column, where CoNLL files keep the NER tag).

    Args:
        path: str or path-like. The file, plain or gzip-compressed.
        token_column: int. The column of the word. Defaults to `0`.
        tag_column: int or None. The column of the tag; None to read words
            only. Defaults to `-1` (the last column).
        delimiter: str or None. What separates columns: None for any run of
            whitespace (fields never hold spaces then); `"\\t"` for files
            whose tokens may hold spaces. Defaults to None.

    Returns:
        A `TaggedSentences` with `lines` (the first line of each sentence)
        and `path` set.

    Raises:
        ValueError: naming `file:line`, for a line whose column count
            differs from the first token line's, an empty token or tag,
            columns out of range, or a file with no sentences.

    Example:
    ```python
    train = read_conll("eng.train", tag_column=3)
    train.words[0], train.tags[0]  # ["EU", "rejects", ...], ["B-ORG", ...]
    ```
    """
    path = check_path("path", path)
    if not is_int(token_column):
        raise TypeError(
            f"`token_column` must be an int. Received: token_column="
            f"{token_column!r}"
        )
    if tag_column is not None and not is_int(tag_column):
        raise TypeError(
            f"`tag_column` must be an int or None. Received: tag_column="
            f"{tag_column!r}"
        )
    if delimiter is not None and (
        not isinstance(delimiter, str) or not delimiter
        or delimiter in "\n\r"
    ):
        raise ValueError(
            "`delimiter` must be None (any whitespace) or a non-empty str "
            f"other than a line break, e.g. '\\t'. Received: delimiter="
            f"{delimiter!r}"
        )
    text = _read_text(path)

    words, tags, lines = [], [], []
    sentence_words, sentence_tags, first_line = [], [], None
    num_columns = None  # and the columns resolved, from the first token line
    columns = None

    def end_sentence():
        nonlocal sentence_words, sentence_tags, first_line
        if sentence_words:
            words.append(sentence_words)
            tags.append(sentence_tags)
            lines.append(first_line)
        sentence_words, sentence_tags, first_line = [], [], None

    # Split on "\n" only: str.splitlines also breaks at \x1c, \x85, \u2028
    # and others, which tweets hold inside tokens.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            end_sentence()
            continue
        fields = (
            line.split() if delimiter is None
            else [field.strip() for field in line.split(delimiter)]
        )
        if fields[0] == DOCSTART:
            end_sentence()
            continue
        where = f"{path}:{number}"
        if num_columns is None:
            num_columns = len(fields)
            columns = _resolve_columns(
                token_column, tag_column, num_columns, where
            )
            first_token_line = where
        elif len(fields) != num_columns:
            missing = (
                " (a missing tag?)" if len(fields) < num_columns else ""
            )
            raise ValueError(
                f"{where} has {len(fields)} columns{missing}, but the "
                f"file's first token line ({first_token_line}) has "
                f"{num_columns}. Received: line {line!r}"
                + (" (delimiter=None splits on any whitespace: pass "
                   "delimiter='\\t' for a tab-separated file)"
                   if delimiter is None else "")
            )
        token_index, tag_index = columns
        if not fields[token_index]:
            raise ValueError(
                f"{where} has an empty token (column {token_index}). "
                f"Received: line {line!r}"
            )
        if tag_index is not None and not fields[tag_index]:
            raise ValueError(
                f"{where} has an empty tag (column {tag_index}): a missing "
                f"tag? Received: line {line!r}"
            )
        if first_line is None:
            first_line = number
        sentence_words.append(fields[token_index])
        if tag_index is not None:
            sentence_tags.append(fields[tag_index])
    end_sentence()

    if not words:
        raise ValueError(
            f"'{path}' holds no sentences (it is empty, or holds only blank "
            f"and {DOCSTART} lines). Received: path='{path}'"
        )
    return TaggedSentences(
        words=words,
        tags=tags if tag_column is not None else None,
        lines=lines,
        path=str(path),
    )


# --- Helpers ------------------------------------------------------------------


def _read_text(path):
    raw = path.read_bytes()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(
                f"'{path}' starts like a gzip file but does not decompress "
                f"({error}). Received: path='{path}'"
            ) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}:{line} is not UTF-8 ({error.reason} at byte "
            f"{error.start}). Received: path='{path}'"
        ) from None


def _resolve_columns(token_column, tag_column, num_columns, where):
    """`(token_index, tag_index)` as non-negative indices, or raises."""
    resolved = []
    for name, column in (("token_column", token_column),
                         ("tag_column", tag_column)):
        if column is None:
            resolved.append(None)
            continue
        if not -num_columns <= column < num_columns:
            raise ValueError(
                f"`{name}` is out of range: the first token line ({where}) "
                f"has {num_columns} columns. Received: {name}={column}"
            )
        resolved.append(column % num_columns)
    if resolved[0] == resolved[1]:
        raise ValueError(
            "`token_column` and `tag_column` name the same column of the "
            f"first token line ({where}, {num_columns} columns): no tag "
            f"column? Pass tag_column=None to read words only. Received: "
            f"token_column={token_column}, tag_column={tag_column}"
        )
    return tuple(resolved)
