"""Fine-tuning strategies for an encoder classifier (any family), by name.

| strategy       | trains                                   | optimizer      |
|----------------|------------------------------------------|----------------|
| `head_only`    | the head (backbone frozen)               | AdamW          |
| `top_k`        | head, pooler, top `top_k` layers         | AdamW          |
| `full`         | everything                               | AdamW          |
| `gradual`      | head, then one more layer per stage      | AdamW          |
| `layerwise_lr` | everything, rates decaying to the input  | LayerwiseAdamW |
| `lora`         | head and LoRA factors of query/value     | AdamW          |

Every optimizer follows `LinearWarmupDecay` when `total_steps` is given, a
constant rate otherwise.
"""

import dataclasses
import math

import keras

from kerasft import freezing
from kerasft.checks import check_choice, check_int, check_real
from kerasft.finetuning import lora
from kerasft.finetuning.gradual_unfreezing import GradualUnfreezing, apply_stage
from kerasft.finetuning.layerwise_adamw import (
    LayerwiseAdamW,
    layerwise_learning_rate_factors,
)
from kerasft.finetuning.linear_warmup_decay import LinearWarmupDecay

STRATEGIES = ("head_only", "top_k", "full", "gradual", "layerwise_lr", "lora")


@dataclasses.dataclass(frozen=True)
class FinetuningPlan:
    """What `prepare_finetuning` set up: pass it on to the Trainer.

    Attributes:
        strategy: str. One of `STRATEGIES`.
        optimizer: a `keras.optimizers.AdamW` (a `LayerwiseAdamW` for
            `"layerwise_lr"`): `Trainer(model, optimizer=plan.optimizer)`.
        callbacks: list of `keras.callbacks.Callback` for `fit` (a
            `GradualUnfreezing` for `"gradual"`, else empty).
        learning_rate: float or `LinearWarmupDecay`: the optimizer's rate.
        trainable_params: int. Scalars that train now (for `"gradual"`, in
            the first epoch).
        total_params: int. All scalars of the model, LoRA factors included.
    """

    strategy: str
    optimizer: keras.optimizers.Optimizer
    callbacks: list
    learning_rate: object
    trainable_params: int
    total_params: int


def apply_strategy(classifier, strategy, top_k=2, lora_rank=4):
    """Sets what trains in `classifier` for a strategy (see the module table).

    Every layer is made trainable first, so strategies can be applied one
    after another to the same model, except after `"lora"`, which adds
    variables for good.

    Args:
        classifier: a `TextClassifier` (any model holding a keras-hub
            encoder backbone as `backbone`).
        strategy: str. One of `STRATEGIES`.
        top_k: int. Transformer layers that train with `"top_k"`, from 1 to
            the number of layers. Defaults to `2`.
        lora_rank: int. Rank of the LoRA factors with `"lora"`. Defaults to
            `4`.

    Raises:
        ValueError: for an unknown strategy, a `top_k` above the number of
            layers, or a model with LoRA enabled already. The model is left
            unchanged.
    """
    check_choice("strategy", strategy, STRATEGIES)
    num_layers = len(freezing.transformer_blocks(classifier))
    if strategy == "top_k":
        check_int("top_k", top_k, 1)
        if top_k > num_layers:
            raise ValueError(
                f"`top_k` is above the number of transformer layers: the "
                f"backbone has {num_layers}. Received: top_k={top_k}"
            )
    if strategy == "lora":
        lora.check_lora_rank(lora_rank, lora._backbone(classifier),
                             name="lora_rank")
    if lora.lora_layers(classifier):
        raise ValueError(
            "The model has LoRA enabled already, and keras-hub cannot undo "
            "it: apply strategies to a model without LoRA. Received: "
            f"strategy={strategy!r} on a model with LoRA layers"
        )
    freezing.unfreeze(classifier)  # start from all-trainable
    if strategy in ("head_only", "gradual"):
        apply_stage(classifier, 0)  # the backbone frozen: the head trains
    elif strategy == "top_k":
        freezing.freeze_embeddings(classifier)
        freezing.freeze_transformer_layers(classifier, keep_top=top_k)
    elif strategy == "lora":
        lora.enable_lora(classifier, lora_rank)
    # "full" and "layerwise_lr": everything trains.


def prepare_finetuning(
    classifier,
    strategy,
    top_k=2,
    lora_rank=4,
    layer_decay=0.8,
    gradual_every=1,
    learning_rate=5e-5,
    warmup_fraction=0.1,
    total_steps=None,
    weight_decay=0.01,
    ema_momentum=None,
):
    """Applies a fine-tuning strategy; returns the optimizer and callbacks.

    Args:
        classifier: a `TextClassifier`; its freeze state (or LoRA) is set
            in place (see `apply_strategy`).
        strategy: str. One of `STRATEGIES`.
        top_k: int. Layers that train with `"top_k"`. Defaults to `2`.
        lora_rank: int. LoRA rank with `"lora"`. Defaults to `4`.
        layer_decay: float in (0, 1]. Rate ratio between neighbouring
            blocks with `"layerwise_lr"`. Defaults to `0.8`.
        gradual_every: int. Epochs per unfreezing stage with `"gradual"`.
            Defaults to `1`.
        learning_rate: float. The peak rate (of the head). Defaults to
            `5e-5`, BERT's usual.
        warmup_fraction: float in [0, 1]. Share of `total_steps` spent
            warming up. Defaults to `0.1`.
        total_steps: int or None. Optimizer steps of the whole run
            (epochs * steps per epoch): the rate warms up and decays
            linearly over them. None keeps `learning_rate` constant.
        weight_decay: float. AdamW's decoupled weight decay. Defaults to
            `0.01`. As in BERT, biases and layer-norm scales and offsets
            are not decayed.
        ema_momentum: float in [0, 1) or None. Keep an exponential moving
            average of the weights (Keras' `use_ema`) with this momentum;
            the Trainer swaps it into the model when `fit` ends. Defaults
            to None (off).

    Returns:
        A `FinetuningPlan`.

    Example:
    ```python
    plan = prepare_finetuning(classifier, "top_k", top_k=2,
                              total_steps=epochs * len(train))
    trainer = kerasft.Trainer(classifier, optimizer=plan.optimizer,
                              metrics=["accuracy", "f1"])
    trainer.fit(train, epochs=epochs, callbacks=plan.callbacks)
    ```
    """
    # Every argument is checked before the model changes.
    check_choice("strategy", strategy, STRATEGIES)
    check_real("learning_rate", learning_rate, low=0, low_open=True)
    check_real("warmup_fraction", warmup_fraction, low=0, high=1)
    check_real("weight_decay", weight_decay, low=0)
    if ema_momentum is not None:
        check_real("ema_momentum", ema_momentum, low=0, high=1,
                   high_open=True)
    check_int("gradual_every", gradual_every, 1)
    if total_steps is not None:
        check_int("total_steps", total_steps, 1)
    factors_needed = strategy == "layerwise_lr"
    if factors_needed:
        check_real("layer_decay", layer_decay, low=0, high=1, low_open=True)
    apply_strategy(classifier, strategy, top_k=top_k, lora_rank=lora_rank)

    schedule = learning_rate
    if total_steps is not None:
        schedule = LinearWarmupDecay(
            peak_learning_rate=learning_rate,
            warmup_steps=round(warmup_fraction * total_steps),
            total_steps=total_steps,
        )
    ema = {"use_ema": ema_momentum is not None,
           "ema_momentum": 0.99 if ema_momentum is None else ema_momentum}
    if factors_needed:
        optimizer = LayerwiseAdamW(
            learning_rate=schedule,
            layer_factors=layerwise_learning_rate_factors(
                classifier, layer_decay
            ),
            weight_decay=weight_decay,
            **ema,
        )
    else:
        optimizer = keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=weight_decay, **ema
        )
    # Keras matches these names as substrings of the variable paths:
    # `.../bias`, layer norms' `gamma` / `beta`.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    callbacks = []
    if strategy == "gradual":
        callbacks.append(GradualUnfreezing(every_n_epochs=gradual_every))
    return FinetuningPlan(
        strategy=strategy,
        optimizer=optimizer,
        callbacks=callbacks,
        learning_rate=schedule,
        trainable_params=_count(classifier.trainable_weights),
        total_params=_count(classifier.weights),
    )


def _count(variables):
    return sum(math.prod(v.shape) for v in variables)

