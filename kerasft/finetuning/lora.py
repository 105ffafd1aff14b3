"""LoRA adapters on an encoder classifier, saved with the head it trained.

keras-hub's `Backbone.enable_lora(rank)` freezes the backbone and adds
low-rank factors to the attention's `query` and `value` projections (its
`default_lora_layer_names()`), two `EinsumDense` layers per transformer
layer. Their kernel is `(hidden_dim, num_heads, head_dim)`, so the factors
are `lora_kernel_a` `(hidden_dim, num_heads, rank)` and `lora_kernel_b`
`(rank, head_dim)`: `rank * (hidden_dim * num_heads + head_dim)` scalars per
projection, not `rank * (in + out)` as for a 2-D kernel.

Two things keras-hub leaves to the caller, which this module handles:

- `enable_lora` makes the whole `query`/`value` layers trainable again, so
  their biases train too; `enable_lora` here freezes them (as in the LoRA
  paper and PEFT's default `bias="none"`): only the factors and the head
  train.
- `Backbone.save_lora_weights` writes only the factors, not the
  classifier's head (nor biases, had they trained). `save_lora_weights` here
  adds every other trained variable to the same `.lora.h5` file, in a
  `kerasft_trainable` group keras-hub ignores, so the file still loads with
  `backbone.load_lora_weights`, and `load_lora_weights` restores the whole
  fine-tuned classifier from its base weights.
"""

from pathlib import Path

import h5py
import keras

from kerasft import freezing
from kerasft.checks import check_int

LORA_FILE_SUFFIX = ".lora.h5"  # keras-hub refuses other names
TRAINABLE_GROUP = "kerasft_trainable"


def lora_layers(model):
    """The `(path, layer)` pairs of the layers with LoRA enabled."""
    return [
        (path, layer)
        for path, _, layer in freezing.iter_layers(model)
        if getattr(layer, "lora_enabled", False)
    ]


def enable_lora(classifier, rank=4):
    """Adds LoRA factors to the backbone; only they and the head train.

    Args:
        classifier: a model with a keras-hub `backbone` attribute (e.g. a
            `TextClassifier`) without LoRA yet.
        rank: int. The rank of the factors, >= 1. Defaults to `4`.

    Returns:
        The paths of the layers that got LoRA factors.

    Example:
    ```python
    enable_lora(classifier, rank=8)
    trainer = kerasft.Trainer(classifier, optimizer="adamw")
    ```
    """
    backbone = _backbone(classifier)
    rank = check_lora_rank(rank, backbone)
    if lora_layers(classifier):
        raise ValueError(
            "LoRA is already enabled on this model (keras-hub enables it "
            "once per layer). Start from a model without LoRA. Received: "
            f"rank={rank}, layers with LoRA "
            f"{[p for p, _ in lora_layers(classifier)]}"
        )
    backbone.enable_lora(int(rank))
    layers = lora_layers(classifier)
    for _, layer in layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias.trainable = False
    return [path for path, _ in layers]


def save_lora_weights(classifier, path):
    """Saves the LoRA factors and the other trained variables (the head).

    Args:
        classifier: a model with LoRA enabled (see `enable_lora`).
        path: str or path-like, ending in `.lora.h5`.

    Returns:
        The path, as a `pathlib.Path`.
    """
    path = Path(path)
    if not path.name.endswith(LORA_FILE_SUFFIX):
        raise ValueError(
            f"The LoRA file name must end in {LORA_FILE_SUFFIX!r} (keras-hub "
            f"needs it). Received: path={str(path)!r}"
        )
    layers = lora_layers(classifier)
    if not layers:
        raise ValueError(
            "The model has no LoRA layers: call enable_lora(classifier, "
            "rank) (or prepare_finetuning(..., 'lora')) and train first. "
            f"Received: a {type(classifier).__name__} without LoRA"
        )
    _backbone(classifier).save_lora_weights(str(path))
    factors = {
        id(v) for _, layer in layers
        for v in (layer.lora_kernel_a, layer.lora_kernel_b)
    }
    with h5py.File(path, "a") as file:
        group = file.create_group(TRAINABLE_GROUP)
        for variable in classifier.trainable_weights:
            if id(variable) not in factors:
                # A path such as "logits/kernel" nests groups in the file.
                group.create_dataset(
                    variable.path,
                    data=keras.ops.convert_to_numpy(variable),
                )
    return path


def load_lora_weights(classifier, path):
    """Loads a file from `save_lora_weights` into a classifier.

    The classifier must hold the same base weights as the one that was
    fine-tuned (e.g. the same preset); LoRA is enabled with the file's rank
    if it is not yet.

    Args:
        classifier: a model with a keras-hub `backbone` attribute.
        path: str or path-like. A `.lora.h5` file.

    Returns:
        The paths of the variables loaded besides the LoRA factors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No LoRA weights file there. Received: path={str(path)!r}"
        )
    extras = {}  # variable path -> value

    def collect(name, item):
        if isinstance(item, h5py.Dataset):
            extras[name] = item[()]

    with h5py.File(path, "r") as file:
        if "lora" not in file:
            raise ValueError(
                "The file holds no LoRA weights (no 'lora' group): write it "
                f"with save_lora_weights. Received: path={str(path)!r}"
            )
        rank = int(file["lora/vars/rank"][()])
        if TRAINABLE_GROUP in file:
            file[TRAINABLE_GROUP].visititems(collect)
    # Checked before anything changes in the model.
    by_path = {v.path: v for v in classifier.weights}
    missing = sorted(set(extras) - set(by_path))
    if missing:
        raise ValueError(
            "The file holds variables the model lacks: it was saved from "
            f"another architecture. Received: path={str(path)!r}, missing "
            f"variables {missing}"
        )
    for name, value in extras.items():
        if tuple(by_path[name].shape) != value.shape:
            raise ValueError(
                f"Variable {name!r} has shape {tuple(by_path[name].shape)} "
                f"in the model but {value.shape} in the file (e.g. another "
                f"num_classes). Received: path={str(path)!r}"
            )
    if not lora_layers(classifier):
        enable_lora(classifier, rank)
    # keras-hub checks the rank against an already enabled one.
    _backbone(classifier).load_lora_weights(str(path))
    for name, value in extras.items():
        by_path[name].assign(value)
    return sorted(extras)


def check_lora_rank(rank, backbone, name="rank"):
    """Returns `rank` as an int from 1 to the backbone's `hidden_dim`.

    A rank at or above the width of the kernels it factors saves nothing
    (the factors then hold more weights than the kernel itself).
    """
    rank = check_int(name, rank, minimum=1)
    hidden_dim = getattr(backbone, "hidden_dim", None)
    if hidden_dim is not None and rank > hidden_dim:
        raise ValueError(
            f"`{name}` must be at most the backbone's hidden_dim="
            f"{hidden_dim}: a higher rank makes the factors larger than the "
            f"kernels they stand for. Received: {name}={rank}"
        )
    return rank


def _backbone(classifier):
    backbone = getattr(classifier, "backbone", None)
    if not hasattr(backbone, "enable_lora"):
        raise TypeError(
            "`classifier` must have a keras-hub `backbone` (e.g. a "
            "kerasft.TextClassifier). Received: "
            f"classifier of type {type(classifier).__name__}"
        )
    return backbone
