"""The base of every text head: a keras-hub encoder plus a head.

`TextClassifier`, `MultiLabelClassifier`, `TextRegressor` and
`TokenClassifier` differ only in their head and loss. What they share lives
here: the backbone of any supported family (`kerasft.presets.FAMILIES`),
inputs checked before the backbone sees them, the pooling, the backbone
weights the head never reads (left out of training), serialization, and
`from_preset`.
"""

import inspect

import keras
import numpy as np

from kerasft import presets
from kerasft.checks import check_bool, check_dropout
from kerasft.models import text_encoder


class TextModel(keras.Model):
    """A keras-hub encoder backbone with a head; subclasses add the head.

    Not registered for saving itself: each concrete head is.

    A subclass sets `uses_pooler` (whether its forward pass reads the
    backbone's pooled output), builds its head layers in `__init__` after
    calling `super().__init__`, and implements `apply_head(features,
    training)`; `check_head_arguments` checks its own arguments (the
    constructor and `from_preset` both call it, the latter before anything
    is loaded) and `head_config` returns them for `get_config`.

    Args:
        backbone: a keras-hub encoder backbone of a supported family.
        dropout: float in [0, 1). Dropout before the head.
        **kwargs: passed to `keras.Model` (`name`, `trainable`).
    """

    #: The loss the Trainer uses when none is given (see `Trainer`).
    default_loss = None
    #: The name of the dropout layer before the head.
    dropout_name = "head_dropout"

    def __init__(self, backbone, dropout=0.1, uses_pooler=False, **kwargs):
        self._check_backbone(backbone)
        dropout = check_dropout(dropout)
        super().__init__(**kwargs)
        self.backbone = backbone
        self.dropout = dropout
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name=self.dropout_name
        )
        # Weights the forward pass never reads (BERT's pooler under "cls"
        # pooling): no gradient would reach them, and Keras would warn at
        # every step that it has none.
        self._unused_ids = frozenset(
            id(weight)
            for layer in (
                [] if uses_pooler else text_encoder.pooler_layers(backbone)
            )
            for weight in layer.weights
        )

    def _check_backbone(self, backbone):
        """Raises unless `backbone` is of a supported family (a subclass may
        take fewer)."""
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
        """The backbone weights the head does not use (never trained)."""
        return [v for v in self.weights if id(v) in self._unused_ids]

    @property
    def backbone_frozen(self):
        """True when no backbone weight the head reads is trainable."""
        return not any(
            id(v) not in self._unused_ids
            for v in self.backbone.trainable_weights
        )

    # --- Forward -----------------------------------------------------------

    def encode(self, inputs, training=False):
        """The backbone on checked inputs: `(sequence, pooled)` outputs.

        `sequence` is `(batch, seq_len, hidden_dim)`; `pooled` is `(batch,
        hidden_dim)` or None for families without a pooler.
        """
        text_encoder.check_text_inputs(
            inputs, self.backbone, self.__class__.__name__
        )
        # A wholly frozen backbone runs in inference mode (dropout off), as
        # keras-io's transfer-learning guide calls a frozen base with
        # training=False: frozen weights should not see training noise, and
        # its features can then be cached (kerasft.finetuning).
        return text_encoder.encode(
            self.backbone, inputs,
            training=training and not self.backbone_frozen,
        )

    def __call__(self, *args, **kwargs):
        self._check_not_text(args[0] if args else kwargs.get("inputs"),
                             "inputs")
        return super().__call__(*args, **kwargs)

    def predict(self, x, *args, **kwargs):
        self._check_not_text(x, "x")
        return super().predict(x, *args, **kwargs)

    def _check_not_text(self, inputs, name):
        """Raises for raw strings, which only a preprocessor can turn into
        the token ids the model takes (Keras would fail deep inside)."""
        if _is_raw_text(inputs):
            raise TypeError(
                f"{self.__class__.__name__} takes token ids, not strings: "
                "tokenize them first (kerasft.data.make_text_dataset), or "
                "call `model.predict_texts(texts, preprocessor)`. Received: "
                f"{name}={_shown(inputs)}"
            )

    def call(self, inputs, training=False):
        return self.apply_head(
            self.head_features(inputs, training=training), training=training
        )

    def head_features(self, inputs, training=False):
        """What the head sees; with the backbone frozen, a fixed function
        of the inputs (so it can be cached, `kerasft.finetuning`)."""
        raise NotImplementedError

    def apply_head(self, features, training=False):
        """The head alone, on `head_features`: dropout then the output."""
        raise NotImplementedError

    def build_head(self, units, name):
        """A `Dense(units)` on the last axis of `(..., hidden_dim)`, built
        now."""
        head = keras.layers.Dense(
            units,
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=0.02
            ),
            dtype=self.backbone.dtype_policy,
            name=name,
        )
        # The backbone is built already (a Functional model): build the head
        # too, so the model has all its weights (for parameter reports and
        # freezing) before it is ever called.
        head.build((None, self.backbone.hidden_dim))
        self.built = True
        return head

    # --- Saving ------------------------------------------------------------

    @classmethod
    def check_head_arguments(cls, **head_arguments):
        """Raises for a bad head argument; returns them normalised."""
        return head_arguments

    def head_config(self):
        """The head's constructor arguments, for `get_config`."""
        return {}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "backbone": keras.layers.serialize(self.backbone),
                "dropout": self.dropout,
                **self.head_config(),
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
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Builds the model on a pretrained backbone of any family.

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
            load_weights: bool. Load the pretrained weights; `False` gives
                the preset's architecture with random weights. Defaults to
                `True`.
            **kwargs: the head's arguments (see the class), `dropout`,
                `name`.

        Raises:
            kerasft.presets.UnsupportedPresetError: a preset of a family
                kerasft does not fine-tune (it names the family found).
            ValueError: for a bad argument or a folder that is no preset.
        """
        check_bool("load_weights", load_weights)
        base = {k: kwargs.pop(k) for k in ("name", "trainable")
                if k in kwargs}
        dropout = check_dropout(kwargs.pop("dropout", 0.1))
        cls._check_argument_names(kwargs)
        head = cls.check_head_arguments(**kwargs)
        cls._check_preset(preset)
        backbone = presets.load_backbone(preset, load_weights=load_weights)
        return cls(backbone, dropout=dropout, **head, **base)

    @classmethod
    def _check_argument_names(cls, head_arguments):
        """Raises naming an unknown `from_preset` argument (a typo such as
        `num_class`) and the ones accepted."""
        accepted = [
            name for name in inspect.signature(
                cls.check_head_arguments).parameters
            if name not in ("self", "cls")
        ]
        unknown = sorted(set(head_arguments) - set(accepted))
        if unknown:
            allowed = ", ".join(
                ["load_weights", *accepted, "dropout", "name", "trainable"])
            raise TypeError(
                f"{cls.__name__}.from_preset() got unknown arguments "
                f"{unknown}; it takes {allowed}. Received: "
                + ", ".join(f"{k}={head_arguments[k]!r}" for k in unknown)
            )

    @classmethod
    def _check_preset(cls, preset):
        presets.preset_family(preset)

    def save_backbone_preset(self, directory, preprocessor):
        """Saves the backbone and its tokenizer as a keras-hub preset.

        `from_preset(directory)` (and keras-hub's own `from_preset`) loads
        it back, for example to fine-tune a backbone after continued
        pretraining. See `kerasft.presets.save_preset`.

        Args:
            directory: str or path-like. The preset folder to write.
            preprocessor: the preprocessor (or tokenizer) whose vocabulary
                the backbone was trained with.
        """
        return presets.save_preset(directory, self.backbone, preprocessor)

    def predict_texts(self, texts, preprocessor, batch_size=64):
        """Predictions on raw strings; see `kerasft.predict_texts`."""
        # Prediction builds a tf.data pipeline: it lives above the models
        # (kerasft.inference), which never import the data package.
        from kerasft.inference import predict_texts

        return predict_texts(self, texts, preprocessor, batch_size)


def _is_raw_text(inputs, depth=0):
    """True for a str, a list or tuple of str, a NumPy array of str, or a
    `(first, second)` pair of those (sentence pairs)."""
    if isinstance(inputs, (str, bytes)):
        return True
    if isinstance(inputs, np.ndarray):
        return inputs.dtype.kind in "USO" and inputs.size > 0 and isinstance(
            inputs.flat[0], (str, bytes))
    if not isinstance(inputs, (list, tuple)) or not inputs:
        return False
    if all(isinstance(item, (str, bytes)) for item in inputs):
        return True
    return depth == 0 and len(inputs) == 2 and all(
        _is_raw_text(item, depth=1) for item in inputs
    )


def _shown(inputs):
    text = repr(inputs)
    return text if len(text) <= 80 else text[:77] + "..."


class PooledTextModel(TextModel):
    """A text model whose head reads one vector per sequence.

    Args:
        backbone: a keras-hub encoder backbone.
        pooling: `"cls"`, `"pooled"` or `"mean"`; see `TextClassifier`.
        dropout: float. Dropout before the head.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, backbone, pooling="cls", dropout=0.1, **kwargs):
        pooling = text_encoder.check_pooling(pooling, backbone)
        super().__init__(
            backbone, dropout=dropout, uses_pooler=pooling == "pooled",
            **kwargs,
        )
        self.pooling = pooling

    def head_features(self, inputs, training=False):
        """The backbone and the pooling: `(batch, hidden_dim)` features.

        Args:
            inputs: dict of `token_ids`, `padding_mask` and optional
                `segment_ids`, each `(batch, seq_len)`.
            training: bool. Runs the backbone's dropout when True.
        """
        sequence, pooled = self.encode(inputs, training=training)
        return text_encoder.pool(
            sequence, pooled, inputs["padding_mask"], self.pooling,
            text_encoder.cls_token_index(self.backbone),
        )

    # The name the classifier has had since kerasft 0.1.
    pooled_features = head_features

    def get_config(self):
        config = super().get_config()
        config["pooling"] = self.pooling
        return config
