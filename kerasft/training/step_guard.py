"""The guard of the train step: apply an update only when it is sound.

A step is sound when its labels are valid (see `inputs.LabelCheck`), its
loss is finite and every gradient is finite. An unsound step leaves the
weights and the optimizer state (step count, moments) as they were, and
the Trainer reports why: the batch's own loss, the first non-finite
gradient's variable, or the bad label. All replicas agree on the decision,
or some would skip the gradient all-reduce inside `apply` and hang the
others.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasft.training import masked_update


class NonFiniteLossError(FloatingPointError):
    """Raised when the loss or a gradient becomes NaN or infinite in `fit`.

    The step that produced it is not applied, so the model keeps the weights
    of the last good step.
    """


def apply_if_sound(optimizer, gradients, variables, loss, labels_ok,
                   accumulator=None):
    """Applies `gradients` unless the step is unsound; returns its status.

    The update is masked (`masked_update`): it runs on every step and
    writes nothing on an unsound one, so the step has no control flow and
    keeps no copy of the weights. With an `accumulator`, the gradients are
    summed and the optimizer updates on the last micro-batch of a cycle.

    Args:
        optimizer: the Keras optimizer (a `LossScaleOptimizer` under
            mixed_float16).
        gradients: list of gradients (None for unconnected variables),
            aligned with `variables`; scaled under loss scaling.
        variables: the trainable variables.
        loss: scalar float32, the replica's loss.
        labels_ok: scalar bool, this replica's labels are valid.
        accumulator: a `GradientAccumulator`, or None (update every step).

    Returns:
        `(applied, gradient_index)`: a scalar bool agreed by all replicas
        (the step was sound: applied, or added to the accumulated sums),
        and the index into `variables` of this replica's first non-finite
        gradient, -1 if none (always -1 under loss scaling, where
        overflowing scaled gradients are expected).
    """
    context = tf.distribute.get_replica_context()
    multi_replica = tf.distribute.get_strategy().num_replicas_in_sync > 1
    # One squared norm per gradient, (num_gradients,): the first
    # non-finite one names the variable.
    present = [i for i, g in enumerate(gradients) if g is not None]
    squares = tf.stack([
        tf.cast(tf.nn.l2_loss(_values(gradients[i])), "float32")
        for i in present
    ])
    finite_each = tf.math.is_finite(squares)
    gradients_finite = tf.reduce_all(finite_each)
    loss_finite = tf.math.is_finite(loss)
    gradient_index = tf.constant(-1, "int32")
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        # float16 loss scaling: scaled gradients that overflow are normal;
        # the LossScaleOptimizer skips that update and halves its scale
        # (with accumulation: the whole cycle, as PyTorch's GradScaler).
        # Only a non-finite (unscaled) loss is an error.
        ok = loss_finite & labels_ok
        if multi_replica:
            # Keras' LossScaleOptimizer decides on replica 0's local
            # gradients; an overflow on another replica would reach the
            # weights through the all-reduce. Make every replica see it.
            overflow = context.all_reduce(
                tf.distribute.ReduceOp.SUM,
                tf.cast(tf.logical_not(gradients_finite), "int32"))
            poison = tf.where(tf.equal(overflow, 0), 1.0, float("nan"))
            gradients = [None if g is None else g * tf.cast(poison, g.dtype)
                         for g in gradients]
    else:
        ok = loss_finite & gradients_finite & labels_ok
        # The smallest position whose gradient is not finite, by a min
        # over (num_gradients,): tf.argmin here made XLA's CPU step 200x
        # slower (4 s instead of 20 ms for a 784-256-10 MLP).
        none = len(gradients)
        first = tf.reduce_min(tf.where(
            finite_each, none, tf.constant(present, "int32")))
        gradient_index = tf.where(first == none, -1, first)
    bad = context.all_reduce(tf.distribute.ReduceOp.SUM,
                             tf.cast(tf.logical_not(ok), "int32"))
    applied = tf.equal(bad, 0)
    update_now = applied
    if accumulator is not None:
        update_now, gradients = accumulator.add(gradients, variables,
                                                applied)
    if masked_update.is_maskable(optimizer):
        with masked_update.masked_updates(optimizer, update_now):
            optimizer.apply(gradients, variables)
    else:
        _apply_and_select(optimizer, gradients, variables, update_now)
    if accumulator is not None:
        accumulator.reset(update_now)
    return applied, gradient_index


def _apply_and_select(optimizer, gradients, variables, update_now):
    """For optimizers that write variables directly: apply, then select
    the old values back (a copy of every weight and slot at the peak)."""
    guarded = list(variables) + list(optimizer.variables)
    before = [tf.convert_to_tensor(v) for v in guarded]
    optimizer.apply(gradients, variables)
    for variable, old in zip(guarded, before):
        variable.assign(tf.where(update_now, variable, old))


def _values(gradient):
    # Embedding gradients can arrive as IndexedSlices: norm their values.
    if isinstance(gradient, tf.IndexedSlices):
        return gradient.values
    return gradient


def non_finite_error(status, variables, where, global_step):
    """The `NonFiniteLossError` for an unsound step's host `status`.

    It quotes the bad batch's own loss (not the epoch's running mean), and
    names the variable whose gradient broke when the loss was finite.

    Args:
        status: a `step_loop.StepStatus`.
        variables: the trainable variables `gradient_index` points into.
        where: str, e.g. "at step 3 (epoch 1, batch 3)".
        global_step: int. Steps applied, the weights the model keeps.
    """
    if not np.isfinite(status.loss):
        cause = f"The loss became {status.loss} {where}"
        if not status.labels_finite:
            cause += ": that batch's labels hold NaN or inf values"
    elif status.gradient_index >= 0:
        variable = variables[status.gradient_index]
        cause = (f"The gradient of {variable.path!r} became NaN or inf "
                 f"{where}, with a finite loss of {status.loss:.6g}")
    else:  # another worker's replica met it
        cause = ("A replica on another worker met a non-finite loss or "
                 f"gradient, or an invalid label, {where}")
    return NonFiniteLossError(
        f"{cause}. Training stopped; the model keeps the weights after step "
        f"{global_step}. Lower the learning rate, check the inputs for "
        "NaN/inf, or clip gradients (e.g. optimizer clipnorm=1.0)."
    )
