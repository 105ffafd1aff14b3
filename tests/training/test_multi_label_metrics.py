import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as skm

from kerasft.training import (
    ExactMatch,
    MultiLabelF1,
    MultiLabelPrecision,
    MultiLabelRecall,
    tune_thresholds,
)

NUM_LABELS = 5
THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7]
CLASSES = [
    (MultiLabelPrecision, skm.precision_score),
    (MultiLabelRecall, skm.recall_score),
    (MultiLabelF1, skm.f1_score),
]


def _data(n=120, seed=0):
    """Multi-hot labels (label 3 never true) and probabilities that lean
    towards the labels."""
    rng = np.random.default_rng(seed)
    y_true = (rng.uniform(size=(n, NUM_LABELS)) < 0.35).astype("int64")
    y_true[:, 3] = 0
    probabilities = np.clip(
        0.35 * y_true + rng.uniform(size=y_true.shape) * 0.7, 0, 1)
    return y_true, probabilities.astype("float32")


def _update_in_batches(metric, y_true, probabilities, weights=None):
    for start in (0, 50, 100):
        stop = start + 50
        metric.update_state(
            y_true[start:stop], probabilities[start:stop],
            sample_weight=None if weights is None else weights[start:stop])


@pytest.mark.parametrize("average", ["micro", "macro"])
@pytest.mark.parametrize("threshold", [0.5, THRESHOLDS])
def test_averages_match_sklearn_over_batches(average, threshold):
    y_true, probabilities = _data()
    weights = np.random.default_rng(1).uniform(size=len(y_true))
    predicted = (probabilities > np.asarray(threshold)).astype("int64")
    for cls, function in CLASSES:
        for sample_weight in (None, weights):
            metric = cls(NUM_LABELS, average=average, threshold=threshold)
            _update_in_batches(metric, y_true, probabilities,
                               sample_weight)
            expected = function(y_true, predicted, average=average,
                                zero_division=0, sample_weight=sample_weight)
            assert float(metric.result()) == pytest.approx(expected,
                                                           abs=1e-6)
    # Labels without positives and a label predicted nowhere (macro: they
    # count as 0) are part of what is compared.
    assert y_true[:, 3].sum() == 0


def test_per_label_matches_precision_recall_fscore_support():
    y_true, probabilities = _data()
    weights = np.random.default_rng(2).integers(1, 4, len(y_true))
    metric = MultiLabelRecall(NUM_LABELS, threshold=THRESHOLDS)
    _update_in_batches(metric, y_true, probabilities, weights)
    expected = skm.precision_recall_fscore_support(
        y_true, (probabilities > np.array(THRESHOLDS)).astype("int64"),
        average=None, zero_division=0, sample_weight=weights)
    got = metric.per_label()
    assert sorted(got) == ["f1", "precision", "recall", "support"]
    for key, values in zip(("precision", "recall", "f1", "support"),
                           expected):
        assert got[key].shape == (NUM_LABELS,)
        np.testing.assert_allclose(got[key], values, atol=1e-6,
                                   err_msg=key)


def test_exact_match_is_subset_accuracy():
    y_true, probabilities = _data()
    # Some examples fully right: copy the labels into their probabilities.
    probabilities[::3] = np.where(y_true[::3], 0.9, 0.1)
    weights = np.random.default_rng(3).uniform(size=len(y_true))
    predicted = (probabilities > np.array(THRESHOLDS)).astype("int64")
    for sample_weight in (None, weights):
        metric = ExactMatch(NUM_LABELS, threshold=THRESHOLDS)
        _update_in_batches(metric, y_true.astype("float32"), probabilities,
                           sample_weight)
        expected = skm.accuracy_score(y_true, predicted,
                                      sample_weight=sample_weight)
        assert 0.2 < expected < 0.6
        assert float(metric.result()) == pytest.approx(expected, abs=1e-6)


def test_one_label_takes_flat_inputs():
    metric = MultiLabelF1(1, average="micro")
    metric.update_state([1, 0, 1, 1], [0.9, 0.6, 0.4, 0.7])
    # tp 2, fp 1, fn 1: 2 * 2 / (2 * 2 + 1 + 1).
    assert float(metric.result()) == pytest.approx(4 / 6)


def test_compiled_and_xla_updates_match_eager():
    y_true, probabilities = _data()
    eager = MultiLabelF1(NUM_LABELS, average="macro", threshold=THRESHOLDS)
    eager.update_state(y_true, probabilities)
    for jit_compile in (False, True):
        metric = MultiLabelF1(NUM_LABELS, average="macro",
                              threshold=THRESHOLDS)
        tf.function(metric.update_state, jit_compile=jit_compile)(
            tf.constant(y_true), tf.constant(probabilities))
        assert float(metric.result()) == pytest.approx(
            float(eager.result()), abs=1e-7)


def test_reset_and_config_round_trip():
    metric = MultiLabelPrecision(3, average="micro", threshold=[0.2, 0.5,
                                                                 0.8])
    assert metric.name == "micro_precision"
    metric.update_state([[1, 0, 1]], [[0.3, 0.6, 0.9]])
    assert float(metric.result()) == pytest.approx(2 / 3)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric))
    assert isinstance(restored, MultiLabelPrecision)
    assert restored.get_config() == metric.get_config()
    assert restored.threshold == [0.2, 0.5, 0.8]
    exact = ExactMatch.from_config(ExactMatch(4, threshold=0.3).get_config())
    assert (exact.num_labels, exact.threshold, exact.name) == (
        4, 0.3, "exact_match")


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"threshold": 1.0}, ValueError,
         r"`threshold` must be a number in \(0, 1\). Received: "
         r"threshold=1.0"),
        ({"threshold": [0.5, 0.5]}, ValueError,
         r"one value per label, 3 in all.*\(2 values\)"),
        ({"threshold": [0.5, 0.0, 0.5]}, ValueError,
         r"Received: threshold\[1\]=0.0"),
        ({"threshold": "0.5"}, TypeError, r"threshold='0.5'"),
        ({"average": "samples"}, ValueError,
         r"'micro', 'macro'. Received: average='samples'"),
        ({"num_labels": 0}, ValueError, r"num_labels=0"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        MultiLabelF1(**{"num_labels": 3, **kwargs})


def test_bad_shapes_name_the_shapes():
    metric = MultiLabelF1(3)
    with pytest.raises(ValueError, match=r"y_pred of shape \(2, 4\)"):
        metric.update_state(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(2, 3\)"):
        metric.update_state(np.zeros((2, 3)), np.zeros((2, 3)),
                            np.ones((2, 3)))


# ------------------------------------------------------------ thresholds
def test_tune_thresholds_on_a_case_computed_by_hand():
    y_true = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 0], [0, 0, 0]])
    probabilities = np.array([
        [0.9, 0.8, 0.9],
        [0.4, 0.1, 0.1],
        [0.35, 0.9, 0.1],
        [0.1, 0.2, 0.1],
    ])
    thresholds = tune_thresholds(y_true, probabilities,
                                 candidates=[0.2, 0.3, 0.4, 0.6, 0.7, 0.8])
    # Label 0 (positives at 0.9 and 0.35, negatives at 0.4 and 0.1):
    #   t = 0.2, 0.3: predicts 0.9, 0.4, 0.35: tp 2, fp 1 -> F1 4/5
    #   t = 0.4 and up: predicts 0.9: tp 1, fn 1          -> F1 2/3
    #   0.2 and 0.3 tie: 0.3 is nearer 0.5.
    # Label 1: no positives -> 0.5, whatever the candidates.
    # Label 2 (one positive at 0.9): every candidate gives F1 1; 0.4 and
    #   0.6 are equally near 0.5: the lower wins.
    assert thresholds.dtype == np.float32
    np.testing.assert_array_equal(thresholds,
                                  np.float32([0.3, 0.5, 0.4]))


def test_tune_thresholds_default_grid_finds_the_best_f1():
    y_true, probabilities = _data(seed=4)
    thresholds = tune_thresholds(y_true, probabilities)
    grid = np.arange(1, 100) / 100
    for label in (0, 1, 2, 4):
        scores = [skm.f1_score(y_true[:, label],
                               probabilities[:, label] > t, zero_division=0)
                  for t in grid]
        best = skm.f1_score(y_true[:, label],
                            probabilities[:, label] > thresholds[label])
        assert best == pytest.approx(max(scores))
    assert thresholds[3] == 0.5  # label 3 has no positives
    # Tuned thresholds score at least as well as 0.5 on the same data.
    tuned = MultiLabelF1(NUM_LABELS, threshold=thresholds.tolist())
    plain = MultiLabelF1(NUM_LABELS)
    for metric in (tuned, plain):
        metric.update_state(y_true, probabilities)
    assert float(tuned.result()) > float(plain.result())


def test_tune_thresholds_bad_arguments():
    with pytest.raises(ValueError, match=r"y_true of shape \(4,\), "
                                         r"probabilities of shape \(4, 1\)"):
        tune_thresholds(np.zeros(4), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"candidates=\[0.5, 1.0\]"):
        tune_thresholds(np.zeros((4, 1)), np.zeros((4, 1)), [0.5, 1.0])
