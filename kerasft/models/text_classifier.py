import keras

from kerasft import presets
from kerasft.checks import check_choice, check_dropout, check_int
from kerasft.models import text_encoder


@keras.saving.register_keras_serializable(package="kerasft")
class TextClassifier(keras.Model):
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

    def __init__(
        self,
        backbone,
        num_classes=2,
        pooling="cls",
        dropout=0.1,
        class_names=None,
        **kwargs,
    ):
        self._check_backbone(backbone)
        num_classes = check_int("num_classes", num_classes, minimum=2)
        pooling = text_encoder.check_pooling(pooling, backbone)
        dropout = check_dropout(dropout)
        class_names = _check_class_names(class_names, num_classes)
        super().__init__(**kwargs)

        # === Layers ===
        self.backbone = backbone
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="classifier_dropout"
        )
        self.head = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=0.02
            ),
            dtype=backbone.dtype_policy,
            name="logits",
        )
        # The backbone is built already (a Functional model): build the head
        # too, so the model has all its weights (for parameter reports and
        # freezing) before it is ever called.
        self.head.build((None, backbone.hidden_dim))
        self.built = True
        # Weights the forward pass never reads: no gradient would reach
        # them, and Keras would warn at every step that it has none.
        self._unused_ids = frozenset(
            id(weight)
            for layer in (
                text_encoder.pooler_layers(backbone)
                if pooling != "pooled" else []
            )
            for weight in layer.weights
        )

        # === Config ===
        self.num_classes = num_classes
        self.pooling = pooling
        self.dropout = dropout
        self.class_names = class_names

    def _check_backbone(self, backbone):
        presets.family_of(backbone)

    # --- What trains -------------------------------------------------------

    @property
    def trainable_weights(self):
        return [
            v for v in super().trainable_weights
            if id(v) not in self._unused_ids
        ]

    @property
    def trainable_variables(self):
        return [
            v for v in super().trainable_variables
            if id(v) not in self._unused_ids
        ]

    @property
    def non_trainable_weights(self):
        used = {id(v) for v in self.trainable_weights}
        return [v for v in self.weights if id(v) not in used]

    @property
    def non_trainable_variables(self):
        used = {id(v) for v in self.trainable_variables}
        return [v for v in self.variables if id(v) not in used]

    @property
    def unused_weights(self):
        """The backbone weights the pooling does not use (never trained)."""
        return [v for v in self.weights if id(v) in self._unused_ids]

    # --- Forward -----------------------------------------------------------

    def call(self, inputs, training=False):
        x = self.pooled_features(inputs, training=training)
        return self.classify(x, training=training)

    def classify(self, features, training=False):
        """The head alone: dropout then logits, on pooled features.

        Args:
            features: `(batch, hidden_dim)` pooled features, as returned by
                `pooled_features`.
            training: bool. Applies dropout when True.
        """
        x = self.output_dropout(features, training=training)
        return self.head(x)  # (batch, num_classes)

    def pooled_features(self, inputs, training=False):
        """The backbone and the pooling: `(batch, hidden_dim)` features.

        With the backbone frozen, these are all the head ever sees, so they
        can be computed once and cached (`kerasft.finetuning`).

        Args:
            inputs: dict of `token_ids`, `padding_mask` and optional
                `segment_ids`, each `(batch, seq_len)`.
            training: bool. Runs the backbone's dropout when True.
        """
        text_encoder.check_text_inputs(
            inputs, self.backbone, self.__class__.__name__
        )
        # A wholly frozen backbone runs in inference mode (dropout off), as
        # keras-io's transfer-learning guide calls a frozen base with
        # training=False: frozen weights should not see training noise, and
        # its features can then be cached (kerasft.finetuning).
        frozen = not any(
            id(v) not in self._unused_ids
            for v in self.backbone.trainable_weights
        )
        sequence, pooled = text_encoder.encode(
            self.backbone, inputs, training=training and not frozen
        )
        return text_encoder.pool(
            sequence, pooled, inputs["padding_mask"], self.pooling,
            text_encoder.cls_token_index(self.backbone),
        )

    def compute_output_shape(self, input_shape):
        return (input_shape["token_ids"][0], self.num_classes)

    # --- Saving ------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.layers.serialize(self.backbone),
                "num_classes": self.num_classes,
                "pooling": self.pooling,
                "dropout": self.dropout,
                "class_names": (
                    None if self.class_names is None
                    else list(self.class_names)
                ),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("backbone"), dict):
            config["backbone"] = keras.layers.deserialize(config["backbone"])
        return cls(**config)

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

        Loads through keras-hub's own preset machinery, with the backbone
        class the preset names (`kerasft.presets.load_backbone`), so
        `preset` can be anything keras-hub takes: a built-in preset name
        (`"bert_tiny_en_uncased"`, `"roberta_base_en"`, ...), a local
        keras-hub preset folder (from `save_to_preset`), a local Hugging
        Face folder (`config.json` with a `model_type` keras-hub converts:
        bert, roberta, xlm-roberta, distilbert, albert), or an
        `"hf://org/name"`, `"kaggle://..."` handle. The head is new
        (random).

        The arguments and, for local folders and preset names, the preset's
        family are checked before anything is loaded.

        Args:
            preset: str or path-like. See above.
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
        check_int("num_classes", num_classes, minimum=2)
        check_choice("pooling", pooling, text_encoder.POOLINGS)
        check_dropout(dropout)
        _check_class_names(class_names, num_classes)
        cls._check_preset(preset)
        backbone = presets.load_backbone(preset, load_weights=load_weights)
        return cls(
            backbone,
            num_classes=num_classes,
            pooling=pooling,
            dropout=dropout,
            class_names=class_names,
            **kwargs,
        )

    @classmethod
    def _check_preset(cls, preset):
        presets.preset_family(preset)

    def save_backbone_preset(self, directory, preprocessor):
        """Saves the backbone and its tokenizer as a keras-hub preset.

        `TextClassifier.from_preset(directory)` (and keras-hub's own
        `from_preset`) loads it back, for example to fine-tune a backbone
        after continued pretraining. See `kerasft.presets.save_preset`.

        Args:
            directory: str or path-like. The preset folder to write.
            preprocessor: the preprocessor (or tokenizer) whose vocabulary
                the backbone was trained with.
        """
        return presets.save_preset(directory, self.backbone, preprocessor)

    def predict_texts(self, texts, preprocessor, batch_size=64):
        """Classifies raw strings; see `kerasft.predict_texts`."""
        # Prediction builds a tf.data pipeline: it lives above the models
        # (kerasft.inference), which never import the data package.
        from kerasft.inference import predict_texts

        return predict_texts(self, texts, preprocessor, batch_size)


def _check_class_names(class_names, num_classes):
    if class_names is None:
        return None
    if isinstance(class_names, str) or not hasattr(class_names, "__len__"):
        raise TypeError(
            "`class_names` must be a list of str, one per class. Received: "
            f"class_names={class_names!r}"
        )
    names = list(class_names)
    if len(names) != num_classes or not all(
        isinstance(n, str) for n in names
    ) or len(set(names)) != len(names):
        raise ValueError(
            f"`class_names` must be {num_classes} distinct strings, one per "
            f"class (num_classes={num_classes}). Received: "
            f"class_names={class_names!r}"
        )
    return tuple(names)
