"""TensorBoard logging for the `Trainer`: scalars, histograms, config, profile.

Keras' own `keras.callbacks.TensorBoard` writes scalars and weight
histograms, but it cannot see gradients, knows nothing of the Trainer's
`TrainingConfig` or its global step under `steps_per_execution`, and
writes from every worker of a multi-worker run. This callback keeps Keras'
folder layout and tag names (`train/`, `validation/`, `epoch_loss`,
`batch_loss`, `evaluation_loss_vs_iterations`), so dashboards and habits
carry over, and adds what the Trainer knows.
"""

import dataclasses
import json
import numbers
import os
import warnings

import keras
import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

from kerasft.distribute import is_chief
from kerasft.training.inputs import unpack
from kerasft.training.trainer_callback import TrainerCallback

_SCALAR_TYPES = (bool, int, float, str)


class TensorBoardLogger(TrainerCallback):
    """Writes a `Trainer` run to TensorBoard, from the chief only.

    Pass it to `Trainer.fit(callbacks=[...])`; the Trainer hands it a
    reference to itself (`set_trainer`) before training starts. It writes,
    under `log_dir`:

    - `train/`: `batch_<name>` scalars (loss, every metric,
      `learning_rate`) against the global optimizer step, every
      `update_freq` steps; `epoch_<name>` scalars against the epoch index
      (0-based), as Keras' TensorBoard callback does; weight histograms
      (`weights/<variable path>`) and gradient histograms
      (`gradients/<variable path>`) every `histogram_freq` epochs or steps;
      and a profile of `profile_steps` (`train/plugins/profile/`).
    - `validation/`: `epoch_<name>` against the epoch index and
      `evaluation_<name>_vs_iterations` against the global step, whenever
      `fit` validates (and when `Trainer.evaluate(callbacks=[logger])`
      runs).
    - `log_dir` itself: the run's configuration, for the HParams dashboard
      (TrainingConfig fields, optimizer and schedule settings, learning
      rate, batch size, the model's scalar config, `hparams`) and as JSON
      in the Text dashboard (tag `config`).

    With `steps_per_execution=k` the host sees the loss and metrics once
    per call of k steps, so step scalars are written at the last step of a
    call that reaches a multiple of `update_freq` (e.g. k=4,
    update_freq=10: at steps 12, 20, 32, 40, ...). `batch_<name>` values
    are running means over the epoch so far, as in Keras; `learning_rate`
    at step s is the rate of the next update (the schedule at iteration s),
    the same value as in `History`.

    Gradient histograms cost one extra forward and backward pass on one
    batch each time they are due (plus one trace of that function): the
    first batch of the training data, read once at the start of `fit` and
    kept, so successive histograms are comparable. They are computed in
    inference mode (no dropout, BatchNorm on its moving statistics) in a
    separate `tf.function`, so they never change the weights, the
    optimizer or the random generators, and the ordinary training step is
    untouched. One caveat: reading that batch moves the reshuffle state of
    a seeded `dataset.shuffle`, so the (equally random) order of the
    training examples differs from a run without histograms. With
    histograms off the logger neither reads the data nor computes
    anything: training is exactly the same as without it.

    Under a `tf.distribute` strategy only the chief (task 0, or the
    `chief` task, or a run without a cluster) writes; other workers write
    nothing and skip the extra work. With `model.fit` (no Trainer) the
    scalars and weight histograms still work; gradient histograms need the
    Trainer and are skipped with a warning.

    Args:
        log_dir: str or path. The run's folder (give each run its own).
        update_freq: `"epoch"` (epoch scalars only), `"batch"` / `"step"`
            (every step, same as 1), or an int N: step scalars every N
            optimizer steps. Defaults to `"epoch"`.
        histogram_freq: int. Write weight and gradient histograms every N
            epochs (or steps, see `histogram_unit`); 0 turns them off.
            Defaults to 0.
        histogram_unit: `"epoch"` or `"step"`. The unit of
            `histogram_freq`. Per-epoch histograms are indexed by the
            epoch, per-step ones by the global step. Defaults to `"epoch"`.
        profile_steps: None or a pair `(start, stop)` of global steps
            (1-based, inclusive) to profile with the TensorFlow profiler,
            e.g. `(5, 8)`; rounded out to whole calls of
            `steps_per_execution` steps. Defaults to None.
        hparams: dict of str to bool/int/float/str. Extra hyperparameters
            for the HParams dashboard (e.g. the data set's name); they win
            over the ones gathered from the Trainer.

    Example:
    >>> import kerasft, numpy as np, os, tempfile
    >>> x = np.random.rand(64, 8).astype("float32")
    >>> y = (x.sum(axis=1) > 4).astype("int64")
    >>> trainer = kerasft.Trainer(
    ...     kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=2),
    ...     metrics=["accuracy"])
    >>> logger = kerasft.TensorBoardLogger(
    ...     tempfile.mkdtemp(), update_freq=1, histogram_freq=1,
    ...     hparams={"data": "random"})
    >>> history = trainer.fit(x, y, epochs=2, verbose=0,
    ...                       validation_data=(x, y), callbacks=[logger])
    >>> sorted(os.listdir(logger.log_dir))[-2:]
    ['train', 'validation']

    Then: `tensorboard --logdir <log_dir>`.
    """

    def __init__(
        self,
        log_dir,
        update_freq="epoch",
        histogram_freq=0,
        histogram_unit="epoch",
        profile_steps=None,
        hparams=None,
    ):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.update_freq = _check_update_freq(update_freq)
        if (isinstance(histogram_freq, bool)
                or not isinstance(histogram_freq, int)
                or histogram_freq < 0):
            raise ValueError(
                "`histogram_freq` must be an int >= 0 (0 turns histograms "
                f"off). Received: histogram_freq={histogram_freq!r}"
            )
        self.histogram_freq = histogram_freq
        if histogram_unit not in ("epoch", "step"):
            raise ValueError(
                "`histogram_unit` must be 'epoch' or 'step'. Received: "
                f"histogram_unit={histogram_unit!r}"
            )
        self.histogram_unit = histogram_unit
        self.profile_steps = _check_profile_steps(profile_steps)
        self.hparams = _check_hparams(hparams)
        self.train_dir = os.path.join(self.log_dir, "train")
        self.validation_dir = os.path.join(self.log_dir, "validation")
        self._trainer = None
        self._writers = {}  # folder -> tf.summary writer, created lazily
        self._chief = True
        self._config_written = False
        self._sample_batch = None  # first training batch, for gradients
        self._batch_size = None
        self._gradient_function = None
        self._gradient_key = None
        self._step_at_batch_begin = 0
        self._profiling = False
        self._profile_done = False
        self._step_trace = None
        self._warned_gradients = False
        self._in_fit = False

    # ------------------------------------------------------------- hooks
    def set_model(self, model):
        super().set_model(model)
        # Every CallbackList sets the model; `Trainer.fit` then also calls
        # set_trainer. Elsewhere (evaluate, model.fit) there is no Trainer:
        # the evaluation is logged against the model's optimizer steps.
        self._trainer = None

    def on_train_begin(self, logs=None):
        strategy = (self._trainer.strategy if self._trainer is not None
                    else tf.distribute.get_strategy())
        self._chief = is_chief(strategy)
        self._in_fit = True
        if not self._chief:
            return
        dataset = (getattr(self._trainer, "train_dataset", None)
                   if self._trainer is not None else None)
        if self.histogram_freq and dataset is not None:
            # The batch for gradient histograms, read once. Only then: any
            # read of a dataset with a seeded reshuffling `shuffle` moves
            # its shared reshuffle state, so the training order changes.
            self._sample_batch = next(iter(dataset.take(1)), None)
        if not self._config_written:
            self._batch_size = (_batch_size_of(dataset)
                                if dataset is not None else None)
            self._write_config()
            self._config_written = True

    def on_train_batch_begin(self, batch, logs=None):
        if not self._chief:
            return
        step = self._global_step()
        self._step_at_batch_begin = step
        if self.profile_steps and not self._profile_done:
            start, stop = self.profile_steps
            # The call about to run covers steps step+1 .. step+k.
            last = step + self._steps_per_execution()
            if not self._profiling and last >= start and step < stop:
                self._start_profiler()
            if self._profiling:
                # Marks the call as a step in the profiler's step view.
                self._step_trace = tf.profiler.experimental.Trace(
                    "train", step_num=step + 1, _r=1)
                self._step_trace.__enter__()

    def on_train_batch_end(self, batch, logs=None):
        if not self._chief:
            return
        step = self._global_step()
        if self._step_trace is not None:
            self._step_trace.__exit__(None, None, None)
            self._step_trace = None
        if self._profiling and step >= self.profile_steps[1]:
            self._stop_profiler()
        previous = self._step_at_batch_begin
        if self.update_freq != "epoch" and logs and _crossed(
                previous, step, self.update_freq):
            with self._writer(self.train_dir).as_default():
                for name, value in logs.items():
                    tf.summary.scalar(f"batch_{name}", value, step=step)
        if (self.histogram_freq and self.histogram_unit == "step"
                and _crossed(previous, step, self.histogram_freq)):
            self._write_histograms(step)

    def on_epoch_end(self, epoch, logs=None):
        if not self._chief:
            return
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items()
                      if not k.startswith("val_")}
        val_logs = {k[len("val_"):]: v for k, v in logs.items()
                    if k.startswith("val_")}
        if "learning_rate" not in train_logs:
            rate = self._learning_rate()
            if rate is not None:
                train_logs["learning_rate"] = rate
        with self._writer(self.train_dir).as_default():
            for name, value in train_logs.items():
                tf.summary.scalar(f"epoch_{name}", value, step=epoch)
        if val_logs:
            step = self._global_step()
            with self._writer(self.validation_dir).as_default():
                for name, value in val_logs.items():
                    tf.summary.scalar(f"epoch_{name}", value, step=epoch)
                    tf.summary.scalar(f"evaluation_{name}_vs_iterations",
                                      value, step=step)
        if (self.histogram_freq and self.histogram_unit == "epoch"
                and epoch % self.histogram_freq == 0):
            self._write_histograms(epoch)
        # So that a TensorBoard watching the run sees each epoch.
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        # Only `Trainer.evaluate(callbacks=[...])` calls this: `fit`'s own
        # validation reaches this callback through `val_` epoch logs.
        strategy = (self._trainer.strategy if self._trainer is not None
                    else tf.distribute.get_strategy())
        if not logs or not is_chief(strategy):
            return
        step = self._global_step()
        writer = self._writer(self.validation_dir)
        with writer.as_default():
            for name, value in logs.items():
                tf.summary.scalar(f"evaluation_{name}_vs_iterations",
                                  value, step=step)
        if self._in_fit:
            writer.flush()
        else:
            self._close_writers()

    def on_train_end(self, logs=None):
        self._in_fit = False
        if self._step_trace is not None:
            self._step_trace.__exit__(None, None, None)
            self._step_trace = None
        if self._profiling:
            self._stop_profiler()
        self._close_writers()
        self._sample_batch = None
        self._gradient_function = None

    # ---------------------------------------------------------- writing
    def _writer(self, folder):
        if folder not in self._writers:
            self._writers[folder] = tf.summary.create_file_writer(folder)
        return self._writers[folder]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _global_step(self):
        """Optimizer steps applied so far: the step axis of the run."""
        if self._trainer is not None:
            return self._trainer.global_step
        optimizer = getattr(self.model, "optimizer", None)
        return int(optimizer.iterations) if optimizer is not None else 0

    def _steps_per_execution(self):
        if self._trainer is not None:
            return self._trainer.config.steps_per_execution
        return 1

    def _optimizer(self):
        optimizer = (self._trainer.optimizer if self._trainer is not None
                     else getattr(self.model, "optimizer", None))
        # LossScaleOptimizer (mixed_float16) wraps the real one.
        return getattr(optimizer, "inner_optimizer", optimizer)

    def _learning_rate(self):
        optimizer = self._optimizer()
        if optimizer is None:
            return None
        # Under a strategy the rate is a MirroredVariable: read as tensor.
        return float(tf.convert_to_tensor(optimizer.learning_rate))

    def _write_histograms(self, step):
        model = self._trainer.model if self._trainer else self.model
        with self._writer(self.train_dir).as_default():
            for weight in model.weights:
                if weight.dtype.startswith(("float", "bfloat")):
                    tf.summary.histogram(f"weights/{weight.path}",
                                         tf.cast(weight, "float32"),
                                         step=step)
            gradients = self._gradients()
            for path, gradient in gradients:
                tf.summary.histogram(f"gradients/{path}", gradient,
                                     step=step)

    def _gradients(self):
        """[(variable path, gradient)] on the kept batch, or [] if none."""
        if self._trainer is None or self._sample_batch is None:
            if not self._warned_gradients:
                warnings.warn(
                    "TensorBoardLogger writes gradient histograms only "
                    "with kerasft.Trainer.fit (it needs the loss and one "
                    "training batch); writing weight histograms only."
                )
                self._warned_gradients = True
            return []
        trainer = self._trainer
        variables = list(trainer.model.trainable_variables)
        key = tuple(id(v) for v in variables)
        if key != self._gradient_key:  # first call, or (un)freezing
            self._gradient_function = _make_gradient_function(
                trainer, variables)
            self._gradient_key = key
        gradients = self._gradient_function(self._sample_batch)
        return [(v.path, g) for v, g in zip(variables, gradients)
                if g is not None]

    def _write_config(self):
        hparams, config = self._collect_config()
        writer = self._writer(self.log_dir)
        with writer.as_default():
            # In log_dir itself, the parent of train/ and validation/: the
            # HParams dashboard then finds this run's metrics there
            # (train.epoch_loss, validation.epoch_accuracy, ...).
            hp.hparams(hparams)
            text = json.dumps(config, indent=2, sort_keys=True, default=str)
            tf.summary.text("config", f"```json\n{text}\n```", step=0)
        writer.flush()

    def _collect_config(self):
        """Returns (flat hparams dict, full JSON-able config dict)."""
        trainer = self._trainer
        model = trainer.model if trainer is not None else self.model
        optimizer = self._optimizer()
        hparams, config = {}, {}
        if trainer is not None:
            training_config = dataclasses.asdict(trainer.config)
            config["training_config"] = training_config
            hparams.update(_scalars(training_config))
            loss = trainer.loss
            hparams["loss"] = getattr(loss, "name", type(loss).__name__)
            metrics = [m if isinstance(m, str) else getattr(m, "name", str(m))
                       for m in trainer.metric_specs]
            hparams["metrics"] = ",".join(metrics)
            config["loss"] = hparams["loss"]
            config["metrics"] = metrics
            strategy = trainer.strategy
            hparams["strategy"] = type(strategy).__name__
            hparams["num_replicas"] = strategy.num_replicas_in_sync
            config["strategy"] = {"class": hparams["strategy"],
                                  "num_replicas": hparams["num_replicas"]}
        if self._batch_size is not None:
            # The global batch: under a strategy it is split over replicas.
            hparams["batch_size"] = config["batch_size"] = self._batch_size
        if optimizer is not None:
            optimizer_config = optimizer.get_config()
            config["optimizer"] = {"class": type(optimizer).__name__,
                                   "config": optimizer_config}
            hparams["optimizer"] = type(optimizer).__name__
            hparams.update(_scalars(optimizer_config, prefix="optimizer."))
            schedule = optimizer._learning_rate  # a float, or a schedule
            if isinstance(schedule,
                          keras.optimizers.schedules.LearningRateSchedule):
                hparams["learning_rate_schedule"] = type(schedule).__name__
                hparams.update(_scalars(schedule.get_config(),
                                        prefix="learning_rate_schedule."))
                hparams["learning_rate"] = float(schedule(0))
            else:
                hparams["learning_rate"] = self._learning_rate()
        if model is not None:
            hparams["model"] = type(model).__name__
            try:
                model_config = model.get_config()
            except (NotImplementedError, TypeError):
                model_config = {}
            config["model"] = {"class": hparams["model"],
                               "config": model_config}
            hparams.update(_scalars(
                {k: v for k, v in model_config.items()
                 if k not in ("name", "trainable", "dtype")},
                prefix="model.",
            ))
        hparams.update(self.hparams)
        config["hparams"] = dict(self.hparams)
        return hparams, config

    # --------------------------------------------------------- profiling
    def _start_profiler(self):
        try:
            tf.profiler.experimental.start(self.train_dir)
        except (tf.errors.AlreadyExistsError, tf.errors.UnavailableError) as e:
            # Only one profiler session may run per process.
            warnings.warn(f"TensorBoardLogger could not start the profiler "
                          f"({e}); no profile is written.")
            self._profile_done = True
            return
        self._profiling = True

    def _stop_profiler(self):
        tf.profiler.experimental.stop()
        self._profiling = False
        self._profile_done = True


# ------------------------------------------------------------- helpers
def _make_gradient_function(trainer, variables):
    """A `tf.function(batch) -> gradients` for `variables`, no side effect.

    Runs through `strategy.run` (mirrored variables cannot be read under a
    tape outside a replica context) on the same full batch in every local
    replica, with no cross-replica reduction, so it needs no other worker;
    the first replica's result is taken. The loss differentiated is the
    unscaled one (`compute_loss`'s second value), so the gradients are
    those of the whole batch's mean loss, whatever the replica count.
    """
    strategy = trainer.strategy
    optimizer = trainer.optimizer

    def replica_gradients(data):
        x, y, sample_weight = unpack(data)
        with tf.GradientTape() as tape:
            y_pred = trainer.model(x, training=False)
            _, loss = trainer.compute_loss(y, y_pred, sample_weight)
            # mixed_float16: scale as the train step does, so small
            # gradients do not underflow in float16, then unscale.
            scale = tf.cast(optimizer.scale_loss(tf.constant(1.0)),
                            "float32")
            scaled = loss * scale
        gradients = tape.gradient(scaled, variables)
        return [None if g is None else tf.cast(g, "float32") / scale
                for g in gradients]

    @tf.function(reduce_retracing=True)
    def gradient_function(data):
        outputs = strategy.run(replica_gradients, args=(data,))
        return [None if g is None
                else strategy.experimental_local_results(g)[0]
                for g in outputs]

    return gradient_function


def _batch_size_of(dataset):
    """The dataset's batch size, found without reading it, or None.

    Reading a batch would move the reshuffle state of a seeded `shuffle`
    (and so the training order). The static batch dimension, else the
    argument of the last `batch` / `padded_batch` stage (tf.data keeps it
    as `_batch_size`; there is no public accessor), gives it for free.
    """
    first = keras.tree.flatten(dataset.element_spec)[0]
    if first.shape.rank and first.shape[0] is not None:
        return int(first.shape[0])
    node = dataset
    while node is not None:
        size = getattr(node, "_batch_size", None)
        if size is not None:
            value = tf.get_static_value(size)
            return None if value is None else int(value)
        node = getattr(node, "_input_dataset", None)
    return None


def _crossed(previous, step, every):
    """True if a multiple of `every` lies in (previous, step]."""
    return step // every > previous // every


def _scalars(config, prefix=""):
    """The hparams-ready entries of a config dict (flat, simple values).

    None becomes "None" (e.g. `average=None`: the default averaging);
    lists and tuples of simple values become their text, e.g. "[16, 8]".
    """
    values = {}
    for key, value in config.items():
        if value is None:
            value = "None"
        elif isinstance(value, (list, tuple)) and all(
                isinstance(v, _SCALAR_TYPES) for v in value):
            value = str(list(value))
        elif isinstance(value, numbers.Real) and not isinstance(
                value, _SCALAR_TYPES):
            value = float(value)  # NumPy scalars
        if isinstance(value, _SCALAR_TYPES):
            values[prefix + key] = value
    return values


def _check_update_freq(update_freq):
    if update_freq in ("batch", "step"):
        return 1
    if update_freq == "epoch":
        return "epoch"
    if (isinstance(update_freq, int) and not isinstance(update_freq, bool)
            and update_freq >= 1):
        return update_freq
    raise ValueError(
        "`update_freq` must be 'epoch', 'batch', 'step' or an int >= 1 "
        f"(steps). Received: update_freq={update_freq!r}"
    )


def _check_profile_steps(profile_steps):
    if profile_steps is None:
        return None
    message = (
        "`profile_steps` must be None or a pair (start, stop) of ints "
        "with 1 <= start <= stop (global steps, 1-based, inclusive). "
        f"Received: profile_steps={profile_steps!r}"
    )
    if not isinstance(profile_steps, (tuple, list)) or len(
            profile_steps) != 2:
        raise ValueError(message)
    start, stop = profile_steps
    for value in (start, stop):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(message)
    if not 1 <= start <= stop:
        raise ValueError(message)
    return (start, stop)


def _check_hparams(hparams):
    if hparams is None:
        return {}
    if not isinstance(hparams, dict):
        raise TypeError(
            "`hparams` must be a dict of str to bool/int/float/str. "
            f"Received: hparams of type {type(hparams).__name__}"
        )
    for key, value in hparams.items():
        if not isinstance(key, str) or not isinstance(value, _SCALAR_TYPES):
            raise ValueError(
                "`hparams` must map str to bool/int/float/str. Received: "
                f"hparams[{key!r}]={value!r}"
            )
    return dict(hparams)
