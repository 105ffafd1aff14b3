import keras

from kerasft.checks import check_choice, check_int
from kerasft.models import text_encoder
from kerasft.models.text_model import PooledTextModel


@keras.saving.register_keras_serializable(package="kerasft")
class TextClassifier(PooledTextModel):
    """Any keras-hub encoder with a classification head; outputs logits.

    The backbone (BERT, RoBERTa, DistilBERT, ALBERT, DeBERTaV3, XLM-RoBERTa
    or ELECTRA, see `kerasft.presets.FAMILIES`) turns `{"token_ids",
    "padding_mask"}` (plus `"segment_ids"` for the families that take
    them), int32 `(batch, seq_len)`, into one vector per token; `pooling`
    reduces them to one per sequence, then `Dropout` and a `Dense` head
    (`"logits"`) give `(batch, num_classes)` logits. Use losses with
    `from_logits=True`.

    Inputs are token ids, not strings: tokenize on the host, in `tf.data`
    (`kerasft.data.make_text_dataset`), so the model runs on any device,
    TPUs included; `kerasft.predict_texts` classifies raw strings.

    A part of the backbone the pooling does not use (the pooler of BERT,
    ALBERT and ELECTRA under `"cls"` or `"mean"`) gets no gradient: it is
    left out of `trainable_weights` (so out of the optimizer and of the
    parameter reports' trainable counts) whatever its `trainable` flag
    says, and stays as loaded.

    Args:
        backbone: a keras-hub encoder backbone (pretrained with
            `from_preset`, or built from a config with random weights).
        num_classes: int. Number of classes (logits), at least 2. Defaults
            to `2`.
        pooling: str. How the token vectors become one per sequence:
            `"cls"`, the first token (`[CLS]` / `<s>`) of the sequence
            output, as in keras-hub's pretraining setup and most recipes;
            `"pooled"`, the backbone's pooled output (a tanh `Dense` on that
            token, as Hugging Face's `BertForSequenceClassification`; BERT,
            ALBERT and ELECTRA only); `"mean"`, the average over non-padding
            tokens. Defaults to `"cls"`.
        dropout: float. Dropout rate before the head, in [0, 1). Defaults to
            `0.1`.
        class_names: list of str or None. The label of each class id (e.g.
            from `kerasft.data.LabelMap`), saved with the model;
            `kerasft.predict_texts` returns these names. Defaults to None
            (class ids).
        **kwargs: passed to `keras.Model` (`name`, `trainable`).

    Example:
    ```python
    import numpy as np
    import keras_hub
    import kerasft

    backbone = keras_hub.models.RobertaBackbone(
        vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=16,
    )
    model = kerasft.TextClassifier(backbone, num_classes=3)
    inputs = {
        "token_ids": np.array([[0, 10, 11, 2, 1, 1]], "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0, 0]], "int32"),
    }
    logits = model(inputs)  # (1, 3)

    # Pretrained: a preset name, a keras-hub or Hugging Face folder, hf://.
    model = kerasft.TextClassifier.from_preset(
        "../shared/models/minilm-l6-h384-uncased", num_classes=2
    )
    ```
    """

    default_loss = "sparse_categorical_crossentropy"
    dropout_name = "classifier_dropout"

    def __init__(
        self,
        backbone,
        num_classes=2,
        pooling="cls",
        dropout=0.1,
        class_names=None,
        **kwargs,
    ):
        head = self.check_head_arguments(
            num_classes=num_classes, class_names=class_names, pooling=pooling
        )
        super().__init__(
            backbone, pooling=head["pooling"], dropout=dropout, **kwargs
        )
        self.num_classes = head["num_classes"]
        self.class_names = head["class_names"]
        self.head = self.build_head(self.num_classes, name="logits")

    @classmethod
    def check_head_arguments(cls, num_classes=2, class_names=None,
                             pooling="cls"):
        num_classes = check_int("num_classes", num_classes, minimum=2)
        return {
            "num_classes": num_classes,
            "class_names": check_names(
                "class_names", class_names, num_classes, "class",
                "num_classes"),
            "pooling": check_choice("pooling", pooling, text_encoder.POOLINGS),
        }

    def apply_head(self, features, training=False):
        """The head alone: dropout then logits, on pooled features.

        Args:
            features: `(batch, hidden_dim)` pooled features, as returned by
                `pooled_features`.
            training: bool. Applies dropout when True.
        """
        x = self.output_dropout(features, training=training)
        return self.head(x)  # (batch, num_classes)

    # The name the head has had since kerasft 0.1.
    classify = apply_head

    def compute_output_shape(self, input_shape):
        return (input_shape["token_ids"][0], self.num_classes)

    def head_config(self):
        return {
            "num_classes": self.num_classes,
            "class_names": (
                None if self.class_names is None else list(self.class_names)
            ),
        }

    @classmethod
    def from_preset(
        cls,
        preset,
        num_classes=2,
        pooling="cls",
        dropout=0.1,
        class_names=None,
        load_weights=True,
        **kwargs,
    ):
        """Builds a classifier on a pretrained backbone of any family.

        `preset` is anything keras-hub takes (a preset name, a keras-hub or
        Hugging Face folder, `hf://`, `kaggle://`); the arguments and the
        preset's family are checked before anything loads. See
        `TextModel.from_preset`.

        Args:
            preset: str or path-like.
            num_classes: int. Number of classes, at least 2. Defaults to `2`.
            pooling: str. `"cls"`, `"pooled"` or `"mean"`. Defaults to
                `"cls"`.
            dropout: float. Dropout rate before the head. Defaults to `0.1`.
            class_names: list of str or None. See the class docstring.
            load_weights: bool. Load the pretrained weights; `False` gives
                the preset's architecture with random weights. Defaults to
                `True`.
            **kwargs: passed to the constructor (`name`).

        Raises:
            kerasft.presets.UnsupportedPresetError: a preset of a family
                kerasft does not fine-tune (it names the family found).
            ValueError: for a bad argument or a folder that is no preset.
        """
        return super().from_preset(
            preset, load_weights=load_weights, num_classes=num_classes,
            pooling=pooling, dropout=dropout, class_names=class_names,
            **kwargs,
        )


def check_names(name, names, count, what, count_name):
    """Returns `names` as a tuple of `count` distinct str, or None.

    Args:
        name: the argument's name, for the error (`"class_names"`).
        names: list of str or None.
        count: int. How many there must be.
        what: what each names, for the error (`"class"`, `"label"`).
        count_name: the argument giving `count` (`"num_classes"`).
    """
    if names is None:
        return None
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise TypeError(
            f"`{name}` must be a list of str, one per {what}. Received: "
            f"{name}={names!r}"
        )
    values = list(names)
    if len(values) != count or not all(
        isinstance(n, str) for n in values
    ) or len(set(values)) != len(values):
        raise ValueError(
            f"`{name}` must be {count} distinct strings, one per {what} "
            f"({count_name}={count}). Received: {name}={names!r}"
        )
    return tuple(values)
