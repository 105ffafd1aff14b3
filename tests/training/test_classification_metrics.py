import numpy as np
import pytest
from sklearn import metrics as skm

from kerasft.training import ConfusionMatrix, F1Score, Precision, Recall


def _data(num_classes, n=200, seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes)) + 1.5 * np.eye(num_classes)[
        y_true
    ]
    return y_true, logits.astype("float32")


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_multiclass_scores_match_sklearn_over_two_batches(average):
    y_true, probs = _data(4)
    y_pred = probs.argmax(-1)
    for cls, fn in [
        (Precision, skm.precision_score),
        (Recall, skm.recall_score),
        (F1Score, skm.f1_score),
    ]:
        metric = cls(num_classes=4, average=average)
        metric.update_state(y_true[:120], probs[:120])
        metric.update_state(y_true[120:], probs[120:])
        expected = fn(y_true, y_pred, average=average, zero_division=0)
        assert float(metric.result()) == pytest.approx(expected, abs=1e-6)


def test_binary_scores_threshold_one_output_probabilities():
    y_true = np.array([1, 0, 1, 1, 0, 0])
    probs = np.array([0.9, 0.6, 0.4, 0.7, 0.1, 0.2], "float32")
    y_pred = (probs > 0.5).astype(int)
    for cls, fn in [
        (Precision, skm.precision_score),
        (Recall, skm.recall_score),
        (F1Score, skm.f1_score),
    ]:
        metric = cls(num_classes=2, average="binary")
        metric.update_state(y_true, probs[:, None])
        assert float(metric.result()) == pytest.approx(fn(y_true, y_pred))


def test_macro_skips_classes_absent_from_labels_and_predictions():
    # Class 2 never occurs: scikit-learn averages over classes 0 and 1 only.
    y_true = np.array([0, 0, 1, 1])
    probs = np.eye(3, dtype="float32")[[0, 1, 1, 1]]
    metric = F1Score(num_classes=3, average="macro")
    metric.update_state(y_true, probs)
    expected = skm.f1_score(y_true, probs.argmax(-1), average="macro")
    assert float(metric.result()) == pytest.approx(expected)


def test_confusion_matrix_counts_and_reset():
    y_true, probs = _data(3, n=50)
    metric = ConfusionMatrix(num_classes=3)
    metric.update_state(y_true, probs)
    np.testing.assert_array_equal(
        metric.result().numpy(),
        skm.confusion_matrix(y_true, probs.argmax(-1), labels=[0, 1, 2]),
    )
    metric.reset_state()
    assert metric.result().numpy().sum() == 0


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match=r"average='weighted'"):
        Precision(num_classes=3, average="weighted")
    with pytest.raises(ValueError, match=r"num_classes=1"):
        ConfusionMatrix(num_classes=1)
