"""Confusion-matrix based classification metrics.

Keras ships binary `Precision`/`Recall` and an `F1Score` that wants one-hot
labels and thresholds each class independently; none of them gives macro
averages over sparse multi-class labels, and there is no multi-class
confusion matrix metric. These metrics keep one (num_classes, num_classes)
count matrix each and derive everything from it. Counts are summed across
replicas (the variable is `aggregation="sum"`, read on the cross-replica
side), so precision / recall / F1 are computed from global counts, never
averaged per replica.
"""

import keras
import tensorflow as tf

AVERAGES = ("binary", "macro", "micro")


@keras.saving.register_keras_serializable(package="kerasft")
class ConfusionMatrix(keras.metrics.Metric):
    """Accumulates a confusion matrix over batches.

    Rows are true classes, columns predicted classes. Predictions are
    probabilities: `(batch, num_classes)` (argmax) or, for a binary task
    with one output, `(batch,)` / `(batch, 1)` thresholded at `threshold`.
    Labels are sparse integers `(batch,)` / `(batch, 1)` or one-hot
    `(batch, num_classes)`.

    Args:
        num_classes: int. Number of classes (2 for a one-output binary task).
        threshold: float. Decision threshold for one-output binary
            predictions. Defaults to `0.5`.
        name: string. Defaults to `"confusion_matrix"`.

    Example:
    >>> m = ConfusionMatrix(num_classes=3)
    >>> m.update_state([0, 1, 2], [[.9, .1, 0.], [.2, .7, .1], [.6, .2, .2]])
    >>> m.result().numpy().tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """

    def __init__(self, num_classes, threshold=0.5, name=None, dtype=None):
        super().__init__(name=name or "confusion_matrix", dtype=dtype)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                "`num_classes` must be an int >= 2. "
                f"Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        self.threshold = threshold
        self.counts = self.add_variable(
            shape=(num_classes, num_classes),
            initializer="zeros",
            dtype="float32",
            aggregation="sum",
            name="counts",
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = tf.convert_to_tensor(y_pred)
        y_true = tf.convert_to_tensor(y_true)
        if y_pred.shape.rank == 2 and y_pred.shape[-1] > 1:
            predicted = tf.argmax(y_pred, axis=-1)
        else:
            predicted = tf.cast(
                tf.reshape(y_pred, [-1]) > self.threshold, tf.int64
            )
        if (
            y_true.shape.rank == 2
            and y_true.shape[-1] == self.num_classes
            and self.num_classes > 1
            and y_pred.shape.rank == 2
            and y_pred.shape[-1] == self.num_classes
        ):
            # One-hot labels, (batch, num_classes).
            y_true = tf.argmax(y_true, axis=-1)
        y_true = tf.cast(tf.reshape(y_true, [-1]), tf.int64)
        if sample_weight is not None:
            sample_weight = tf.reshape(
                tf.cast(sample_weight, "float32"), [-1]
            )
        counts = tf.math.confusion_matrix(
            y_true,
            predicted,
            num_classes=self.num_classes,
            weights=sample_weight,
            dtype="float32",
        )
        self.counts.assign_add(counts)

    def result(self):
        return tf.convert_to_tensor(self.counts)

    def reset_state(self):
        self.counts.assign(tf.zeros_like(self.counts))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "threshold": self.threshold,
        }


def precision_recall_f1(counts, average="macro", positive_class=1):
    """Precision, recall and F1 from a confusion matrix (a tensor).

    `macro` averages over the classes that occur in the labels or the
    predictions (scikit-learn's `labels=None` behaviour); a class with an
    empty denominator scores 0 (scikit-learn's `zero_division=0`).

    Args:
        counts: `(num_classes, num_classes)` tensor, rows = true classes.
        average: one of `"binary"`, `"macro"`, `"micro"`.
        positive_class: int. The class scored when `average="binary"`.

    Returns:
        A tuple `(precision, recall, f1)` of scalar float32 tensors.
    """
    counts = tf.cast(counts, "float32")
    true_positives = tf.linalg.diag_part(counts)
    predicted = tf.reduce_sum(counts, axis=0)  # (num_classes,) column sums
    actual = tf.reduce_sum(counts, axis=1)  # (num_classes,) row sums
    if average == "micro":
        tp, pp, ap = (tf.reduce_sum(v) for v in (true_positives, predicted,
                                                  actual))
        precision = tf.math.divide_no_nan(tp, pp)
        recall = tf.math.divide_no_nan(tp, ap)
        return precision, recall, _f1(precision, recall)
    precision = tf.math.divide_no_nan(true_positives, predicted)
    recall = tf.math.divide_no_nan(true_positives, actual)
    f1 = _f1(precision, recall)
    if average == "binary":
        return (
            precision[positive_class],
            recall[positive_class],
            f1[positive_class],
        )
    present = tf.cast((predicted + actual) > 0, "float32")
    num_present = tf.reduce_sum(present)

    def mean(values):
        return tf.math.divide_no_nan(tf.reduce_sum(values * present),
                                     num_present)

    return mean(precision), mean(recall), mean(f1)


def _f1(precision, recall):
    return tf.math.divide_no_nan(2.0 * precision * recall, precision + recall)


class _DerivedMetric(ConfusionMatrix):
    """A scalar read from the confusion matrix; subclasses pick which."""

    _index = None  # 0: precision, 1: recall, 2: f1

    def __init__(
        self,
        num_classes,
        average="macro",
        positive_class=1,
        threshold=0.5,
        name=None,
        dtype=None,
    ):
        if average not in AVERAGES:
            raise ValueError(
                f"`average` must be one of {AVERAGES}. "
                f"Received: average={average!r}"
            )
        super().__init__(num_classes, threshold=threshold, name=name,
                         dtype=dtype)
        self.average = average
        self.positive_class = positive_class

    def result(self):
        values = precision_recall_f1(
            self.counts, self.average, self.positive_class
        )
        return values[self._index]

    def get_config(self):
        return {
            **super().get_config(),
            "average": self.average,
            "positive_class": self.positive_class,
        }


@keras.saving.register_keras_serializable(package="kerasft")
class Precision(_DerivedMetric):
    """Precision from a confusion matrix: binary, macro or micro averaged.

    Args:
        num_classes: int. Number of classes (2 for a one-output binary task).
        average: string. `"binary"` scores `positive_class`; `"macro"`
            averages per-class precision; `"micro"` pools counts.
            Defaults to `"macro"`.
        positive_class: int. Defaults to `1`.

    Example:
    >>> m = Precision(num_classes=2, average="binary")
    >>> m.update_state([1, 0, 1], [0.9, 0.8, 0.2])
    >>> float(m.result())
    0.5
    """

    _index = 0


@keras.saving.register_keras_serializable(package="kerasft")
class Recall(_DerivedMetric):
    """Recall from a confusion matrix; arguments as for `Precision`.

    Example:
    >>> m = Recall(num_classes=2, average="binary")
    >>> m.update_state([1, 0, 1], [0.9, 0.8, 0.2])
    >>> float(m.result())
    0.5
    """

    _index = 1


@keras.saving.register_keras_serializable(package="kerasft")
class F1Score(_DerivedMetric):
    """F1 (harmonic mean of precision and recall) from a confusion matrix.

    Arguments as for `Precision`. For `"macro"`, per-class F1 is averaged
    (scikit-learn's definition), not the F1 of the averaged precision and
    recall.

    Example:
    >>> m = F1Score(num_classes=3, average="macro")
    >>> m.update_state([0, 1, 2], [[.9, .1, 0.], [.2, .7, .1], [.6, .2, .2]])
    >>> round(float(m.result()), 4)
    0.5556
    """

    _index = 2
