"""Turns the names a user passes to the Trainer into Keras objects.

Keras' own `get()` functions accept names too, but their errors are terse
and they assume probabilities: our models output logits, so every named
classification loss is built with `from_logits=True`, and the metrics are
fed probabilities (see `Trainer`), which keeps `"accuracy"` correct for one-
output binary models where Keras' BinaryAccuracy would threshold logits at
0.5.
"""

import keras

from kerasft.training import (
    classification_metrics,
    multi_label_metrics,
    regression_metrics,
)

LOSSES = {
    "sparse_categorical_crossentropy": (
        lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    ),
    "categorical_crossentropy": (
        lambda: keras.losses.CategoricalCrossentropy(from_logits=True)
    ),
    "binary_crossentropy": (
        lambda: keras.losses.BinaryCrossentropy(from_logits=True)
    ),
    "mse": lambda: keras.losses.MeanSquaredError(),
    "mean_squared_error": lambda: keras.losses.MeanSquaredError(),
    "mae": lambda: keras.losses.MeanAbsoluteError(),
    "mean_absolute_error": lambda: keras.losses.MeanAbsoluteError(),
    "huber": lambda: keras.losses.Huber(),
}

OPTIMIZERS = {
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
}

DEFAULT_LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3,
                          "rmsprop": 1e-3}

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1")
# For sigmoid outputs (binary cross-entropy), each output a label; micro /
# macro F1 also apply to single-label classes.
MULTI_LABEL_METRICS = ("micro_f1", "macro_f1", "exact_match")
REGRESSION_METRICS = ("mae", "mse", "rmse", "pearson", "spearman")
METRIC_NAMES = CLASSIFICATION_METRICS + MULTI_LABEL_METRICS + (
    REGRESSION_METRICS)

# The task decides which metrics and probability transform apply.
TASKS = ("sparse", "categorical", "binary", "regression")


def get_loss(loss):
    """Returns `(loss_object, task)` for a loss name or Keras loss."""
    if isinstance(loss, str):
        key = loss.lower()
        if key not in LOSSES:
            raise ValueError(
                f"Unknown loss name. Received: loss={loss!r}. Expected one "
                f"of {sorted(LOSSES)} or a keras.losses.Loss instance."
            )
        loss = LOSSES[key]()
    elif not isinstance(loss, keras.losses.Loss):
        raise TypeError(
            "`loss` must be a loss name or a keras.losses.Loss instance. "
            f"Received: loss={loss!r} of type {type(loss).__name__}"
        )
    return loss, _task_of(loss)


def _task_of(loss):
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        task = "sparse"
    elif isinstance(loss, keras.losses.CategoricalCrossentropy):
        task = "categorical"
    elif isinstance(loss, keras.losses.BinaryCrossentropy):
        task = "binary"
    else:
        return "regression"
    if not getattr(loss, "from_logits", True):
        raise ValueError(
            "kerasft models output logits, so classification losses must "
            f"use from_logits=True. Received: loss={loss.__class__.__name__}"
            "(from_logits=False). Pass the loss name (e.g. "
            "'sparse_categorical_crossentropy') or set from_logits=True."
        )
    return task


def get_optimizer(optimizer, learning_rate=None, loss_scale=None):
    """Returns a Keras optimizer from a name or instance.

    Args:
        optimizer: `"sgd"`, `"adam"`, `"adamw"`, `"rmsprop"` or a
            `keras.optimizers.Optimizer`.
        learning_rate: float or `keras.optimizers.schedules.
            LearningRateSchedule`, used with a name. Defaults to the
            optimizer's usual rate.
        loss_scale: bool or None. Wrap the optimizer in a
            `keras.optimizers.LossScaleOptimizer` (dynamic loss scaling, so
            that small float16 gradients do not underflow to zero). None
            means: when the global dtype policy is `"mixed_float16"`, as
            Keras' `Model.compile` does. bfloat16 has float32's range and
            needs no scaling.
    """
    optimizer = _get_optimizer(optimizer, learning_rate)
    if loss_scale is None:
        loss_scale = (
            keras.mixed_precision.dtype_policy().name == "mixed_float16")
    if loss_scale and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def _get_optimizer(optimizer, learning_rate):
    if isinstance(learning_rate, (int, float)) and not isinstance(
        learning_rate, bool
    ):
        if learning_rate <= 0:
            raise ValueError(
                "`learning_rate` must be positive. "
                f"Received: learning_rate={learning_rate!r}"
            )
    elif learning_rate is not None and not isinstance(
        learning_rate, keras.optimizers.schedules.LearningRateSchedule
    ):
        raise TypeError(
            "`learning_rate` must be a positive float or a keras "
            "LearningRateSchedule. Received: "
            f"learning_rate={learning_rate!r}"
        )
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if learning_rate is not None:
            optimizer.learning_rate = learning_rate
        return optimizer
    if not isinstance(optimizer, str) or optimizer.lower() not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer. Received: optimizer={optimizer!r}. "
            f"Expected one of {sorted(OPTIMIZERS)} or a "
            "keras.optimizers.Optimizer instance."
        )
    key = optimizer.lower()
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATES[key]
    return OPTIMIZERS[key](learning_rate=learning_rate)


def check_metric_names(metrics):
    """Validates metric names early, before the model's output is known."""
    known = METRIC_NAMES
    if metrics is not None and not isinstance(metrics, (list, tuple)):
        raise TypeError(
            "`metrics` must be a list of metric names or keras.metrics."
            f"Metric instances. Received: metrics={metrics!r}"
            + (f"; pass [{metrics!r}]" if isinstance(
                metrics, (str, keras.metrics.Metric)) else "")
        )
    names = [m.lower() if isinstance(m, str) else getattr(m, "name", None)
             for m in metrics or ()]
    repeated = sorted({n for n in names if n is not None
                       and names.count(n) > 1})
    if repeated:
        # Logs are keyed by name: the second would hide the first.
        raise ValueError(
            f"`metrics` names {repeated} more than once. Received: "
            f"metrics={metrics!r}"
        )
    for metric in metrics or ():
        if isinstance(metric, str) and metric.lower() not in known:
            raise ValueError(
                f"Unknown metric name. Received: metrics=[..., {metric!r}, "
                f"...]. Expected names from {list(known)} or "
                "keras.metrics.Metric instances."
            )
        if not isinstance(metric, (str, keras.metrics.Metric)):
            raise TypeError(
                "Each metric must be a name or a keras.metrics.Metric. "
                f"Received: {metric!r} of type {type(metric).__name__}"
            )


def get_metrics(metrics, task, num_outputs, average=None):
    """Builds metric objects once the number of model outputs is known.

    Names by task:
    - classification (`"sparse"`, `"categorical"`): `"accuracy"`, and
      `"precision"`, `"recall"`, `"f1"` from a confusion matrix (average
      from `average`), `"micro_f1"`, `"macro_f1"`.
    - `"binary"` with one output: the same, the confusion matrix having two
      classes; `"micro_f1"`, `"macro_f1"` and `"exact_match"` treat the
      output as one label (both F1s are then the positive class's F1, exact
      match is accuracy).
    - `"binary"` with several outputs (multi-label): `"accuracy"` is Keras'
      element-wise `BinaryAccuracy`; `"precision"`, `"recall"`, `"f1"` are
      the multi-label metrics (`MultiLabelF1` & co.) averaged as `average`
      says, `"micro_f1"` / `"macro_f1"` fix the average, `"exact_match"`
      is subset accuracy.
    - `"regression"`: `"mae"`, `"mse"`, `"rmse"`, `"pearson"`,
      `"spearman"` (over the whole set, one per output, averaged).
    A name that does not fit the task raises a `ValueError`. Metrics that
    need more than a name (e.g. `EntityF1`, which needs the tag names) are
    passed as instances, returned as given.

    Args:
        metrics: list of names or `keras.metrics.Metric` instances.
        task: one of `TASKS` (from `get_loss`).
        num_outputs: int. Size of the model's last output dimension.
        average: `"binary"`, `"macro"` or `"micro"` for precision / recall
            / F1. Defaults to binary for two-class tasks, macro otherwise
            (multi-label included, which does not take binary).

    Example:
    >>> [m.name for m in get_metrics(["f1", "exact_match"], "binary", 3)]
    ['f1', 'exact_match']
    """
    check_metric_names(metrics)
    multi_label = task == "binary" and num_outputs > 1
    num_classes = 2 if task == "binary" else num_outputs
    if multi_label:
        if average == "binary":
            raise ValueError(
                "`average='binary'` scores the positive class of a one-"
                f"output model; a multi-label model ({num_outputs} sigmoid "
                "outputs) takes 'micro' or 'macro'. Received: "
                "average='binary'"
            )
        average = average or "macro"
    elif average is None:
        average = "binary" if num_classes == 2 else "macro"
    built = []
    for metric in metrics or ():
        if isinstance(metric, keras.metrics.Metric):
            built.append(metric)
            continue
        name = metric.lower()
        _check_fits_task(metric, name, task)
        built.append(_named_metric(name, task, num_outputs, num_classes,
                                   average, multi_label))
    return built


def _check_fits_task(metric, name, task):
    regression_only = ("pearson", "spearman")
    if task == "regression" and name not in REGRESSION_METRICS:
        raise ValueError(
            f"Metric {metric!r} needs a classification loss. Received: a "
            f"regression loss. Use one of {list(REGRESSION_METRICS)}."
        )
    if task != "regression" and name in regression_only:
        raise ValueError(
            f"Metric {metric!r} needs a regression loss (e.g. 'mse', "
            f"'mae', 'huber'). Received: a classification loss (task "
            f"{task!r})."
        )
    if name == "exact_match" and task != "binary":
        raise ValueError(
            "Metric 'exact_match' compares sets of labels: it needs "
            "multi-label outputs (binary cross-entropy). For single-label "
            f"classes it equals 'accuracy'. Received: task {task!r}."
        )


def _named_metric(name, task, num_outputs, num_classes, average,
                  multi_label):
    """One metric from a name that fits the task (see `get_metrics`)."""
    if name == "accuracy":
        return {
            "sparse": keras.metrics.SparseCategoricalAccuracy,
            "categorical": keras.metrics.CategoricalAccuracy,
            "binary": keras.metrics.BinaryAccuracy,
        }[task](name="accuracy")
    if name in ("precision", "recall", "f1") and multi_label:
        cls = {
            "precision": multi_label_metrics.MultiLabelPrecision,
            "recall": multi_label_metrics.MultiLabelRecall,
            "f1": multi_label_metrics.MultiLabelF1,
        }[name]
        return cls(num_outputs, average=average, name=name)
    if name in ("precision", "recall", "f1"):
        cls = {
            "precision": classification_metrics.Precision,
            "recall": classification_metrics.Recall,
            "f1": classification_metrics.F1Score,
        }[name]
        return cls(num_classes, average=average, name=name)
    if name in ("micro_f1", "macro_f1"):
        fixed = name.split("_")[0]
        if task == "binary":  # each output a label, one output included
            return multi_label_metrics.MultiLabelF1(
                num_outputs, average=fixed, name=name)
        return classification_metrics.F1Score(num_classes, average=fixed,
                                              name=name)
    if name == "exact_match":
        return multi_label_metrics.ExactMatch(num_outputs, name=name)
    if name == "pearson":
        return regression_metrics.PearsonCorrelation(num_outputs, name=name)
    if name == "spearman":
        return regression_metrics.SpearmanCorrelation(
            num_outputs=num_outputs, name=name)
    return {
        "mae": keras.metrics.MeanAbsoluteError,
        "mse": keras.metrics.MeanSquaredError,
        "rmse": keras.metrics.RootMeanSquaredError,
    }[name](name=name)
