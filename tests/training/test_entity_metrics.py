import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from seqeval import metrics as seqeval

from kerasft.training import EntityF1, EntityPrecision, EntityRecall

IGNORE = -100

# One tag set per scheme, and one with every prefix, "." and a type with a
# hyphen in it (seqeval's type is what follows the first "-").
SCHEMES = {
    "iob": ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"],
    "bioes": ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-ORG", "I-ORG",
              "E-ORG", "S-ORG"],
    "ioe": ["O", "I-PER", "E-PER", "I-LOC", "E-LOC"],
    "mixed": ["O", ".", "B-a", "I-a", "E-a", "S-a", "B-b-c", "I-b-c",
              "E-b-c", "S-b-c", "I-d", "S-d"],
}


def _random_batch(rng, tag_names, batch_size=8, seq_len=14):
    """Random ids with ignored positions scattered and as right padding;
    predictions copy the truth 60% of the time, so that chunks match."""
    num_tags = len(tag_names)
    # Ill-formed on purpose: any tag after any other (I- after O, type
    # switches, E- without B-, ...).
    y_true = rng.integers(0, num_tags, (batch_size, seq_len))
    noise = rng.integers(0, num_tags, (batch_size, seq_len))
    y_pred = np.where(rng.uniform(size=y_true.shape) < 0.6, y_true, noise)
    ignored = rng.uniform(size=y_true.shape) < 0.25
    lengths = rng.integers(0, seq_len + 1, batch_size)  # 0: all padding
    ignored |= np.arange(seq_len)[None] >= lengths[:, None]
    y_true = np.where(ignored, IGNORE, y_true)
    return y_true, y_pred


def _words(tag_names, y_true, y_pred):
    """The word-level string sequences seqeval scores."""
    true_lists, pred_lists = [], []
    for true_row, pred_row in zip(y_true, y_pred):
        kept = true_row != IGNORE
        true_lists.append([tag_names[t] for t in true_row[kept]])
        pred_lists.append([tag_names[t] for t in pred_row[kept]])
    return true_lists, pred_lists


def _seqeval(true_lists, pred_lists):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "." is "not a NE tag"; 0/0
        report = seqeval.classification_report(
            true_lists, pred_lists, output_dict=True, zero_division=0)
        overall = [fn(true_lists, pred_lists) for fn in (
            seqeval.precision_score, seqeval.recall_score,
            seqeval.f1_score)]
    per_type = {
        name: {"precision": row["precision"], "recall": row["recall"],
               "f1": row["f1-score"], "support": int(row["support"])}
        for name, row in report.items() if not name.endswith(" avg")
    }
    return overall, per_type


def _assert_matches_seqeval(metrics, true_lists, pred_lists):
    overall, per_type = _seqeval(true_lists, pred_lists)
    for metric, expected in zip(metrics, overall):
        assert float(metric.result()) == pytest.approx(expected, abs=1e-6)
    got = metrics[-1].per_type()
    assert list(got) == list(per_type)  # same types, sorted alike
    for name, row in per_type.items():
        assert got[name]["support"] == row["support"], name
        for key in ("precision", "recall", "f1"):
            assert got[name][key] == pytest.approx(row[key], abs=1e-6), (
                name, key)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_fuzz_against_seqeval_over_several_batches(scheme):
    tag_names = SCHEMES[scheme]
    rng = np.random.default_rng(len(scheme))
    metrics = [cls(tag_names) for cls in (EntityPrecision, EntityRecall,
                                          EntityF1)]
    true_lists, pred_lists = [], []
    for step in range(10):
        y_true, y_pred = _random_batch(rng, tag_names)
        if step % 2:  # probabilities (argmax taken) on odd steps
            y_pred = np.eye(len(tag_names), dtype="float32")[y_pred] * 0.8
        for metric in metrics:
            metric.update_state(y_true, y_pred)
        words = _words(tag_names, y_true,
                       y_pred.argmax(-1) if y_pred.ndim == 3 else y_pred)
        true_lists += words[0]
        pred_lists += words[1]
    assert sum(map(len, true_lists)) > 300
    _assert_matches_seqeval(metrics, true_lists, pred_lists)
    # Enough chunks matched, missed and spurious for the test to bite.
    counts = metrics[-1]
    tp = float(tf.reduce_sum(counts.true_positives))
    assert 10 < tp < float(tf.reduce_sum(counts.gold))
    assert tp < float(tf.reduce_sum(counts.predicted))


def test_hand_made_edge_cases_match_seqeval():
    # Each row one rule: I- after O starts a chunk (IOB1); a type switch
    # inside a chunk ends it; E- ends and S- is a chunk of one; "." ends a
    # chunk but starts none; B- B- is two chunks; a chunk runs to the end.
    tag_names = SCHEMES["mixed"]
    rows = [
        (["O", "I-a", "I-a", "O", "I-d"], ["I-a", "I-a", "I-a", "O", "S-d"]),
        (["B-a", "I-b-c", "I-b-c", "E-b-c"], ["B-a", "I-a", "I-b-c", "E-b-c"]),
        (["E-a", "E-a", "S-a", "I-a"], ["B-a", "E-a", "S-a", "I-a"]),
        (["B-a", ".", "I-a", "B-a"], ["B-a", "I-a", "I-a", "B-a"]),
        (["S-d", "I-d", "E-a", "O"], ["S-d", "I-d", "E-a", "O"]),
    ]
    index = {tag: i for i, tag in enumerate(tag_names)}
    seq_len = 7  # ignored ids in front, between and behind the words
    y_true = np.full((len(rows), seq_len), IGNORE)
    y_pred = np.zeros((len(rows), seq_len), "int64")
    for r, (true, pred) in enumerate(rows):
        columns = [1, 2, 4, 5] if len(true) == 4 else [0, 1, 2, 4, 5]
        y_true[r, columns] = [index[t] for t in true]
        y_pred[r, columns] = [index[t] for t in pred]
    metrics = [cls(tag_names) for cls in (EntityPrecision, EntityRecall,
                                          EntityF1)]
    for metric in metrics:
        metric.update_state(y_true, y_pred)
    _assert_matches_seqeval(metrics, [t for t, _ in rows],
                            [p for _, p in rows])
    # Counted by hand for row 0: gold a(1, 2), d(4, 4); predicted a(0, 2),
    # d(4, 4): one match of two.
    single = EntityF1(tag_names)
    single.update_state(y_true[:1], y_pred[:1])
    assert single.per_type() == {
        "a": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        "d": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
    }


def test_compiled_and_xla_steps_give_the_eager_counts():
    tag_names = SCHEMES["bioes"]
    rng = np.random.default_rng(7)
    y_true, y_pred = _random_batch(rng, tag_names, batch_size=16)
    probabilities = np.eye(len(tag_names), dtype="float32")[y_pred]
    eager = EntityF1(tag_names)
    eager.update_state(y_true, probabilities)
    for jit_compile in (False, True):
        metric = EntityF1(tag_names)
        step = tf.function(metric.update_state, jit_compile=jit_compile)
        step(tf.constant(y_true), tf.constant(probabilities))
        for name in ("true_positives", "predicted", "gold"):
            np.testing.assert_array_equal(
                getattr(metric, name).numpy(), getattr(eager, name).numpy())
    assert eager.gold.numpy().sum() > 5


def test_sample_weight_masks_positions_and_sentences():
    tag_names = SCHEMES["iob"]
    rng = np.random.default_rng(3)
    y_true, y_pred = _random_batch(rng, tag_names)
    per_word = (rng.uniform(size=y_true.shape) < 0.8).astype("float32") * 2
    per_sentence = np.array([1, 0] * 4, "float32")
    for weight, dropped in [
        (per_word, per_word == 0),
        (per_sentence, np.broadcast_to(per_sentence[:, None] == 0,
                                       y_true.shape)),
    ]:
        metric = EntityF1(tag_names)
        metric.update_state(y_true, y_pred, sample_weight=weight)
        masked = np.where(dropped, IGNORE, y_true)
        reference = EntityF1(tag_names)
        reference.update_state(masked, y_pred)
        assert metric.per_type() == reference.per_type()
        assert metric.per_type() != EntityF1(tag_names).per_type()


def test_reset_and_config_round_trip():
    tag_names = SCHEMES["ioe"]
    metric = EntityRecall(tag_names, ignore_index=-1, name="ner_recall")
    metric.update_state([[1, 2, -1]], [[1, 2, 0]])
    assert float(metric.result()) == 1.0
    metric.reset_state()
    assert float(metric.result()) == 0.0 and metric.per_type() == {}
    config = metric.get_config()
    assert config["tag_names"] == tag_names
    assert config["ignore_index"] == -1
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric))
    assert isinstance(restored, EntityRecall)
    assert restored.name == "ner_recall" and restored.ignore_index == -1
    restored.update_state([[3, 4, -1]], [[4, 4, 0]])  # LOC(0, 1) vs (0, 0)
    assert restored.per_type()["LOC"]["recall"] == 0.0


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"tag_names": "O B-PER"}, TypeError, r"tag_names='O B-PER'"),
        ({"tag_names": ["O", "B-PER", "U-PER"]}, ValueError,
         r"prefix B-, I-, E- or S- .*Received: tag_names=\[\.\.\., "
         r"'U-PER', \.\.\.\]"),
        ({"tag_names": ["O", "B"]}, ValueError, r"'B'"),
        ({"tag_names": ["B-PER", "I-PER"]}, ValueError, r"must include 'O'"),
        ({"tag_names": ["O", "B-PER", "B-PER"]}, ValueError,
         r"more than once: \['B-PER'\]"),
        ({"tag_names": ["O", "B-PER"], "ignore_index": 1}, ValueError,
         r"must not be a tag id \(0 to 1\). Received: ignore_index=1"),
        ({"tag_names": ["O", "B-PER"], "ignore_index": None}, TypeError,
         r"ignore_index=None"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        EntityF1(**kwargs)


def test_bad_shapes_name_the_shapes():
    metric = EntityF1(["O", "B-PER", "I-PER"])
    with pytest.raises(ValueError, match=r"y_true of shape \(6,\)"):
        metric.update_state(np.zeros(6, "int64"), np.zeros((6, 3)))
    with pytest.raises(ValueError, match=r"4 scores per word for 3 tag"):
        metric.update_state(np.zeros((2, 3), "int64"), np.zeros((2, 3, 4)))
