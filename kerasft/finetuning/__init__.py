"""Fine-tuning strategies for pretrained encoder classifiers (any family).

`prepare_finetuning(classifier, strategy)` sets what trains and returns the
optimizer and callbacks for the Trainer; the pieces it uses are public too:
a warmup + linear decay schedule, layer-wise learning rates, gradual
unfreezing, LoRA adapters with their save/load, and head-only training on
cached backbone features.
"""

from kerasft.finetuning.feature_cache import (
    cache_features,
    fit_head_on_cached_features,
    head_model,
)
from kerasft.finetuning.gradual_unfreezing import GradualUnfreezing
from kerasft.finetuning.layerwise_adamw import (
    LayerwiseAdamW,
    layerwise_learning_rate_factors,
)
from kerasft.finetuning.linear_warmup_decay import LinearWarmupDecay
from kerasft.finetuning.lora import (
    enable_lora,
    load_lora_weights,
    lora_layers,
    save_lora_weights,
)
from kerasft.finetuning.strategies import (
    STRATEGIES,
    FinetuningPlan,
    apply_strategy,
    prepare_finetuning,
)

__all__ = [
    "STRATEGIES",
    "FinetuningPlan",
    "GradualUnfreezing",
    "LayerwiseAdamW",
    "LinearWarmupDecay",
    "apply_strategy",
    "cache_features",
    "enable_lora",
    "fit_head_on_cached_features",
    "head_model",
    "layerwise_learning_rate_factors",
    "load_lora_weights",
    "lora_layers",
    "prepare_finetuning",
    "save_lora_weights",
]
