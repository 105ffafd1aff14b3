"""kerasft: build Keras 3 networks from scratch and fine-tune pretrained ones.

Importing kerasft selects the TensorFlow backend for Keras (see
`kerasft.backend`); import it before `keras`, or set KERAS_BACKEND=tensorflow.
"""

from kerasft.backend import select_tensorflow_backend

select_tensorflow_backend()

from kerasft import data, distribute, freezing, models, presets  # noqa: E402
from kerasft.distribute import get_strategy  # noqa: E402
from kerasft.freezing import (  # noqa: E402
    block_report,
    compare_block_reports,
    compare_parameter_reports,
    format_block_report,
    format_parameter_report,
    freeze,
    freeze_backbone,
    freeze_embeddings,
    freeze_transformer_layers,
    parameter_report,
    unfreeze,
    unfreeze_backbone,
    unfreeze_embeddings,
    unfreeze_transformer_layers,
)
from kerasft.models import (  # noqa: E402
    BertClassifier,
    ConvAutoencoder,
    ConvNetwork,
    FeedforwardNetwork,
    MultiLabelClassifier,
    TextClassifier,
    TextRegressor,
    TokenClassifier,
)
from kerasft.training import (  # noqa: E402
    Checkpointer,
    ConfusionMatrix,
    EntityF1,
    EntityPrecision,
    EntityRecall,
    ExactMatch,
    F1Score,
    MultiLabelF1,
    MultiLabelPrecision,
    MultiLabelRecall,
    NonFiniteLossError,
    PearsonCorrelation,
    Precision,
    Recall,
    SpearmanCorrelation,
    TensorBoardLogger,
    Trainer,
    TrainingConfig,
    tune_thresholds,
)
from kerasft import finetuning  # noqa: E402
from kerasft.finetuning import (  # noqa: E402
    STRATEGIES,
    FinetuningPlan,
    GradualUnfreezing,
    LayerwiseAdamW,
    LinearWarmupDecay,
    prepare_finetuning,
)
from kerasft import pretraining  # noqa: E402
from kerasft.inference import predict_texts  # noqa: E402

__version__ = "0.1.0"
