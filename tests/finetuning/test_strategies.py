import re

import keras
import pytest
from bert_test_helper import EMBEDDINGS
from bert_test_helper import HEAD
from bert_test_helper import LAYER
from bert_test_helper import LORA_PER_KERNEL
from bert_test_helper import POOLER
from bert_test_helper import tiny_classifier
from bert_test_helper import tiny_dataset
from bert_test_helper import trained_count

from kerasft import Trainer
from kerasft import freezing
from kerasft.finetuning import STRATEGIES
from kerasft.finetuning import GradualUnfreezing
from kerasft.finetuning import LayerwiseAdamW
from kerasft.finetuning import LinearWarmupDecay
from kerasft.finetuning import apply_strategy
from kerasft.finetuning import prepare_finetuning

L = 3  # transformer layers
ALL = EMBEDDINGS + L * LAYER + POOLER + HEAD
EXPECTED_TRAINABLE = {
    "head_only": HEAD,
    "top_k": 2 * LAYER + POOLER + HEAD,  # top_k=2; the pooler stays
    "full": ALL,
    "gradual": HEAD,  # its first stage; the callback does the rest
    "layerwise_lr": ALL,
    "lora": L * 2 * LORA_PER_KERNEL + HEAD,  # query + value per layer
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_what_each_strategy_trains(strategy):
    model = tiny_classifier(num_layers=L)
    plan = prepare_finetuning(model, strategy, top_k=2, lora_rank=4,
                              learning_rate=1e-4, total_steps=50)
    assert plan.strategy == strategy
    assert plan.trainable_params == trained_count(model)
    assert plan.trainable_params == EXPECTED_TRAINABLE[strategy]
    assert plan.total_params == sum(
        int(keras.ops.size(v)) for v in model.weights)
    expected_optimizer = (LayerwiseAdamW if strategy == "layerwise_lr"
                          else keras.optimizers.AdamW)
    assert type(plan.optimizer) is expected_optimizer
    assert plan.optimizer.weight_decay == 0.01
    # Warmup over 10% of the 50 steps, then linear decay to 0.
    assert isinstance(plan.learning_rate, LinearWarmupDecay)
    assert plan.learning_rate.get_config() == {
        "peak_learning_rate": 1e-4, "warmup_steps": 5, "total_steps": 50,
        "end_learning_rate": 0.0,
    }
    assert [type(c) for c in plan.callbacks] == (
        [GradualUnfreezing] if strategy == "gradual" else [])


def test_top_k_states_per_block():
    model = tiny_classifier(num_layers=L)
    apply_strategy(model, "top_k", top_k=1)
    states = {r.block: r.state for r in freezing.block_report(model)}
    assert states == {
        "embeddings": "frozen",
        "transformer_layer_0": "frozen",
        "transformer_layer_1": "frozen",
        "transformer_layer_2": "trainable",
        "pooler": "trainable",
        "head": "trainable",
    }


def test_strategies_apply_one_after_another():
    model = tiny_classifier(num_layers=L)
    counts = []
    for strategy in ["head_only", "full", "top_k", "head_only"]:
        apply_strategy(model, strategy, top_k=2)
        counts.append(trained_count(model))
    assert counts == [HEAD, ALL, EXPECTED_TRAINABLE["top_k"], HEAD]


def test_without_total_steps_the_rate_is_constant():
    plan = prepare_finetuning(tiny_classifier(), "full", learning_rate=3e-5)
    assert plan.learning_rate == 3e-5
    assert float(plan.optimizer.learning_rate) == pytest.approx(3e-5)


def test_layerwise_plan_has_decaying_factors():
    model = tiny_classifier(num_layers=L)
    plan = prepare_finetuning(model, "layerwise_lr", layer_decay=0.5)
    factors = plan.optimizer.layer_factors
    assert factors["logits/kernel"] == 1.0
    assert factors["transformer_layer_2/self_attention_layer/key/kernel"] \
        == 0.5
    assert factors["position_embedding/embeddings"] == 0.5**4


def test_unknown_strategy_names_it_and_lists_the_strategies():
    with pytest.raises(ValueError, match=re.escape(
        "`strategy` must be one of 'head_only', 'top_k', 'full', 'gradual', "
        "'layerwise_lr', 'lora'. Received: strategy='bitfit'"
    )):
        prepare_finetuning(tiny_classifier(), "bitfit")


def test_top_k_above_the_layers_names_both_and_changes_nothing():
    model = tiny_classifier(num_layers=L)
    apply_strategy(model, "head_only")
    with pytest.raises(ValueError, match=re.escape(
        "`top_k` is above the number of transformer layers: the backbone "
        "has 3. Received: top_k=4"
    )):
        prepare_finetuning(model, "top_k", top_k=4)
    assert trained_count(model) == HEAD


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"warmup_fraction": 1.5},
         "`warmup_fraction` must be a number in [0, 1]. Received: "
         "warmup_fraction=1.5"),
        ({"learning_rate": 0},
         "`learning_rate` must be a number > 0. Received: "
         "learning_rate=0"),
        ({"total_steps": 0},
         "`total_steps` must be an int >= 1. Received: total_steps=0"),
        ({"strategy": "layerwise_lr", "layer_decay": 0.0},
         "`layer_decay` must be a number in (0, 1]. Received: "
         "layer_decay=0.0"),
        ({"strategy": "top_k", "top_k": 0},
         "`top_k` must be an int >= 1. Received: top_k=0"),
        ({"strategy": "lora", "lora_rank": 0},
         "`lora_rank` must be an int >= 1. Received: lora_rank=0"),
    ],
)
def test_bad_arguments(kwargs, match):
    model = tiny_classifier()
    arguments = {"strategy": "full", **kwargs}
    with pytest.raises(ValueError, match=re.escape(match)):
        prepare_finetuning(model, **arguments)


def test_no_strategy_after_lora():
    model = tiny_classifier()
    apply_strategy(model, "lora")
    with pytest.raises(ValueError, match=re.escape(
        "The model has LoRA enabled already, and keras-hub cannot undo it: "
        "apply strategies to a model without LoRA. Received: "
        "strategy='full'"
    )):
        apply_strategy(model, "full")


def test_biases_and_layer_norms_are_not_decayed():
    model = tiny_classifier(num_layers=L)
    plan = prepare_finetuning(model, "full", learning_rate=1e-4)
    decayed = {v.path for v in model.trainable_weights
               if plan.optimizer._use_weight_decay(v)}
    for v in model.trainable_weights:
        excluded = v.path.endswith(("bias", "gamma", "beta"))
        assert (v.path in decayed) != excluded, v.path
    # Kernels and embeddings are decayed: one kernel per dense + 3 tables.
    assert any(p.endswith("kernel") for p in decayed)
    assert any("embeddings" in p for p in decayed)


def test_weight_decay_exclusion_survives_gradual_unfreezing():
    model = tiny_classifier(num_layers=L)
    plan = prepare_finetuning(model, "gradual", learning_rate=1e-3)
    trainer = Trainer(model, optimizer=plan.optimizer)
    trainer.fit(tiny_dataset(), epochs=2, verbose=0,
                callbacks=plan.callbacks)
    # The Trainer extended the optimizer to the newly unfrozen layer.
    assert trainer.optimizer is not plan.optimizer
    bias = next(v for v in model.trainable_weights
                if "transformer_layer_2" in v.path
                and v.path.endswith("bias"))
    kernel = next(v for v in model.trainable_weights
                  if "transformer_layer_2" in v.path
                  and v.path.endswith("kernel"))
    assert not trainer.optimizer._use_weight_decay(bias)
    assert trainer.optimizer._use_weight_decay(kernel)


def test_ema_momentum_is_passed_and_checked():
    plan = prepare_finetuning(tiny_classifier(), "full", ema_momentum=0.9)
    assert plan.optimizer.use_ema and plan.optimizer.ema_momentum == 0.9
    assert not prepare_finetuning(tiny_classifier(), "full").optimizer.use_ema
    for bad in (1, 1.5, -0.1, "0.9"):
        with pytest.raises(ValueError, match=re.escape(
                "`ema_momentum` must be a number in [0, 1")):
            prepare_finetuning(tiny_classifier(), "full", ema_momentum=bad)
