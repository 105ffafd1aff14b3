"""Gradient accumulation: one optimizer update per `steps` batches.

Keras 3 optimizers take `gradient_accumulation_steps`, but that option
does not do the job here: its update is a `cond` whose branch holds the
gradient all-reduce, which `MirroredStrategy` refuses ("merge_call ...
inside control flow", tested on this CPU with two replicas); its
learning-rate schedule is read at the micro-batch count (`_iterations`),
not the update count, so warmup and decay run k times too fast; and its
EMA is updated on every micro-batch. Here the sums live in kerasft's own
variables, the optimizer sees one `apply` per update (so its
`iterations`, schedule and EMA count updates), and every step stays free
of control flow (`masked_update`).

Each replica sums its own gradients (on-read variables, summed when
read across replicas), so micro-batches cost no all-reduce; the update
all-reduces the sums once. With the Trainer's loss, whose replica
gradients sum to the mean over the global batch, the update applies the
mean of the `steps` micro-batch gradients: the gradient of one batch
`steps` times larger, when micro-batches are equally large.
"""

import tensorflow as tf


class GradientAccumulator:
    """Per-variable gradient sums and the position in the current cycle.

    Created under the strategy's scope. The sums and the count are state to
    checkpoint: resuming in the middle of a cycle continues it.

    Args:
        steps: int >= 2. Micro-batches per optimizer update.

    Example:
    ```python
    accumulator = GradientAccumulator(4)
    accumulator.build(model.trainable_variables)
    update_now = accumulator.add(gradients, ok)  # in the train step
    ```
    """

    def __init__(self, steps):
        self.steps = steps
        # Sound micro-batches into the current cycle: 0 .. steps - 1.
        self.count = tf.Variable(
            0, dtype="int64", trainable=False, name="accumulated_batches",
            synchronization=tf.VariableSynchronization.ON_READ,
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self._sums = {}  # id(model variable) -> sum variable
        self.targets = []  # the model variables, aligned with the sums

    def build(self, variables):
        """Adds zero sums for variables that have none (new trainables).

        A variable unfrozen in the middle of a cycle starts from zero: its
        first update averages fewer micro-batches.
        """
        for variable in variables:
            if id(variable) in self._sums:
                continue
            self._sums[id(variable)] = tf.Variable(
                tf.zeros(variable.shape, "float32"), trainable=False,
                name="gradient_sum",
                synchronization=tf.VariableSynchronization.ON_READ,
                aggregation=tf.VariableAggregation.SUM)
            self.targets.append(variable)

    def position(self):
        """Sound batches into the current cycle, on the host (an int)."""
        return int(tf.convert_to_tensor(self.count))

    @property
    def variables(self):
        """`[count, sum_0, sum_1, ...]`, sums in `targets` order."""
        return [self.count, *self._sums.values()]

    def add(self, gradients, variables, ok):
        """Adds this micro-batch's gradients where `ok`; in the step.

        Args:
            gradients: list aligned with `variables` (None allowed).
            variables: the trainable variables.
            ok: scalar bool, the step is sound (agreed by all replicas).

        Returns:
            `(update_now, mean_gradients)`: a scalar bool, True on the
            cycle's last sound micro-batch, and the mean gradient over the
            cycle for each variable (None where `gradients` has None).
        """
        position = self.count + 1
        update_now = ok & tf.equal(position, self.steps)
        means = []
        for gradient, variable in zip(gradients, variables):
            if gradient is None:
                means.append(None)
                continue
            total = self._sums[id(variable)]
            if isinstance(gradient, tf.IndexedSlices):
                gradient = tf.convert_to_tensor(gradient)
            gradient = tf.cast(gradient, "float32")
            total.assign_add(tf.where(ok, gradient, 0.0))
            means.append(tf.convert_to_tensor(total) / self.steps)
        self.count.assign(tf.where(ok, position % self.steps, self.count))
        return update_now, means

    def reset(self, update_now):
        """Zeroes the sums where `update_now`; after the optimizer read them."""
        for total in self._sums.values():
            total.assign(tf.where(update_now, 0.0, tf.convert_to_tensor(total)))
