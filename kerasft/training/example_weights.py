"""One weight per example, for the metrics that count whole examples."""

import tensorflow as tf


def example_weights(metric_name, sample_weight, like):
    """`(batch, 1)` float32 weights: ones, or `sample_weight` reshaped.

    Args:
        metric_name: str. The metric, for the error.
        sample_weight: None, or `(batch,)` / `(batch, 1)` weights.
        like: a `(batch, ...)` tensor giving the batch size for ones.

    Raises:
        ValueError: for weights of another shape (per label, per output).
    """
    if sample_weight is None:
        return tf.ones_like(tf.cast(like[:, :1], "float32"))
    sample_weight = tf.cast(tf.convert_to_tensor(sample_weight), "float32")
    shape = sample_weight.shape
    if shape.rank is not None and (
            shape.rank > 2 or (shape.rank == 2 and shape[-1] != 1)):
        raise ValueError(
            f"{metric_name} takes one weight per example, of shape "
            f"(batch,). Received: sample_weight of shape {tuple(shape)}"
        )
    return tf.reshape(sample_weight, [-1, 1])  # (batch, 1)
