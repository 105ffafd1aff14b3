import keras
import numpy as np

from kerasft.checks import check_choice, check_int, check_real
from kerasft.models import text_encoder
from kerasft.models.text_classifier import check_names
from kerasft.models.text_model import PooledTextModel


@keras.saving.register_keras_serializable(package="kerasft")
class TextRegressor(PooledTextModel):
    """Any keras-hub encoder with a regression head: `num_outputs` values.

    For scores, ratings and similarities (a sentence pair in, as a
    cross-encoder, for STS-B). The head predicts standardized values and
    the model rescales them, `output = head * target_std + target_mean`,
    so a head initialised near zero starts at the targets' mean, its
    outputs are in the targets' units (no inverse transform at prediction,
    losses and metrics in those units), and the scaling is saved with the
    model. `TextRegressor.target_scaling(train_targets)` computes it.

    The `default_loss` (used by `kerasft.Trainer` when given no loss) is
    the mean squared error; pass `loss="huber"` for Huber. Metrics:
    `"pearson"`, `"spearman"` (over the whole evaluation set), `"mae"`,
    `"rmse"`.

    Args:
        backbone: a keras-hub encoder backbone of a supported family.
        num_outputs: int. Values predicted per text, at least 1. Defaults
            to `1`.
        pooling: `"cls"`, `"pooled"` or `"mean"`; see `TextClassifier`.
            Defaults to `"cls"`.
        dropout: float. Dropout rate before the head, in [0, 1). Defaults
            to `0.1`.
        target_mean: float, or a list of one per output. Defaults to `0.0`.
        target_std: float > 0, or a list of one per output. Defaults to
            `1.0` (no scaling).
        output_names: list of str or None. The name of each output, saved
            with the model. Defaults to None.
        **kwargs: passed to `keras.Model` (`name`, `trainable`).

    Example:
    ```python
    import numpy as np
    import keras_hub
    import kerasft

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=16,
    )
    scores = np.array([0.5, 4.0, 2.5, 3.2], "float32")
    model = kerasft.TextRegressor(
        backbone, **kerasft.TextRegressor.target_scaling(scores))
    inputs = {
        "token_ids": np.array([[2, 10, 11, 3, 0, 0]], "int32"),
        "segment_ids": np.zeros((1, 6), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0, 0]], "int32"),
    }
    values = model(inputs)  # (1, 1), near scores.mean() before training
    ```
    """

    default_loss = "mse"

    def __init__(
        self,
        backbone,
        num_outputs=1,
        pooling="cls",
        dropout=0.1,
        target_mean=0.0,
        target_std=1.0,
        output_names=None,
        **kwargs,
    ):
        head = self.check_head_arguments(
            num_outputs=num_outputs, target_mean=target_mean,
            target_std=target_std, output_names=output_names,
            pooling=pooling,
        )
        super().__init__(
            backbone, pooling=head["pooling"], dropout=dropout, **kwargs
        )
        self.num_outputs = head["num_outputs"]
        self.target_mean = head["target_mean"]
        self.target_std = head["target_std"]
        self.output_names = head["output_names"]
        self.head = self.build_head(self.num_outputs, name="outputs")

    @classmethod
    def check_head_arguments(cls, num_outputs=1, target_mean=0.0,
                             target_std=1.0, output_names=None,
                             pooling="cls"):
        num_outputs = check_int("num_outputs", num_outputs, minimum=1)
        return {
            "num_outputs": num_outputs,
            "target_mean": _per_output(
                "target_mean", target_mean, num_outputs, positive=False),
            "target_std": _per_output(
                "target_std", target_std, num_outputs, positive=True),
            "output_names": check_names(
                "output_names", output_names, num_outputs, "output",
                "num_outputs"),
            "pooling": check_choice("pooling", pooling, text_encoder.POOLINGS),
        }

    @staticmethod
    def target_scaling(targets):
        """`{"target_mean", "target_std"}` of training targets.

        Args:
            targets: numbers, `(num_examples,)` or `(num_examples,
                num_outputs)`.

        Returns:
            A dict to pass to the constructor or `from_preset`: per-output
            lists of the mean and standard deviation (a constant target
            gets a standard deviation of 1).
        """
        values = np.asarray(targets)
        if values.dtype.kind not in "biuf":
            raise TypeError(
                "`targets` must be numbers. Received: an array of dtype "
                f"{values.dtype} (first value {values.flat[0]!r})"
            )
        if values.ndim not in (1, 2) or not values.size:
            raise ValueError(
                "`targets` must be a non-empty (num_examples,) or "
                "(num_examples, num_outputs) array. Received: shape "
                f"{values.shape}"
            )
        values = values.reshape(len(values), -1).astype("float64")
        std = values.std(axis=0)
        std[std == 0] = 1.0
        return {
            "target_mean": [float(m) for m in values.mean(axis=0)],
            "target_std": [float(s) for s in std],
        }

    def apply_head(self, features, training=False):
        """Dropout, the head, then the target scaling: `(batch,
        num_outputs)` float32 values in the targets' units."""
        x = self.output_dropout(features, training=training)
        # float32 before rescaling: under mixed precision a float16 head
        # would round scores like 3.8 +- 1.5 to ~3 significant digits.
        x = keras.ops.cast(self.head(x), "float32")
        return x * np.asarray(self.target_std, "float32") + np.asarray(
            self.target_mean, "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape["token_ids"][0], self.num_outputs)

    def head_config(self):
        return {
            "num_outputs": self.num_outputs,
            "target_mean": list(self.target_mean),
            "target_std": list(self.target_std),
            "output_names": (
                None if self.output_names is None
                else list(self.output_names)
            ),
        }


def _per_output(name, value, num_outputs, positive):
    values = (
        list(value) if isinstance(value, (list, tuple))
        or hasattr(value, "shape") else [value] * num_outputs
    )
    if len(values) != num_outputs:
        raise ValueError(
            f"`{name}` must be one number or a list of one per output "
            f"(num_outputs={num_outputs}). Received: {name}={values!r}"
        )
    return tuple(
        float(check_real(name, v, low=0.0 if positive else None,
                         low_open=positive))
        for v in values
    )
