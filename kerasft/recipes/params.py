"""`kerasft params`: where the parameters of a text classifier are, and
which of them each fine-tuning strategy trains.

The classifier is a saved `.keras` model, or a `kerasft.TextClassifier`
built on a preset of any supported encoder family
(`kerasft.presets.SUPPORTED`).
"""

from pathlib import Path

import keras

from kerasft import freezing
from kerasft.checks import check_keras_file
from kerasft.finetuning import STRATEGIES, apply_strategy
from kerasft.models import TextClassifier


def load_classifier(model_or_preset, num_classes=2):
    """Loads a `.keras` model, or builds a classifier on a preset.

    A preset (of any family in `kerasft.presets.SUPPORTED`) is built into a
    `TextClassifier` with `load_weights=False` (random weights, the
    preset's architecture): counting parameters needs no weights. Its
    pooling is the default `"cls"`, so a pooler (BERT, ALBERT, ELECTRA)
    counts as unused, as in `kerasft finetune`.

    Args:
        model_or_preset: str or path. A `.keras` file, or a preset name,
            folder or handle.
        num_classes: int. Classes of the head built on a preset.
    """
    path = Path(model_or_preset)
    if path.suffix == ".keras":
        # Keras calls a truncated or foreign file "File not found".
        return keras.saving.load_model(check_keras_file("model", path))
    return TextClassifier.from_preset(
        str(model_or_preset), num_classes=num_classes, load_weights=False
    )


def parse_strategies(text):
    """`"head_only,top_k"` -> `["head_only", "top_k"]`, checked."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGIES]
    if not names or unknown:
        raise ValueError(
            "`--compare` must list strategies separated by commas, from "
            f"{STRATEGIES}. Received: compare={text!r}"
            + (f" (unknown: {unknown})" if unknown else "")
        )
    return names


def run_params(model_or_preset, compare=None, top_k=2, lora_rank=4):
    """The block parameter report, and a comparison of strategies.

    Args:
        model_or_preset: a `.keras` file or a preset of any family (see
            `load_classifier`).
        compare: list of strategy names, or None for the report alone. Each
            is applied to a fresh copy of the model (same architecture).
        top_k: int. Layers that train with `top_k`.
        lora_rank: int. Rank of the LoRA factors with `lora`.

    Returns:
        The text to print.

    Example:
    ```python
    print(run_params("runs/finetune/model.keras", ["head_only", "lora"]))
    ```
    """
    model = load_classifier(model_or_preset)
    lines = [
        f"Parameters per block of {model_or_preset}:",
        freezing.format_block_report(freezing.block_report(model)),
    ]
    if compare:
        reports = {}
        for strategy in compare:
            # A fresh copy: "lora" adds variables, for good.
            copy = model.__class__.from_config(model.get_config())
            apply_strategy(copy, strategy, top_k=top_k, lora_rank=lora_rank)
            reports[strategy] = freezing.block_report(copy)
        lines += [
            "",
            f"Trainable parameters per strategy (top_k={top_k}, "
            f"lora_rank={lora_rank}; gradual: its first stage):",
            freezing.compare_block_reports(reports),
        ]
    return "\n".join(lines)
