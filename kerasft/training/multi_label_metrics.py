"""Multi-label classification metrics: per-label counts, thresholds tuned.

A multi-label model (one sigmoid per label, `binary_crossentropy`) predicts
a set of labels per example. Keras' `F1Score` thresholds each column too,
but it has no micro/macro precision and recall to go with it, no per-label
report and no subset accuracy. These metrics keep per-label count vectors
of shape `(num_labels,)` (true positives, false positives, false
negatives), summed across replicas (the variables are `aggregation="sum"`,
read on the cross-replica side), and derive scikit-learn's numbers from
them: `precision_score` / `recall_score` / `f1_score` with
`average="micro"` or `"macro"` and `zero_division=0`, and
`precision_recall_fscore_support(average=None)` from `per_label()`.

A label is predicted when its probability is strictly above its threshold
(as Keras' metrics and `ConfusionMatrix` do). `tune_thresholds` picks one
threshold per label on validation data.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasft.checks import check_choice, check_int, check_real, is_real
from kerasft.training.example_weights import example_weights

MULTI_LABEL_AVERAGES = ("micro", "macro")


def _check_threshold(threshold, num_labels):
    """Returns a float, or a list of `num_labels` floats, all in (0, 1)."""
    if is_real(threshold):
        return check_real("threshold", threshold, 0, 1, low_open=True,
                          high_open=True)
    if isinstance(threshold, (str, bytes)) or not hasattr(
            threshold, "__iter__"):
        raise TypeError(
            "`threshold` must be a float in (0, 1) or a list of "
            f"num_labels={num_labels} floats. Received: "
            f"threshold={threshold!r} of type {type(threshold).__name__}"
        )
    values = list(np.asarray(threshold, dtype="object").reshape(-1))
    if len(values) != num_labels:
        raise ValueError(
            f"`threshold` must hold one value per label, {num_labels} in "
            f"all. Received: threshold={threshold!r} ({len(values)} values)"
        )
    checked = []
    for i, value in enumerate(values):
        if not (is_real(value) and 0 < value < 1):
            raise ValueError(
                "Every threshold must be a number in (0, 1). Received: "
                f"threshold[{i}]={value!r}"
            )
        checked.append(float(value))
    return checked


def _labels_and_predictions(metric, y_true, y_pred, sample_weight):
    """Returns `(actual, predicted, weights)`: (batch, L), (batch, L),
    (batch, 1) float32 tensors."""
    y_true = tf.convert_to_tensor(y_true)
    y_pred = tf.cast(tf.convert_to_tensor(y_pred), "float32")
    num_labels = metric.num_labels
    for argument, value in (("y_true", y_true), ("y_pred", y_pred)):
        rank = value.shape.rank
        last = value.shape[-1] if rank else None
        if rank == 1 and num_labels == 1:
            continue
        if rank != 2 or last not in (None, num_labels):
            raise ValueError(
                f"{type(metric).__name__} expects `{argument}` of shape "
                f"(batch, num_labels={num_labels}). Received: {argument} of "
                f"shape {tuple(value.shape)}"
            )
    y_true = tf.reshape(y_true, [-1, num_labels])
    y_pred = tf.reshape(y_pred, [-1, num_labels])
    # 0/1 labels as ints or floats; >= 0.5 also reads soft labels sensibly.
    actual = tf.cast(tf.cast(y_true, "float32") >= 0.5, "float32")
    thresholds = tf.constant(metric.threshold, "float32")  # () or (L,)
    predicted = tf.cast(y_pred > thresholds, "float32")  # (batch, L)
    weights = example_weights(type(metric).__name__, sample_weight, actual)
    return actual, predicted, weights


def _scores(true_positives, false_positives, false_negatives):
    """Precision, recall, F1 with zero_division=0, element-wise."""
    precision = tf.math.divide_no_nan(true_positives,
                                      true_positives + false_positives)
    recall = tf.math.divide_no_nan(true_positives,
                                   true_positives + false_negatives)
    f1 = tf.math.divide_no_nan(
        2.0 * true_positives,
        2.0 * true_positives + false_positives + false_negatives)
    return precision, recall, f1


class _MultiLabelCounts(keras.metrics.Metric):
    """Per-label true positive / false positive / false negative counts.

    Subclasses set `_index` (0: precision, 1: recall, 2: F1).
    """

    _index = None
    _short_name = None

    def __init__(self, num_labels, average="macro", threshold=0.5,
                 name=None, dtype=None):
        num_labels = check_int("num_labels", num_labels)
        check_choice("average", average, MULTI_LABEL_AVERAGES)
        threshold = _check_threshold(threshold, num_labels)
        super().__init__(name=name or f"{average}_{self._short_name}",
                         dtype=dtype)
        self.num_labels = num_labels
        self.average = average
        self.threshold = threshold
        self.true_positives, self.false_positives, self.false_negatives = (
            self.add_variable(shape=(num_labels,), initializer="zeros",
                              dtype="float32", aggregation="sum",
                              name=variable_name)
            for variable_name in ("true_positives", "false_positives",
                                  "false_negatives")
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        actual, predicted, weights = _labels_and_predictions(
            self, y_true, y_pred, sample_weight)
        # (batch, L) * (batch, 1) summed over the batch: (L,) each.
        self.true_positives.assign_add(
            tf.reduce_sum(weights * actual * predicted, axis=0))
        self.false_positives.assign_add(
            tf.reduce_sum(weights * (1.0 - actual) * predicted, axis=0))
        self.false_negatives.assign_add(
            tf.reduce_sum(weights * actual * (1.0 - predicted), axis=0))

    def result(self):
        counts = [tf.convert_to_tensor(v) for v in (
            self.true_positives, self.false_positives, self.false_negatives)]
        if self.average == "micro":
            counts = [tf.reduce_sum(c) for c in counts]
            return _scores(*counts)[self._index]
        # scikit-learn's macro average for multi-label indicators is over
        # every label, those never seen scoring 0.
        return tf.reduce_mean(_scores(*counts)[self._index])

    def per_label(self):
        """Per-label scores, as NumPy arrays of shape `(num_labels,)`.

        Returns:
            A dict with `"precision"`, `"recall"`, `"f1"` and `"support"`
            (the weighted number of true examples of each label), equal to
            scikit-learn's `precision_recall_fscore_support(average=None,
            zero_division=0)`.
        """
        counts = [tf.convert_to_tensor(v) for v in (
            self.true_positives, self.false_positives, self.false_negatives)]
        precision, recall, f1 = _scores(*counts)
        return {
            "precision": precision.numpy(),
            "recall": recall.numpy(),
            "f1": f1.numpy(),
            "support": (counts[0] + counts[2]).numpy(),
        }

    def get_config(self):
        return {
            **super().get_config(),
            "num_labels": self.num_labels,
            "average": self.average,
            "threshold": self.threshold,
        }


@keras.saving.register_keras_serializable(package="kerasft")
class MultiLabelPrecision(_MultiLabelCounts):
    """Precision of multi-label predictions, micro or macro averaged.

    `y_true` is a multi-hot `(batch, num_labels)` array of 0/1 (ints or
    floats), `y_pred` the `(batch, num_labels)` sigmoid probabilities; a
    label is predicted when its probability is above its threshold.
    `sample_weight`, if given, holds one weight per example `(batch,)`.
    The result equals scikit-learn's `precision_score(y_true, y_pred >
    threshold, average=average, zero_division=0)` over all batches.

    Args:
        num_labels: int. Number of labels (the model's outputs).
        average: string. `"micro"` pools the counts of all labels;
            `"macro"` averages the per-label scores over all labels, a
            label never true nor predicted scoring 0. Defaults to
            `"macro"`.
        threshold: float in (0, 1), or a list of `num_labels` floats (one
            per label, e.g. from `tune_thresholds`). Defaults to `0.5`.
        name: string. Defaults to `"{average}_precision"`.

    Example:
    >>> m = MultiLabelPrecision(num_labels=2, average="micro")
    >>> m.update_state([[1, 0], [1, 1]], [[0.9, 0.8], [0.2, 0.7]])
    >>> round(float(m.result()), 4)
    0.6667
    """

    _index = 0
    _short_name = "precision"


@keras.saving.register_keras_serializable(package="kerasft")
class MultiLabelRecall(_MultiLabelCounts):
    """Recall of multi-label predictions; arguments as for
    `MultiLabelPrecision` (default name `"{average}_recall"`).

    Example:
    >>> m = MultiLabelRecall(num_labels=2, average="micro")
    >>> m.update_state([[1, 0], [1, 1]], [[0.9, 0.8], [0.2, 0.7]])
    >>> round(float(m.result()), 4)
    0.6667
    """

    _index = 1
    _short_name = "recall"


@keras.saving.register_keras_serializable(package="kerasft")
class MultiLabelF1(_MultiLabelCounts):
    """F1 of multi-label predictions; arguments as for
    `MultiLabelPrecision` (default name `"{average}_f1"`).

    `"micro"` is the F1 of the pooled counts, `2 tp / (2 tp + fp + fn)`;
    `"macro"` the mean of the per-label F1s (scikit-learn's definitions).

    Example:
    >>> m = MultiLabelF1(num_labels=2, average="macro", threshold=[0.5, 0.75])
    >>> m.update_state([[1, 0], [1, 1]], [[0.9, 0.8], [0.2, 0.7]])
    >>> round(float(m.result()), 4)  # label 0: 2/3, label 1: 0
    0.3333
    >>> m.per_label()["support"].tolist()
    [2.0, 1.0]
    """

    _index = 2
    _short_name = "f1"


@keras.saving.register_keras_serializable(package="kerasft")
class ExactMatch(keras.metrics.Metric):
    """Subset accuracy: the share of examples whose whole predicted label
    set equals the true one.

    Equals scikit-learn's `accuracy_score` on the multi-hot arrays (with
    `sample_weight`, the weighted share). Inputs as for
    `MultiLabelPrecision`.

    Args:
        num_labels: int. Number of labels.
        threshold: float in (0, 1), or a list of `num_labels` floats.
            Defaults to `0.5`.
        name: string. Defaults to `"exact_match"`.

    Example:
    >>> m = ExactMatch(num_labels=2)
    >>> m.update_state([[1, 0], [1, 1]], [[0.9, 0.1], [0.2, 0.7]])
    >>> float(m.result())
    0.5
    """

    def __init__(self, num_labels, threshold=0.5, name=None, dtype=None):
        num_labels = check_int("num_labels", num_labels)
        threshold = _check_threshold(threshold, num_labels)
        super().__init__(name=name or "exact_match", dtype=dtype)
        self.num_labels = num_labels
        self.threshold = threshold
        self.matches = self.add_variable(
            shape=(), initializer="zeros", dtype="float32",
            aggregation="sum", name="matches")
        self.total = self.add_variable(
            shape=(), initializer="zeros", dtype="float32",
            aggregation="sum", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        actual, predicted, weights = _labels_and_predictions(
            self, y_true, y_pred, sample_weight)
        # (batch, 1): 1 where every label agrees.
        match = tf.reduce_min(
            tf.cast(tf.equal(actual, predicted), "float32"), axis=-1,
            keepdims=True)
        self.matches.assign_add(tf.reduce_sum(weights * match))
        self.total.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.math.divide_no_nan(tf.convert_to_tensor(self.matches),
                                     tf.convert_to_tensor(self.total))

    def get_config(self):
        return {
            **super().get_config(),
            "num_labels": self.num_labels,
            "threshold": self.threshold,
        }


def tune_thresholds(y_true, probabilities, candidates=None):
    """Per-label thresholds that maximise each label's F1 on validation data.

    Runs on the host (NumPy). For each label, every candidate threshold `t`
    predicts `probabilities > t`; the one with the highest F1 of that label
    wins. Among equal F1s the candidate nearest 0.5 wins (of two equally
    near, the lower), so that a flat optimum does not drift to an extreme;
    a label without any positive example keeps 0.5. Pass the result as the
    `threshold` of `MultiLabelF1` & co., or threshold predictions with it.

    Args:
        y_true: `(num_examples, num_labels)` multi-hot array of 0/1.
        probabilities: `(num_examples, num_labels)` array of predicted
            probabilities (sigmoid outputs).
        candidates: 1-D sequence of thresholds in (0, 1) to try, or None
            for 0.01, 0.02, ..., 0.99.

    Returns:
        A float32 NumPy array of shape `(num_labels,)`.

    Example:
    >>> thresholds = tune_thresholds(
    ...     [[1, 0], [0, 0], [1, 0]], [[0.9, 0.3], [0.4, 0.2], [0.35, 0.1]],
    ...     candidates=[0.2, 0.3, 0.5, 0.8])
    >>> print(thresholds)  # label 0: 0.2 and 0.3 tie at F1 0.8
    [0.3 0.5]
    """
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities, dtype="float64")
    if y_true.ndim != 2 or probabilities.shape != y_true.shape:
        raise ValueError(
            "`y_true` and `probabilities` must both be (num_examples, "
            "num_labels) arrays of the same shape. Received: y_true of "
            f"shape {y_true.shape}, probabilities of shape "
            f"{probabilities.shape}"
        )
    if candidates is None:
        candidates = np.arange(1, 100) / 100.0  # 0.5 exactly among them
    candidates = np.asarray(candidates, dtype="float64")
    if (candidates.ndim != 1 or candidates.size == 0
            or not np.all((candidates > 0) & (candidates < 1))):
        raise ValueError(
            "`candidates` must be a non-empty 1-D sequence of thresholds "
            f"in (0, 1). Received: candidates={candidates.tolist()!r}"
        )
    # Try the candidates nearest 0.5 first: argmax keeps the first of equal
    # F1s. lexsort's last key is the primary one; rounded, so that 0.3 and
    # 0.7 are equally near (0.7 - 0.5 is 0.19999999999999996).
    distance = np.round(np.abs(candidates - 0.5), 9)
    candidates = candidates[np.lexsort((candidates, distance))]
    positive = y_true >= 0.5  # (num_examples, num_labels)
    f1 = np.empty((candidates.size, y_true.shape[1]))
    for i, threshold in enumerate(candidates):
        predicted = probabilities > threshold
        true_positives = np.sum(predicted & positive, axis=0)
        # 2 tp + fp + fn = predicted + actual positives.
        denominator = np.sum(predicted, axis=0) + np.sum(positive, axis=0)
        f1[i] = np.divide(2.0 * true_positives, denominator,
                          out=np.zeros(y_true.shape[1]),
                          where=denominator > 0)
    best = candidates[np.argmax(f1, axis=0)]  # (num_labels,)
    best[~positive.any(axis=0)] = 0.5
    return best.astype("float32")
