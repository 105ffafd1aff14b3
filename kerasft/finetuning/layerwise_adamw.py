import collections.abc

import keras

from kerasft import freezing
from kerasft.checks import check_real


# Not keras.optimizers.MultiOptimizer (Keras 3.15), measured side by side:
# one AdamW per factor matches this one only with weight_decay = wd / factor
# (Keras decays with each sub-optimizer's scaled rate), and its
# per-sub-optimizer step counts (a block unfrozen later restarts the
# warmup), missing `learning_rate` (the Trainer and TensorBoard log it),
# per-sub-optimizer `exclude_from_weight_decay` (lost when the Trainer
# extends the optimizer on unfreeze), refusal of a shrunken variable set
# (freezing after a fit), per-group `global_clipnorm` and position-only
# checkpoint slots break unfreezing, logging, decay exclusion and resume.
@keras.saving.register_keras_serializable(package="kerasft")
class LayerwiseAdamW(keras.optimizers.AdamW):
    """AdamW with a learning rate per variable: layer-wise rate decay.

    Discriminative fine-tuning (Howard & Ruder, 2018; ELECTRA's layer-wise
    decay): layers near the input hold general features and move less than
    those near the output. Each variable's step uses the learning rate (a
    float or a schedule, as for `AdamW`) times its factor in
    `layer_factors`, looked up by `variable.path`; variables not in it use
    `default_factor`. `layerwise_learning_rate_factors` computes the usual
    factors for an encoder classifier of any family.

    Only the Adam step is scaled. The decoupled weight decay stays Keras'
    `AdamW`'s: `variable -= learning_rate * weight_decay * variable`, with
    the unscaled rate.

    Args:
        learning_rate: float or `LearningRateSchedule`. The rate of factor
            1.0 (the head). Defaults to `0.001`.
        layer_factors: dict mapping `variable.path` to a factor > 0. At
            least one trained variable's path must be in it.
        default_factor: float. The factor of variables not in
            `layer_factors`, > 0. Defaults to `1.0`.
        weight_decay: float. Decoupled weight decay. Defaults to `0.004`,
            as in `AdamW`.
        **kwargs: other `keras.optimizers.AdamW` arguments (`beta_1`,
            `epsilon`, `clipnorm`, `name`, ...).

    Example:
    ```python
    factors = layerwise_learning_rate_factors(classifier, layer_decay=0.8)
    optimizer = LayerwiseAdamW(learning_rate=5e-5, layer_factors=factors)
    trainer = kerasft.Trainer(classifier, optimizer=optimizer)
    ```
    """

    def __init__(
        self,
        learning_rate=0.001,
        layer_factors=None,
        default_factor=1.0,
        weight_decay=0.004,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, **kwargs
        )
        if layer_factors is not None and not isinstance(
            layer_factors, collections.abc.Mapping
        ):
            raise TypeError(
                "`layer_factors` must be a dict mapping variable paths to "
                "factors > 0 (e.g. from layerwise_learning_rate_factors), or "
                f"None. Received: layer_factors of type "
                f"{type(layer_factors).__name__}"
            )
        factors = dict(layer_factors or {})
        for path, factor in factors.items():
            check_real(f"layer_factors[{path!r}]", factor, low=0,
                       low_open=True)
        check_real("default_factor", default_factor, low=0, low_open=True)
        # === Config ===
        self.layer_factors = {p: float(f) for p, f in factors.items()}
        self.default_factor = float(default_factor)
        self._factors = []  # one per built variable, in build order

    def build(self, variables):
        if self.built:
            return
        if self.layer_factors and not any(
            v.path in self.layer_factors for v in variables
        ):
            raise ValueError(
                "None of the variables' paths is in `layer_factors`: they "
                "were computed for another model. Received: variable paths "
                f"{[v.path for v in variables][:4]}..., layer_factors keys "
                f"{list(self.layer_factors)[:4]}..."
            )
        super().build(variables)
        self._factors = [
            self.layer_factors.get(v.path, self.default_factor)
            for v in variables
        ]

    def update_step(self, gradient, variable, learning_rate):
        # The TF backend passes the underlying tf.Variable, which has no
        # `path`: find the Keras variable's slot, as Adam does.
        factor = self._factors[self._get_variable_index(variable)]
        super().update_step(gradient, variable, learning_rate * factor)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer_factors": dict(self.layer_factors),
                "default_factor": self.default_factor,
            }
        )
        return config


def layerwise_learning_rate_factors(model, layer_decay=0.8):
    """Learning-rate factors per variable path for an encoder model.

    With `L` transformer layers: the head (and the pooler, and any layer
    outside the backbone) gets 1.0, transformer layer `i` (0 at the bottom)
    gets `layer_decay ** (L - i)`, the embeddings `layer_decay ** (L + 1)`.

    Args:
        model: a `keras.Model` holding an encoder backbone of any family
            (e.g. a `TextClassifier`).
        layer_decay: float in (0, 1]. The ratio between the rates of two
            neighbouring blocks. Defaults to `0.8`.

    Returns:
        A dict mapping every variable's `path` to its factor, for
        `LayerwiseAdamW(layer_factors=...)`.

    Example:
    ```python
    factors = layerwise_learning_rate_factors(classifier, 0.5)
    factors["transformer_layer_0/self_attention_layer/query/kernel"]
    # 0.25 with two layers: 0.5 ** (2 - 0)
    ```
    """
    check_real("layer_decay", layer_decay, low=0, high=1, low_open=True)
    blocks = freezing.encoder_blocks(model)
    layers = [b for b in blocks if b.kind == "transformer"]
    num_layers = len(layers)
    factors = {}
    for block in blocks:
        if block.kind == "embeddings":
            exponent = num_layers + 1
        elif block.kind == "transformer":
            exponent = num_layers - layers.index(block)
        else:
            exponent = 0  # pooler, head
        for layer in block.layers:
            for variable in layer.weights:
                factors.setdefault(variable.path, layer_decay**exponent)
    return factors

