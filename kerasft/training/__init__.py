from kerasft.training.checkpointer import Checkpointer
from kerasft.training.classification_metrics import (
    ConfusionMatrix,
    F1Score,
    Precision,
    Recall,
)
from kerasft.training.tensorboard_logger import TensorBoardLogger
from kerasft.training.trainer import NonFiniteLossError, Trainer
from kerasft.training.training_config import TrainingConfig
