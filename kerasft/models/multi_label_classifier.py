import keras

from kerasft.checks import check_choice, check_int, check_real
from kerasft.models import text_encoder
from kerasft.models.text_classifier import check_names
from kerasft.models.text_model import PooledTextModel


@keras.saving.register_keras_serializable(package="kerasft")
class MultiLabelClassifier(PooledTextModel):
    """Any keras-hub encoder with a multi-label head: one logit per label.

    Each text may carry any number of the `num_labels` labels (tags,
    emotions, topics): the head gives `(batch, num_labels)` independent
    logits, trained with binary cross-entropy on logits (the model's
    `default_loss`, which `kerasft.Trainer` uses when given no loss); a
    label is predicted when its sigmoid probability is above `threshold`
    (strictly, as in `kerasft.training.MultiLabelF1`).
    Labels are multi-hot float `(batch, num_labels)` arrays
    (`kerasft.data.load_text_file(..., task="multi_label")` makes them).

    Args:
        backbone: a keras-hub encoder backbone of a supported family.
        num_labels: int. Number of labels, at least 1.
        pooling: `"cls"`, `"pooled"` or `"mean"`; see `TextClassifier`.
            Defaults to `"cls"`.
        dropout: float. Dropout rate before the head, in [0, 1). Defaults
            to `0.1`.
        label_names: list of str or None. The name of each label, saved with
            the model; `kerasft.predict_texts` returns them. Defaults to
            None (label ids).
        threshold: float in (0, 1), or a list of one per label (as
            `kerasft.training.tune_thresholds` finds on validation data):
            the probability at or above which a label is predicted. Saved
            with the model; assign `model.threshold = ...` after tuning.
            Defaults to `0.5`.
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
    model = kerasft.MultiLabelClassifier(
        backbone, num_labels=3, label_names=["joy", "anger", "surprise"])
    inputs = {
        "token_ids": np.array([[2, 10, 11, 3, 0, 0]], "int32"),
        "segment_ids": np.zeros((1, 6), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0, 0]], "int32"),
    }
    logits = model(inputs)  # (1, 3)
    ```
    """

    default_loss = "binary_crossentropy"

    def __init__(
        self,
        backbone,
        num_labels,
        pooling="cls",
        dropout=0.1,
        label_names=None,
        threshold=0.5,
        **kwargs,
    ):
        head = self.check_head_arguments(
            num_labels=num_labels, label_names=label_names,
            threshold=threshold, pooling=pooling,
        )
        super().__init__(
            backbone, pooling=head["pooling"], dropout=dropout, **kwargs
        )
        self.num_labels = head["num_labels"]
        self.label_names = head["label_names"]
        self._threshold = head["threshold"]
        self.head = self.build_head(self.num_labels, name="logits")

    @classmethod
    def check_head_arguments(cls, num_labels=None, label_names=None,
                             threshold=0.5, pooling="cls"):
        num_labels = check_int("num_labels", num_labels, minimum=1)
        return {
            "num_labels": num_labels,
            "label_names": check_names(
                "label_names", label_names, num_labels, "label",
                "num_labels"),
            "threshold": check_threshold(threshold, num_labels),
            "pooling": check_choice("pooling", pooling, text_encoder.POOLINGS),
        }

    @property
    def threshold(self):
        """The decision threshold: a float, or a tuple of one per label."""
        return self._threshold

    @threshold.setter
    def threshold(self, value):
        self._threshold = check_threshold(value, self.num_labels)

    def thresholds(self):
        """The threshold of each label, a list of `num_labels` floats."""
        if isinstance(self._threshold, float):
            return [self._threshold] * self.num_labels
        return list(self._threshold)

    def apply_head(self, features, training=False):
        """Dropout then one logit per label: `(batch, num_labels)`."""
        x = self.output_dropout(features, training=training)
        return self.head(x)

    def compute_output_shape(self, input_shape):
        return (input_shape["token_ids"][0], self.num_labels)

    def head_config(self):
        return {
            "num_labels": self.num_labels,
            "label_names": (
                None if self.label_names is None else list(self.label_names)
            ),
            "threshold": (
                self._threshold if isinstance(self._threshold, float)
                else list(self._threshold)
            ),
        }


def check_threshold(threshold, num_labels):
    """Returns a float in (0, 1), or a tuple of `num_labels` of them."""
    if isinstance(threshold, (list, tuple)) or hasattr(threshold, "shape"):
        values = list(threshold)
        if len(values) != num_labels:
            raise ValueError(
                "`threshold` must be one float or a list of one per label "
                f"(num_labels={num_labels}). Received: {len(values)} "
                f"values, threshold={values!r}"
            )
        return tuple(
            float(check_real("threshold", value, 0.0, 1.0, low_open=True,
                             high_open=True))
            for value in values
        )
    return float(check_real("threshold", threshold, 0.0, 1.0, low_open=True,
                            high_open=True))
