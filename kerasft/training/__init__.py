"""Training: the `Trainer`, its config, checkpoints, logging and metrics."""

from kerasft.training.checkpointer import Checkpointer
from kerasft.training.classification_metrics import (
    ConfusionMatrix,
    F1Score,
    Precision,
    Recall,
)
from kerasft.training.entity_metrics import (
    EntityF1,
    EntityPrecision,
    EntityRecall,
)
from kerasft.training.inputs import InvalidLabelError
from kerasft.training.multi_label_metrics import (
    ExactMatch,
    MultiLabelF1,
    MultiLabelPrecision,
    MultiLabelRecall,
    tune_thresholds,
)
from kerasft.training.regression_metrics import (
    PearsonCorrelation,
    SpearmanCorrelation,
)
from kerasft.training.tensorboard_logger import TensorBoardLogger
from kerasft.training.trainer import NonFiniteLossError, Trainer
from kerasft.training.trainer_callback import TrainerCallback
from kerasft.training.training_config import TrainingConfig

__all__ = [
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
]
