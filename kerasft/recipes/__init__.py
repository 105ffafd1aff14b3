"""End-to-end jobs behind the command line and the examples.

Each is a plain function that tests call too; `kerasft.cli` only parses
flags and calls them.
"""

from kerasft.recipes.quickstart import QuickstartConfig, run_quickstart
from kerasft.recipes.train import (
    TrainConfig,
    load_named_dataset,
    run_evaluate,
    run_train,
)

__all__ = [
    "QuickstartConfig",
    "TrainConfig",
    "load_named_dataset",
    "run_evaluate",
    "run_quickstart",
    "run_train",
]
