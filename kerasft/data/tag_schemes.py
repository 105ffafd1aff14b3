"""Entity tag schemes: IOB1, IOB2 and BIOES, read as seqeval reads them.

A tag is `"O"` (outside any entity) or `<prefix>-<type>`, e.g. `"B-person"`
(the type is everything after the first `-`, so `"B-creative-work"` has type
`creative-work`):

- IOB2 (CoNLL-2003 as usually distributed, WNUT-17): every entity starts
  with `B-` and continues with `I-`.
- IOB1 (the original CoNLL-2003 files): entities are runs of `I-`; `B-`
  appears only on the first word of an entity that directly follows another
  entity of the same type (`I-PER B-PER`: two people).
- BIOES: `S-` a one-word entity; `B-`, `I-`..., `E-` a longer one.

What a sequence means is `entity_spans`: exactly seqeval's `get_entities`
in its default (lenient) mode, which `seqeval.metrics.f1_score` scores by.
It reads all three schemes correctly, and reads a malformed sequence in one
definite way; e.g. an `I-X` that starts an entity (at the sentence start,
after `O`, after another type) starts one, as a `B-X` would.

A sequence is valid in a scheme when it is the scheme's own spelling of the
entities seqeval reads from it (`tags_from_spans(entity_spans(tags))`). So
`check_tags(..., repair=True)` rewrites each sentence to that spelling: an
`I-X` that starts an entity becomes `B-X` in IOB2 (`I-X` stays in IOB1,
where it is right), and in BIOES a `B-X` with nothing after it becomes
`S-X`, and so on. Repairing never changes the entities that seqeval scores;
it only makes the tags a model is trained on consistent, so that one entity
start is never taught as two different tags.

Example:
```python
tags = ["I-PER", "I-PER", "O", "B-LOC"]
entity_spans(tags)  # [("PER", 0, 1), ("LOC", 3, 3)]
check_tags(tags, "IOB2", repair=True)  # ["B-PER", "I-PER", "O", "B-LOC"]
convert_tags(["B-PER", "I-PER", "O", "B-LOC"], "IOB2", "BIOES")
# ["B-PER", "E-PER", "O", "S-LOC"]
tag_names_for(["PER", "LOC"], "IOB2")
# ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
```
"""

from kerasft.checks import check_bool, check_choice

SCHEMES = ("IOB1", "IOB2", "BIOES")
# The prefixes each scheme writes, in the order `tag_names_for` lists them.
PREFIXES = {"IOB1": "BI", "IOB2": "BI", "BIOES": "BIES"}
OUTSIDE = "O"


def check_tags(tags, scheme, repair=False, where=None):
    """Checks (and optionally repairs) tags in a scheme.

    Every tag must be `"O"` or a prefix of the scheme (`B-`/`I-`, plus
    `E-`/`S-` for BIOES) and a non-empty type; anything else is refused,
    `repair` or not. Then each sentence must be the scheme's spelling of its
    entities (see the module docstring). A sentence that is not, e.g. an
    `I-X` that does not continue an `X` entity in IOB2 or BIOES, is refused
    with an error naming the sentence and word (or the file and line) and
    what is wrong, unless `repair=True`: then it is rewritten to the
    scheme's spelling of what seqeval reads from it (`I-X` -> `B-X` in
    IOB2), which leaves the entities unchanged.

    Args:
        tags: a list of tag strings (one sentence), or a list of such lists.
        scheme: str. One of `SCHEMES`: `"IOB1"`, `"IOB2"`, `"BIOES"`.
        repair: bool. Rewrite malformed sentences instead of raising.
            Defaults to `False`.
        where: callable or None. `where(sentence_index, word_index)` returns
            where a tag comes from, for messages, e.g.
            `TaggedSentences.location` (`"train.conll:12"`). Defaults to
            `"sentence i, word j"`.

    Returns:
        The tags, as new lists shaped like `tags` (repaired if asked).

    Example:
    ```python
    check_tags([["B-PER", "I-PER"], ["O"]], "IOB2")  # returned unchanged
    check_tags(["O", "I-LOC"], "IOB2", repair=True)  # ["O", "B-LOC"]
    check_tags(["O", "I-LOC"], "IOB2")  # ValueError: ... word 1 ...
    ```
    """
    check_choice("scheme", scheme, SCHEMES)
    check_bool("repair", repair)
    sentences, flat = _as_sentences(tags, "tags")
    where = _locator(where)
    checked = []
    for i, sentence in enumerate(sentences):
        _check_prefixes(sentence, scheme, i, where)
        spelled = tags_from_spans(entity_spans(sentence), len(sentence),
                                  scheme)
        if not repair and spelled != sentence:
            j = next(j for j, (a, b) in enumerate(zip(sentence, spelled))
                     if a != b)
            raise ValueError(
                f"{where(i, j)}: {_problem(sentence, j, scheme)} "
                f"Pass repair=True to rewrite it as {spelled[j]!r} (how "
                "seqeval reads it; the entities stay the same), or the "
                "scheme the tags are written in. Received: tag "
                f"{sentence[j]!r} after {_previous(sentence, j)}, "
                f"scheme={scheme!r}"
            )
        checked.append(spelled if repair else list(sentence))
    return checked[0] if flat else checked


def convert_tags(tags, source, target):
    """Rewrites tags from one scheme to another, entity by entity.

    The tags are checked in `source` first (`check_tags`, no repair: run
    `check_tags(tags, source, repair=True)` first for files with malformed
    sentences), then each sentence's entities are written in `target`.
    The entities (`entity_spans`) are the same before and after, and
    converting back gives the original tags.

    Args:
        tags: a list of tag strings (one sentence), or a list of such lists.
        source: str. The scheme of `tags`, one of `SCHEMES`.
        target: str. The scheme wanted, one of `SCHEMES`.

    Returns:
        New lists shaped like `tags`.

    Example:
    ```python
    convert_tags(["I-PER", "B-PER", "O"], "IOB1", "IOB2")
    # ["B-PER", "B-PER", "O"]
    convert_tags(["B-PER", "B-PER", "O"], "IOB2", "BIOES")
    # ["S-PER", "S-PER", "O"]
    ```
    """
    check_choice("source", source, SCHEMES)
    check_choice("target", target, SCHEMES)
    checked = check_tags(tags, source)
    sentences = [checked] if _is_flat(checked) else checked
    converted = [
        tags_from_spans(entity_spans(sentence), len(sentence), target)
        for sentence in sentences
    ]
    return converted[0] if _is_flat(checked) else converted


def entity_spans(tags):
    """The entities of a tag sequence, exactly as seqeval's `get_entities`.

    A pure Python port of `seqeval.metrics.sequence_labeling.get_entities`
    (default mode, `suffix=False`), which reads IOB1, IOB2, BIOES and
    malformed sequences alike: an entity starts at a `B-` or `S-`, at an
    `I-`/`E-` after `O`, `E-` or `S-`, or wherever the type changes; it ends
    before such a start, an `O`, or after an `E-`/`S-`. Any string is
    accepted, as seqeval accepts it (seqeval warns on tags that are not
    `O`/`B-`/`I-`/`E-`/`S-`; this does not: `check_tags` refuses them).

    Args:
        tags: a list of tag strings. A list of lists is read as seqeval reads
            one: joined with an `"O"` after each sentence, so the positions
            count through the whole corpus.

    Returns:
        A list of `(type, start, end)` tuples, `end` inclusive, in order.

    Example:
    ```python
    entity_spans(["B-PER", "I-PER", "O", "B-LOC"])
    # [("PER", 0, 1), ("LOC", 3, 3)]
    entity_spans(["O", "I-PER", "B-PER"])  # [("PER", 1, 1), ("PER", 2, 2)]
    ```
    """
    if isinstance(tags, (str, bytes)):
        # A str would be read one character (one "tag") at a time.
        raise TypeError(
            "`tags` must be a list of tag strings, not one str. Received: "
            f"tags={tags!r} (pass [{tags!r}] for one tag)"
        )
    tags = list(tags)
    if any(isinstance(tag, list) for tag in tags):
        tags = [tag for sentence in tags for tag in sentence + [OUTSIDE]]
    bad = [t for t in tags if not isinstance(t, str) or not t][:1]
    if bad:
        bad = bad[0]
        raise TypeError(
            "`tags` must hold only non-empty tag strings ('O', 'B-PER', ...)."
            f" Received: a tag {bad!r} of type {type(bad).__name__}"
        )
    spans = []
    previous_prefix, previous_type, begin = OUTSIDE, "", 0
    # A trailing "O" closes the last entity.
    for i, tag in enumerate(tags + [OUTSIDE]):
        prefix = tag[0]
        # "O" (and a bare "B") get the type "_", as in seqeval.
        type_ = tag[1:].split("-", maxsplit=1)[-1] or "_"
        if _ends(previous_prefix, prefix, previous_type, type_):
            spans.append((previous_type, begin, i - 1))
        if _starts(previous_prefix, prefix, previous_type, type_):
            begin = i
        previous_prefix, previous_type = prefix, type_
    return spans


def tags_from_spans(spans, length, scheme):
    """Writes entities as one sentence's tags in a scheme.

    Args:
        spans: a list of `(type, start, end)` tuples, `end` inclusive, in
            order and not overlapping (as `entity_spans` returns them).
        length: int. The number of words of the sentence.
        scheme: str. One of `SCHEMES`.

    Returns:
        A list of `length` tag strings.

    Example:
    ```python
    tags_from_spans([("PER", 0, 1)], 3, "BIOES")  # ["B-PER", "E-PER", "O"]
    tags_from_spans([("PER", 0, 0), ("PER", 1, 1)], 2, "IOB1")
    # ["I-PER", "B-PER"]
    ```
    """
    check_choice("scheme", scheme, SCHEMES)
    tags = [OUTSIDE] * length
    previous_end, previous_type = -2, None
    for type_, start, end in spans:
        if not 0 <= start <= end < length or start <= previous_end:
            raise ValueError(
                "`spans` must be in order, not overlap and lie inside the "
                f"sentence (0 <= start <= end < length={length}). Received: "
                f"span {(type_, start, end)!r} after one ending at "
                f"{previous_end}"
            )
        if scheme == "IOB2":
            first = "B"
        elif scheme == "IOB1":
            # B- only where an entity of the same type ends just before.
            adjacent = previous_end == start - 1 and previous_type == type_
            first = "B" if adjacent else "I"
        else:
            first = "S" if start == end else "B"
        tags[start] = f"{first}-{type_}"
        for k in range(start + 1, end + 1):
            tags[k] = f"I-{type_}"
        if scheme == "BIOES" and end > start:
            tags[end] = f"E-{type_}"
        previous_end, previous_type = end, type_
    return tags


def tag_names_for(types, scheme):
    """The tag list of a model: `"O"`, then each type's tags, types sorted.

    Args:
        types: iterable of str. The entity types (duplicates are dropped).
        scheme: str. One of `SCHEMES`: IOB1 and IOB2 give `B-`, `I-` for each
            type; BIOES gives `B-`, `I-`, `E-`, `S-`.

    Returns:
        A list of str; a tag's index is its id.

    Example:
    ```python
    tag_names_for(["PER", "LOC"], "BIOES")
    # ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", ..., "S-PER"]
    ```
    """
    check_choice("scheme", scheme, SCHEMES)
    if isinstance(types, str):
        raise TypeError(
            "`types` must be a list of entity types, not one string. "
            f"Received: types={types!r}"
        )
    types = list(types)
    for type_ in types:
        if not isinstance(type_, str) or not type_:
            raise ValueError(
                "`types` must hold non-empty strings (entity types such as "
                f"'PER'). Received: {type_!r} in types={types!r}"
            )
    return [OUTSIDE] + [
        f"{prefix}-{type_}"
        for type_ in sorted(set(types))
        for prefix in PREFIXES[scheme]
    ]


def tag_names_from(tags, scheme):
    """`tag_names_for` the entity types seen in `tags`.

    Every tag is checked to be `"O"` or one of the scheme's prefixes and a
    type (the order of the tags is not checked: see `check_tags`).

    Args:
        tags: a list of tag strings (one sentence), or a list of such lists.
        scheme: str. One of `SCHEMES`.

    Returns:
        A list of str: `"O"`, then the tags of each type seen, types sorted.
        Tags of a type that the data never writes (e.g. `S-` of a type
        that is never one word long) are included.

    Example:
    ```python
    tag_names_from([["B-PER", "I-PER"], ["O", "B-LOC"]], "IOB2")
    # ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    ```
    """
    check_choice("scheme", scheme, SCHEMES)
    sentences, _ = _as_sentences(tags, "tags")
    where = _locator(None)
    types = set()
    for i, sentence in enumerate(sentences):
        _check_prefixes(sentence, scheme, i, where)
        types.update(tag[2:] for tag in sentence if tag != OUTSIDE)
    return tag_names_for(types, scheme)


# --- Helpers ------------------------------------------------------------------


def _ends(previous_prefix, prefix, previous_type, type_):
    """seqeval's `end_of_chunk`: an entity ended before this word."""
    if previous_prefix in ("E", "S"):
        return True
    if previous_prefix in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return previous_prefix not in ("O", ".") and previous_type != type_


def _starts(previous_prefix, prefix, previous_type, type_):
    """seqeval's `start_of_chunk`: an entity starts at this word."""
    if prefix in ("B", "S"):
        return True
    if previous_prefix in ("E", "S", "O") and prefix in ("E", "I"):
        return True
    return prefix not in ("O", ".") and previous_type != type_


def _is_flat(tags):
    return not tags or isinstance(tags[0], str)


def _as_sentences(tags, name):
    """`(list of sentences, was_flat)`; each sentence a list of str."""
    if isinstance(tags, str):
        raise TypeError(
            f"`{name}` must be a list of tags or a list of such lists, not "
            f"one string. Received: {name}={tags!r}"
        )
    try:
        tags = list(tags)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a list of tags or a list of such lists. "
            f"Received: {name} of type {type(tags).__name__}"
        ) from None
    flat = _is_flat(tags)
    sentences = [tags] if flat else [
        _as_list(sentence, f"{name}[{i}]") for i, sentence in enumerate(tags)
    ]
    for i, sentence in enumerate(sentences):
        for j, tag in enumerate(sentence):
            if not isinstance(tag, str):
                at = f"{name}[{j}]" if flat else f"{name}[{i}][{j}]"
                raise TypeError(
                    f"`{name}` must hold tag strings. Received: {at}={tag!r} "
                    f"of type {type(tag).__name__}"
                )
    return sentences, flat


def _as_list(sentence, name):
    if isinstance(sentence, str) or not hasattr(sentence, "__iter__"):
        raise TypeError(
            f"`{name}` must be a list of tags (one sentence). Received: "
            f"{name}={sentence!r}"
        )
    return list(sentence)


def _locator(where):
    if where is None:
        return lambda i, j: f"sentence {i}, word {j}"
    if not callable(where):
        raise TypeError(
            "`where` must be a callable (sentence_index, word_index) -> str, "
            "e.g. TaggedSentences.location. Received: where of type "
            f"{type(where).__name__}"
        )
    return where


def _check_prefixes(sentence, scheme, i, where):
    prefixes = PREFIXES[scheme]
    for j, tag in enumerate(sentence):
        if tag == OUTSIDE:
            continue
        if len(tag) < 3 or tag[1] != "-" or tag[0] not in prefixes:
            accepted = ", ".join(f"'{p}-<type>'" for p in prefixes)
            raise ValueError(
                f"{where(i, j)}: {tag!r} is not a valid {scheme} tag "
                f"(expected 'O', {accepted}). Received: tag={tag!r}, "
                f"scheme={scheme!r}"
            )


def _previous(sentence, j):
    return "the sentence start" if j == 0 else repr(sentence[j - 1])


def _problem(sentence, j, scheme):
    """What is wrong at `sentence[j]`, the first tag off the scheme."""
    tag = sentence[j]
    prefix, type_ = tag[0], tag[2:]
    previous = sentence[j - 1] if j > 0 else OUTSIDE
    following = sentence[j + 1] if j + 1 < len(sentence) else OUTSIDE
    continues = previous != OUTSIDE and previous[2:] == type_ and (
        previous[0] in "BI"
    )
    if scheme == "IOB1":
        # The only tag IOB1 spells differently from seqeval's reading.
        return (
            f"{tag!r} does not follow an entity of type {type_!r}; IOB1 "
            f"writes 'B-' only between two adjacent {type_!r} entities (do "
            "the tags look like IOB2?)."
        )
    if prefix in "IE" and not continues:
        also_s = " or 'S-'" if scheme == "BIOES" else ""
        return (
            f"{tag!r} does not continue an entity of type {type_!r} (it "
            f"follows {_previous(sentence, j)}); {scheme} starts every "
            f"entity with 'B-'{also_s}."
        )
    if scheme == "BIOES" and prefix in "BI":
        return (
            f"{tag!r} is not followed by 'I-{type_}' or 'E-{type_}' (but by "
            f"{following!r}); BIOES ends every entity with 'E-' or 'S-'."
        )
    return f"{tag!r} is not how {scheme} writes this entity."
