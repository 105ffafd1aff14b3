"""kerasft: build Keras 3 networks from scratch and fine-tune pretrained ones.

Importing kerasft selects the TensorFlow backend for Keras (see
`kerasft.backend`); import it before `keras`, or set KERAS_BACKEND=tensorflow.

`import kerasft` itself is light: the public names below load on first use
(PEP 562), so `kerasft --help` answers without starting TensorFlow. Once
Keras is loaded, kerasft loads all of them (see `_load_when_keras_is_up`),
so that `keras.saving.load_model` finds kerasft's registered classes after
a bare `import kerasft, keras`, as it did when this file imported them all.
"""

import importlib
import importlib.abc
import sys
import types

from kerasft.backend import select_tensorflow_backend

select_tensorflow_backend()

__version__ = "0.1.0"

# Public name -> the submodule that defines it.
_EXPORTS = {
    "get_strategy": "kerasft.distribute",
    **dict.fromkeys(
        (
            "block_report",
            "compare_block_reports",
            "compare_parameter_reports",
            "format_block_report",
            "format_parameter_report",
            "freeze",
            "freeze_backbone",
            "freeze_embeddings",
            "freeze_transformer_layers",
            "parameter_report",
            "unfreeze",
            "unfreeze_backbone",
            "unfreeze_embeddings",
            "unfreeze_transformer_layers",
        ),
        "kerasft.freezing",
    ),
    **dict.fromkeys(
        (
            "BertClassifier",
            "BiLSTMClassifier",
            "ConvAutoencoder",
            "ConvNetwork",
            "FeedforwardNetwork",
            "MultiLabelClassifier",
            "TextClassifier",
            "TextCNNClassifier",
            "TextRegressor",
            "TokenClassifier",
        ),
        "kerasft.models",
    ),
    **dict.fromkeys(
        (
            "Checkpointer",
            "ConfusionMatrix",
            "EntityF1",
            "EntityPrecision",
            "EntityRecall",
            "ExactMatch",
            "F1Score",
            "InvalidLabelError",
            "MultiLabelF1",
            "MultiLabelPrecision",
            "MultiLabelRecall",
            "NonFiniteLossError",
            "PearsonCorrelation",
            "Precision",
            "Recall",
            "SpearmanCorrelation",
            "TensorBoardLogger",
            "Trainer",
            "TrainerCallback",
            "TrainingConfig",
            "tune_thresholds",
        ),
        "kerasft.training",
    ),
    **dict.fromkeys(
        (
            "STRATEGIES",
            "FinetuningPlan",
            "GradualUnfreezing",
            "LayerwiseAdamW",
            "LinearWarmupDecay",
            "prepare_finetuning",
        ),
        "kerasft.finetuning",
    ),
    "predict_texts": "kerasft.inference",
}

# Subpackages reachable as attributes (`kerasft.data.load_tfds(...)`).
_SUBMODULES = (
    "data",
    "distribute",
    "finetuning",
    "freezing",
    "inference",
    "models",
    "presets",
    "pretraining",
    "training",
)
# Also attributes, on demand, but not part of `from kerasft import *`.
_OTHER_SUBMODULES = ("backend", "checks", "cli", "recipes")

__all__ = sorted(_EXPORTS) + list(_SUBMODULES) + [
    "select_tensorflow_backend"
]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES or name in _OTHER_SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once: later lookups skip this function
    _load_when_keras_is_up()
    return value


def __dir__():
    # The API, loaded or not; not the helpers' modules (sys, importlib...).
    own = {name for name in globals() if name.startswith("__")}
    return sorted(own | set(__all__) | set(_OTHER_SUBMODULES))


# --- Registering kerasft's Keras classes once Keras is loaded ---------------
#
# Keras finds a `.keras` file's custom classes (`kerasft>TextClassifier`,
# the metrics, the LoRA optimizer...) only if their modules were imported,
# and it imports no module of a package other than its own to find them.
# So, as soon as Keras is loaded, kerasft imports its whole API: at the end
# of `import keras` (or of the `import tensorflow`, `import keras_hub` or
# `import kerasft.X` that loaded it), or at the first `kerasft.X` after it.
# Never in the middle of one of those imports: the API imports them back,
# and a module half imported lacks the names it has not reached yet.

# Top-level packages whose half-done import makes loading the API unsafe.
_BLOCKING_PACKAGES = ("keras", "keras_hub", "kerasft", "tensorflow")
_loaded_all = False


def _initializing(module):
    # importlib flags a module's spec while its code runs. Read through
    # `vars`: TensorFlow's lazy-loader modules load on attribute access.
    if not isinstance(module, types.ModuleType):
        return False
    return getattr(vars(module).get("__spec__"), "_initializing", False)


def _load_when_keras_is_up(finished=None):
    """Imports every public submodule, if Keras is loaded and it is safe.

    Args:
        finished: the module whose code has just run to its end (it is still
            flagged as initializing until its import returns), or None.
    """
    global _loaded_all
    if _loaded_all or "keras" not in sys.modules:
        return
    for name, module in list(sys.modules.items()):
        if (
            module is not finished
            and name.split(".")[0] in _BLOCKING_PACKAGES
            and _initializing(module)
        ):
            return  # a later trigger (its end, or `kerasft.X`) does it
    _loaded_all = True
    for name in _SUBMODULES:
        globals()[name] = importlib.import_module(f"{__name__}.{name}")


class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `_load_when_keras_is_up` when one of `names` is imported.

    A finder that returns the spec the other finders find, its loader's
    `exec_module` wrapped: nothing else of the import changes.
    """

    def __init__(self, names):
        self.pending = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.pending:
            return None
        self.pending.discard(fullname)
        if not self.pending:
            sys.meta_path.remove(self)
        spec = None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_module_then_load(module):
            exec_module(module)
            _load_when_keras_is_up(finished=module)

        # One loader per module spec: the wrap affects this import only.
        loader.exec_module = exec_module_then_load
        return spec


_watched = [
    name
    for name in (
        "keras",
        "keras_hub",
        "tensorflow",
        *(f"{__name__}.{sub}" for sub in _SUBMODULES + _OTHER_SUBMODULES),
    )
    if name not in sys.modules
]
if _watched:
    sys.meta_path.insert(0, _AfterImport(_watched))
# Keras imported first (`import keras, kerasft`): load the API now, as the
# end of this file is the end of this import.
_load_when_keras_is_up(finished=sys.modules[__name__])
