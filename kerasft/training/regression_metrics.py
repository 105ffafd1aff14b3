"""Correlation metrics over the whole evaluation set, exact across replicas.

Keras' `PearsonCorrelation` averages per-batch correlations, which is not
the correlation of the set (and depends on the batch size). Here:

- `PearsonCorrelation` keeps running sums (n, Sx, Sy, Sxx, Syy, Sxy),
  summed across replicas, and computes the correlation of everything seen.
  The values are first centred on the mean of the first (global) batch, so
  that float32 sums keep their precision for targets far from zero (around
  100 with a spread of 1, raw float32 sums lose about four digits to
  cancellation).
- `SpearmanCorrelation` needs the ranks of the whole set, so it keeps every
  `(target, prediction)` pair in a fixed-size buffer. Under a
  `tf.distribute` strategy each replica writes its own interleaved slots,
  so that the buffers summed across replicas (`aggregation="sum"`) are the
  union of what every replica saw.

Both work on `y_true` of shape `(batch,)` or `(batch, num_outputs)` and
`y_pred` of shape `(batch, num_outputs)` or `(batch,)`; with several
outputs the result is the mean of the per-column correlations. Their
updates compile with XLA.
"""

import keras
import tensorflow as tf

from kerasft.checks import check_int
from kerasft.training.example_weights import example_weights


def _columns(metric, y_true, y_pred):
    """Returns both inputs as float32 `(batch, num_outputs)` tensors."""
    num_outputs = metric.num_outputs
    tensors = []
    for argument, value in (("y_true", y_true), ("y_pred", y_pred)):
        value = tf.cast(tf.convert_to_tensor(value), "float32")
        rank = value.shape.rank
        if not (
            (rank == 1 and num_outputs == 1)
            or (rank == 2 and value.shape[-1] in (None, num_outputs))
        ):
            raise ValueError(
                f"{type(metric).__name__} expects `{argument}` of shape "
                f"(batch, num_outputs={num_outputs})"
                f"{' or (batch,)' if num_outputs == 1 else ''}. Received: "
                f"{argument} of shape {tuple(value.shape)}"
            )
        tensors.append(tf.reshape(value, [-1, num_outputs]))
    return tensors


def _replica():
    """Returns `(number of replicas, this replica's id)`; (1, 0) outside
    a strategy."""
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context: one writer
        return 1, 0
    return context.num_replicas_in_sync, context.replica_id_in_sync_group


def _correlation(n, sum_x, sum_y, sum_xx, sum_yy, sum_xy):
    """Pearson's r per column from sums, clipped to [-1, 1] as scipy does.

    A column with no spread gives NaN (scipy: NaN and a warning).
    """
    covariance = sum_xy - sum_x * sum_y / n
    variance_x = sum_xx - sum_x * sum_x / n
    variance_y = sum_yy - sum_y * sum_y / n
    r = covariance / tf.sqrt(variance_x * variance_y)
    return tf.clip_by_value(r, -1.0, 1.0)


@keras.saving.register_keras_serializable(package="kerasft")
class PearsonCorrelation(keras.metrics.Metric):
    """Pearson correlation of predictions and targets over all batches.

    Exact over the whole set (not a mean of per-batch correlations): the
    result equals `scipy.stats.pearsonr` on everything seen since the last
    reset, to float32 precision. With several outputs, the mean of the
    per-column correlations. NaN while a column has no spread (a constant
    target or prediction) or nothing was seen.

    `sample_weight`, if given, holds one non-negative weight per example
    `(batch,)`, read as a frequency: a weight of 2 counts the example
    twice, 0 drops it.

    Under a `tf.distribute` strategy the sums are taken per replica and
    summed across replicas when read; the centring shift (the mean of the
    first global batch) is all-reduced across replicas once, so that every
    replica centres on the same value.

    Args:
        num_outputs: int. Number of model outputs (columns). Defaults to 1.
        name: string. Defaults to `"pearson"`.

    Example:
    >>> m = PearsonCorrelation()
    >>> m.update_state([100.0, 101.0], [1.0, 2.5])
    >>> m.update_state([102.0, 103.0], [2.0, 4.0])
    >>> round(float(m.result()), 4)
    0.8779
    """

    def __init__(self, num_outputs=1, name="pearson", dtype=None):
        num_outputs = check_int("num_outputs", num_outputs)
        super().__init__(name=name, dtype=dtype)
        self.num_outputs = num_outputs

        def variable(name, shape=(num_outputs,), aggregation="sum"):
            return self.add_variable(shape=shape, initializer="zeros",
                                     dtype="float32",
                                     aggregation=aggregation, name=name)

        self.count = variable("count", shape=())
        self.sum_true, self.sum_pred = variable("sum_true"), variable(
            "sum_pred")
        self.sum_true_squared = variable("sum_true_squared")
        self.sum_pred_squared = variable("sum_pred_squared")
        self.sum_product = variable("sum_product")
        # Same value on every replica ("mean" reads it back unchanged); the
        # result does not depend on it, only the rounding does.
        self.shift_true = variable("shift_true", aggregation="mean")
        self.shift_pred = variable("shift_pred", aggregation="mean")
        self.shifted = variable("shifted", shape=(), aggregation="mean")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _columns(self, y_true, y_pred)  # (batch, k)
        weights = example_weights("PearsonCorrelation", sample_weight,
                                  y_true)
        # Until a batch with weight arrives, take the weighted mean of this
        # (global) batch as the shift. Every replica runs the all-reduce at
        # every step, so that none waits on a collective the others skip.
        totals = [tf.reduce_sum(weights),
                  tf.reduce_sum(weights * y_true, axis=0),
                  tf.reduce_sum(weights * y_pred, axis=0)]
        replicas, _ = _replica()
        if replicas > 1:
            totals = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, totals)
        weight, total_true, total_pred = totals
        first = tf.logical_and(self.shifted < 0.5, weight > 0)
        shift_true = tf.where(first, tf.math.divide_no_nan(total_true, weight),
                              self.shift_true)  # (k,)
        shift_pred = tf.where(first, tf.math.divide_no_nan(total_pred, weight),
                              self.shift_pred)
        self.shift_true.assign(shift_true)
        self.shift_pred.assign(shift_pred)
        self.shifted.assign(tf.where(first, 1.0, self.shifted))

        y = y_true - shift_true  # (batch, k)
        x = y_pred - shift_pred
        self.count.assign_add(tf.reduce_sum(weights))
        self.sum_true.assign_add(tf.reduce_sum(weights * y, axis=0))
        self.sum_pred.assign_add(tf.reduce_sum(weights * x, axis=0))
        self.sum_true_squared.assign_add(tf.reduce_sum(weights * y * y, 0))
        self.sum_pred_squared.assign_add(tf.reduce_sum(weights * x * x, 0))
        self.sum_product.assign_add(tf.reduce_sum(weights * x * y, axis=0))

    def result(self):
        sums = [tf.convert_to_tensor(v) for v in (
            self.count, self.sum_pred, self.sum_true, self.sum_pred_squared,
            self.sum_true_squared, self.sum_product)]
        return tf.reduce_mean(_correlation(*sums))

    def get_config(self):
        return {**super().get_config(), "num_outputs": self.num_outputs}


def _average_ranks(values):
    """Ranks 1..n along the last axis, ties given their mean rank.

    `values`: (k, n) float32; returns (k, n) float32 (exact up to 2**24).
    """
    ordered = tf.sort(values, axis=-1)
    # Equal values occupy positions [left, right) of the sorted row: their
    # ranks are left + 1 .. right, whose mean is (left + right + 1) / 2.
    left = tf.searchsorted(ordered, values, side="left")
    right = tf.searchsorted(ordered, values, side="right")
    return tf.cast(left + right + 1, "float32") / 2.0


@keras.saving.register_keras_serializable(package="kerasft")
class SpearmanCorrelation(keras.metrics.Metric):
    """Spearman rank correlation over all batches (scipy's `spearmanr`).

    Ranks need the whole set, so the metric stores every `(target,
    prediction)` pair seen since the last reset in a `(capacity,
    num_outputs)` buffer and ranks them when the result is read (ties get
    their average rank, as in scipy). With several outputs, the mean of the
    per-column correlations.

    More values than `capacity`: the result is NaN (the values are not all
    there, so no correlation is given rather than a wrong one); raise
    `capacity` to the size of the evaluation set. Under a `tf.distribute`
    strategy with R replicas, replica r writes slots r, r + R, r + 2R, ...,
    so each replica holds up to `capacity / R` values: an uneven split can
    overflow a little before `capacity` values in all. The buffer costs
    `8 * capacity * num_outputs` bytes (per replica), and copying it each
    update makes an update cost `O(capacity)`.

    `sample_weight` is not supported (ranks of weighted examples have no
    standard definition): a non-None one raises a `ValueError`.

    Args:
        capacity: int. Most `(target, prediction)` pairs kept. Defaults to
            `65536`.
        num_outputs: int. Number of model outputs (columns). Defaults to 1.
        name: string. Defaults to `"spearman"`.

    Example:
    >>> m = SpearmanCorrelation(capacity=8)
    >>> m.update_state([1.0, 2.0, 3.0], [0.1, 0.3, 0.2])
    >>> m.update_state([4.0], [0.3])
    >>> round(float(m.result()), 4)
    0.6325
    """

    def __init__(self, capacity=65536, num_outputs=1, name="spearman",
                 dtype=None):
        capacity = check_int("capacity", capacity, minimum=2)
        num_outputs = check_int("num_outputs", num_outputs)
        super().__init__(name=name, dtype=dtype)
        self.capacity = capacity
        self.num_outputs = num_outputs

        def variable(name, shape):
            return self.add_variable(shape=shape, initializer="zeros",
                                     dtype="float32", aggregation="sum",
                                     name=name)

        self.targets = variable("targets", (capacity, num_outputs))
        self.predictions = variable("predictions", (capacity, num_outputs))
        # 1 where a slot holds a pair; summed across replicas, still 0/1.
        self.filled = variable("filled", (capacity,))
        # Read in a replica, the count of that replica's own pairs.
        self.count = variable("count", ())
        self.overflow = variable("overflow", ())

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(
                "SpearmanCorrelation does not support `sample_weight` "
                "(ranks of weighted examples are not defined). Received: "
                f"sample_weight={sample_weight!r}. Drop the weights, or use "
                "PearsonCorrelation, which reads them as frequencies."
            )
        y_true, y_pred = _columns(self, y_true, y_pred)  # (batch, k)
        replicas, replica_id = _replica()
        batch_size = tf.shape(y_true)[0]
        local = tf.cast(self.count, "int32") + tf.range(batch_size)
        slots = local * replicas + tf.cast(replica_id, "int32")  # (batch,)
        fits = slots < self.capacity
        # Pairs that do not fit add zeros to slot 0 (exact, whatever is
        # there); scatter-add rather than boolean_mask keeps XLA working.
        indices = tf.where(fits, slots, 0)[:, None]  # (batch, 1)
        kept = fits[:, None]
        self.targets.assign(tf.tensor_scatter_nd_add(
            self.targets, indices, tf.where(kept, y_true, 0.0)))
        self.predictions.assign(tf.tensor_scatter_nd_add(
            self.predictions, indices, tf.where(kept, y_pred, 0.0)))
        self.filled.assign(tf.tensor_scatter_nd_add(
            self.filled, indices, tf.cast(fits, "float32")))
        self.count.assign_add(tf.cast(batch_size, "float32"))
        self.overflow.assign_add(
            tf.reduce_sum(tf.cast(tf.logical_not(fits), "float32")))

    def result(self):
        filled = tf.convert_to_tensor(self.filled) > 0.5  # (capacity,)
        # (k, n): one row per output column.
        targets = tf.transpose(tf.boolean_mask(self.targets, filled))
        predictions = tf.transpose(tf.boolean_mask(self.predictions, filled))
        ranks_true = _average_ranks(targets)
        ranks_pred = _average_ranks(predictions)
        # Ranks 1..n average (n + 1) / 2 exactly: centre before the sums.
        n = tf.cast(tf.shape(targets)[-1], "float32")
        centred_true = ranks_true - (n + 1.0) / 2.0  # (k, n)
        centred_pred = ranks_pred - (n + 1.0) / 2.0
        r = _correlation(
            n, 0.0, 0.0,
            tf.reduce_sum(centred_pred * centred_pred, axis=-1),
            tf.reduce_sum(centred_true * centred_true, axis=-1),
            tf.reduce_sum(centred_pred * centred_true, axis=-1),
        )
        overflowed = tf.convert_to_tensor(self.overflow) > 0
        return tf.where(overflowed, float("nan"), tf.reduce_mean(r))

    def get_config(self):
        return {
            **super().get_config(),
            "capacity": self.capacity,
            "num_outputs": self.num_outputs,
        }
