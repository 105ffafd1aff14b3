"""The Trainer: a custom `tf.GradientTape` loop with Keras' surface.

One step is a straight block: forward under the tape, loss (plus the
model's regularization losses), gradients over the trainable variables,
apply, update metrics. A loop around it runs `steps_per_execution` steps
inside one `tf.function` call, pulling batches from the iterator inside the
graph, and the host reads metrics once per call: no `.numpy()` in the step,
no per-step host sync, no retrace on the last short batch (the function is
traced on the iterator's spec, whose batch dimension is `None`).

Its parts have their own modules: `inputs` (arrays and datasets in, label
checks), `step_loop` (the loop shared by fit and evaluate), `step_guard`
(apply only sound steps), `trainer_callback` (what callbacks may read).
"""

import weakref

import keras
import numpy as np
import tensorflow as tf

from kerasft import distribute
from kerasft.checks import check_int, check_optional_int
from kerasft.training import (
    classification_metrics,
    components,
    gradient_accumulator,
    inputs,
    optimizer_extension,
    step_guard,
    step_loop,
)
from kerasft.training.inputs import InvalidLabelError
from kerasft.training.step_guard import NonFiniteLossError
from kerasft.training.trainer_callback import TrainerCallback
from kerasft.training.training_config import TrainingConfig

__all__ = ["InvalidLabelError", "NonFiniteLossError", "Trainer"]

# evaluate() adds a confusion matrix only up to this many classes.
MAX_CONFUSION_MATRIX_CLASSES = 1000


class Trainer:
    """Trains, evaluates and predicts with a Keras model on TensorFlow.

    The same code runs on a CPU, one or many GPUs, several workers and TPUs:
    give it a `tf.distribute.Strategy` (or build the Trainer inside one's
    scope) and it creates the model (pass a function that builds it),
    optimizer and metrics under that scope and distributes the data.

    If the set of trainable variables changes between calls (a layer frozen
    or unfrozen, also from a callback at the start of an epoch), the Trainer
    notices and rebuilds its compiled steps, and extends the optimizer to
    newly trainable variables while keeping its state for the others.

    Args:
        model: a `keras.Model` whose outputs are logits (classification) or
            values (regression), or a function returning one (called under
            the strategy's scope).
        optimizer: `"sgd"`, `"adam"`, `"adamw"`, `"rmsprop"` or a
            `keras.optimizers.Optimizer`. Defaults to `"adam"`.
        loss: a loss name (`"sparse_categorical_crossentropy"`,
            `"categorical_crossentropy"`, `"binary_crossentropy"`, `"mse"`,
            `"mae"`, `"huber"`) or a `keras.losses.Loss`; classification
            losses take logits. Defaults to None: the model's
            `default_loss` where it names one (kerasft's text models do:
            binary cross-entropy for `MultiLabelClassifier`, MSE for
            `TextRegressor`, sparse cross-entropy ignoring label -100 for
            `TokenClassifier`), else `"sparse_categorical_crossentropy"`.
        metrics: list of names (`"accuracy"`, `"precision"`, `"recall"`,
            `"f1"`, `"micro_f1"`, `"macro_f1"`, `"exact_match"`, `"mae"`,
            `"mse"`, `"rmse"`, `"pearson"`, `"spearman"`) or
            `keras.metrics.Metric`s (e.g. `kerasft.training.EntityF1`);
            an instance is trained as given and evaluated by a fresh copy
            from its config. Classification metrics see probabilities, not
            logits.
        learning_rate: float or a Keras `LearningRateSchedule`, used with an
            optimizer name. Defaults to the optimizer's usual rate.
        strategy: a `tf.distribute.Strategy` (e.g. from
            `kerasft.get_strategy`). Defaults to the current one.

    Callbacks that need more than the model and the logs subclass
    `kerasft.training.TrainerCallback` and read the public surface:
    `global_step`, `train_iterator`, `train_dataset`, `compute_loss`,
    `is_chief`, `strategy`, `model`, `optimizer`, `config`,
    `metric_specs`.
        **config: `TrainingConfig` fields: `jit_compile`,
            `steps_per_execution`, `run_eagerly`, `average`, `batch_size`.

    Example:
    >>> import kerasft, numpy as np
    >>> x = np.random.rand(64, 8).astype("float32")
    >>> y = (x.sum(axis=1) > 4).astype("int64")
    >>> trainer = kerasft.Trainer(
    ...     kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=2),
    ...     optimizer="adam", metrics=["accuracy"])
    >>> history = trainer.fit(x, y, epochs=2, verbose=0)
    >>> sorted(trainer.evaluate(x, y))
    ['accuracy', 'confusion_matrix', 'loss']
    """

    def __init__(
        self,
        model,
        optimizer="adam",
        loss=None,
        metrics=None,
        learning_rate=None,
        strategy=None,
        **config,
    ):
        self.config = TrainingConfig.from_kwargs(**config)
        if loss is not None:  # checked before the model is built
            components.get_loss(loss)
        components.check_metric_names(metrics)
        self.strategy = strategy or tf.distribute.get_strategy()
        _check_jit_devices(self.strategy, self.config.jit_compile)
        with self.strategy.scope():
            if not isinstance(model, keras.Model) and callable(model):
                model = model()
            if not isinstance(model, keras.Model):
                raise TypeError(
                    "`model` must be a keras.Model or a function returning "
                    f"one. Received: model={model!r}"
                )
            self.model = model
            if loss is None:
                loss = (getattr(model, "default_loss", None)
                        or "sparse_categorical_crossentropy")
            self.loss, self.task = components.get_loss(loss)
            # mixed_float16 (the model's policy or the global one) needs
            # loss scaling; get_optimizer wraps in a LossScaleOptimizer.
            self.optimizer = components.get_optimizer(
                optimizer, learning_rate,
                loss_scale=_float16_policy(self.model) or None)
            steps = _accumulation_steps(self.optimizer, self.config)
            self._accumulator = (
                gradient_accumulator.GradientAccumulator(steps)
                if steps > 1 else None)
        self._metric_specs = list(metrics or ())
        self._train_metrics = None  # built once the output size is known
        self._eval_metrics = None
        self._train_function = None
        self._test_function = None
        self._predict_function = None
        self._trainable_key = None
        self._trainable_variables = []
        self._optimizer_variable_ids = set()
        self._label_check = None  # an inputs.LabelCheck, once built
        self._x_spec = None  # the features the model was built on
        self._train_iterator = None
        self.train_dataset = None  # the dataset `fit` is training on
        self._iterators = weakref.WeakKeyDictionary()  # see _epoch_iterator
        # Number of traces per function: tests assert it stays at 1.
        self.trace_counts = {"train": 0, "test": 0, "predict": 0}
        # Optimizer updates applied, counted on the host; with gradient
        # accumulation, `_cycle_position` is the batches into the current
        # update (the accumulator's count, mirrored on the host).
        self.global_step = 0
        self._cycle_position = 0

    # ------------------------------------------------- the public surface
    # What callbacks (TrainerCallback) and tools read; nothing else.
    @property
    def train_iterator(self):
        """The iterator `fit` reads the current epoch from (None before the
        first `fit`); a Checkpointer saves its position."""
        return self._train_iterator

    @property
    def is_chief(self):
        """True where this process writes logs and checkpoints (see
        `kerasft.distribute.is_chief`)."""
        return distribute.is_chief(self.strategy)

    @property
    def gradient_accumulator(self):
        """The `GradientAccumulator` (its `variables` are state to
        checkpoint), or None without gradient accumulation."""
        return self._accumulator

    @property
    def metric_specs(self):
        """The `metrics` given to the Trainer, as given (a tuple)."""
        return tuple(self._metric_specs)

    def compute_loss(self, y, y_pred, sample_weight=None, training=False):
        """Returns `(loss to differentiate, loss value for the metric)`.

        Inside a strategy, Keras' mean losses already divide the replica's
        mean by the number of replicas R, and the optimizer sums gradients
        over replicas: the gradient is that of the mean of the replicas'
        means, so nothing is divided twice here. That equals the mean over
        the global batch only when every replica holds as many examples;
        for training the loss is rescaled by R * local / global examples
        (one scalar all-reduce), so that an uneven batch (5 examples on 2
        replicas: 3 + 2) still weighs each example once. Regularization
        losses are divided by R (the gradient sum adds them back up once).
        The metric value is the replica's own mean plus regularization.

        Args:
            y: labels, `y_pred`: the model's outputs, `sample_weight`:
                optional weights, as a batch of `fit` yields them.
            training: bool. True inside the train step (adds the uneven-
                batch rescaling above, which needs a replica context).
        """
        y_pred = tf.cast(y_pred, "float32")  # logits may be bfloat16
        y = self._match_label_shape(y, y_pred)
        loss = self.loss(y, y_pred, sample_weight=sample_weight)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        reduction = getattr(self.loss, "reduction", None)
        mean = reduction in ("sum_over_batch_size", "mean",
                             "mean_with_sample_weight")
        value = loss * replicas if mean else loss
        if training and mean and replicas > 1:
            # What Keras divided the replica's sum by: examples, or the
            # sum of the sample weights. Shapes: scalars.
            if reduction == "mean_with_sample_weight" and (
                    sample_weight is not None):
                local = tf.reduce_sum(tf.cast(sample_weight, "float32"))
            else:
                local = tf.cast(tf.shape(y_pred)[0], "float32")
            total = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, local)
            loss = loss * tf.math.divide_no_nan(local * replicas, total)
        if self.model.losses:
            regularization = tf.add_n(
                [tf.cast(term, "float32") for term in self.model.losses]
            )
            loss += regularization / replicas
            value += regularization
        return loss, value

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose=1,
        callbacks=None,
        validation_data=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_freq=1,
    ):
        """Trains the model; returns a `keras.callbacks.History`.

        Every batch's labels are checked inside the compiled step: a label
        the loss cannot take stops training with an `InvalidLabelError`
        naming it and its batch, before that step is applied.

        Args:
            x: a `tf.data.Dataset` of `(features, labels)` or
                `(features, labels, sample_weights)` batches, or an array of
                features (then `y` holds the labels).
            y: labels when `x` is an array.
            batch_size: int. Batch size for arrays (None for a dataset).
                Defaults to the config's `batch_size`.
            epochs: int. Index of the last epoch.
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: list of `keras.callbacks.Callback`. With a
                `kerasft.Checkpointer`, `fit` resumes from its newest
                checkpoint (see there).
            validation_data: a dataset or an `(x, y)` tuple, evaluated
                every `validation_freq` epochs; its logs get a `val_` prefix.
            initial_epoch: int. Epoch to start from (for resuming).
            steps_per_epoch: int. Steps per epoch; needed for a dataset that
                repeats forever. Defaults to one pass over the data.
            validation_freq: int. Validate every N epochs.
        """
        check_int("epochs", epochs)
        check_int("initial_epoch", initial_epoch, minimum=0)
        check_optional_int("steps_per_epoch", steps_per_epoch)
        check_int("validation_freq", validation_freq)
        _check_verbose(verbose)
        callbacks = _check_callbacks(callbacks)
        dataset, val_dataset = self._fit_datasets(x, y, batch_size,
                                                  validation_data)
        steps = self._steps_per_epoch(dataset, steps_per_epoch)
        callback_list = keras.callbacks.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0,
            model=self.model, verbose=verbose, epochs=epochs, steps=steps)
        # Callbacks such as LearningRateScheduler read model.optimizer.
        self.model.optimizer = self.optimizer
        self.model.stop_training = False
        initial_epoch, initial_step, resuming = self._attach(
            callback_list, dataset, initial_epoch)
        callback_list.on_train_begin()
        if steps_per_epoch is not None:
            # The user's dataset repeats: one iterator across epochs.
            iterator = iter(self._distribute(dataset))
        logs = {}
        for epoch in range(initial_epoch, epochs):
            for metric in self._train_metrics:
                metric.reset_state()
            callback_list.on_epoch_begin(epoch)
            # After on_epoch_begin: a callback may have (un)frozen layers.
            self._sync_trainable_variables()
            if steps_per_epoch is None:
                iterator = self._epoch_iterator(dataset, steps)
            self._train_iterator = iterator
            start = 0
            if resuming is not None:
                # Optimizer (extended to this epoch's trainable set above)
                # and data position; then skip the steps already done.
                resuming.restore_data(iterator)
                start, resuming = initial_step, None
            step, logs = self._train_epoch(epoch, iterator, steps, start,
                                           callback_list, logs)
            if step == 0 and steps_per_epoch is not None:
                raise ValueError(
                    "The training dataset ran out of batches at the start "
                    f"of epoch {epoch + 1}. Received: steps_per_epoch="
                    f"{steps_per_epoch}; make the dataset repeat "
                    "(dataset.repeat()) or lower steps_per_epoch."
                )
            if steps is not None and step == steps:
                self._release_iterator(dataset, iterator)
            if val_dataset is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate(val_dataset, include_matrix=False,
                                          role="validation_data")
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, logs)
            if self.model.stop_training:
                break
        # As in keras.Model.fit: an optimizer with use_ema=True swaps the
        # moving averages into the weights at the end of training.
        self.optimizer.finalize_variable_values(self._trainable_variables)
        callback_list.on_train_end(logs)
        self.train_dataset = None
        return self.model.history

    def _fit_datasets(self, x, y, batch_size, validation_data):
        """The training and validation datasets, built on and checked."""
        dataset = self._as_dataset(x, y, batch_size, shuffle=True, role="x")
        val_dataset = None
        if validation_data is not None:
            # `batch_size` is for arrays: a validation dataset is batched.
            val_dataset = inputs.as_validation_dataset(
                validation_data,
                None if isinstance(validation_data, tf.data.Dataset)
                else self._array_batch_size(None, batch_size))
        self._build(dataset)
        self._check_labels(dataset, "x")
        if val_dataset is not None:
            self._build(val_dataset, "validation_data")
            self._check_labels(val_dataset, "validation_data")
        return dataset, val_dataset

    @staticmethod
    def _steps_per_epoch(dataset, steps_per_epoch):
        """Steps per epoch: given, the dataset's length, or None (unknown)."""
        if steps_per_epoch is not None:
            return steps_per_epoch
        steps = int(dataset.cardinality())
        if steps == tf.data.INFINITE_CARDINALITY:
            raise ValueError(
                "The training dataset repeats forever, so `steps_per_epoch` "
                "is needed. Received: steps_per_epoch=None"
            )
        return None if steps < 0 else steps

    def _attach(self, callback_list, dataset, initial_epoch):
        """Hands the Trainer to its TrainerCallbacks; returns where to
        start: `(epoch, step, the callback resuming or None)`.

        TensorBoardLogger reads the global step, the strategy and one batch
        of `train_dataset` (dropped at the end of fit: it can hold a copy
        of in-memory arrays); a callback that can resume a run (a
        Checkpointer) restores weights, step counts and random state now,
        the rest at the resumed epoch (`restore_data`).
        """
        self.train_dataset = dataset
        trainer_callbacks = [c for c in callback_list.callbacks
                             if isinstance(c, TrainerCallback)]
        for callback in trainer_callbacks:
            callback.set_trainer(self)
        position = (initial_epoch, 0, None)
        for callback in trainer_callbacks:
            resumed = callback.resume_position(initial_epoch)
            if resumed is not None:
                position = (*resumed, callback)
        return position

    def _train_epoch(self, epoch, iterator, steps, start, callback_list,
                     logs):
        """Runs one epoch's steps; returns `(steps done, logs)`.

        Stops at an unsound step: a bad label raises `InvalidLabelError`
        before the callbacks see it; a non-finite loss or gradient goes to
        the callbacks first (TerminateOnNaN may stop quietly), then raises
        `NonFiniteLossError`.
        """
        step = start
        if self._accumulator is not None:
            # Where the accumulation cycle stands (a resumed run restored
            # the accumulator's variables).
            self._cycle_position = self._accumulator.position()
        for call in step_loop.calls(
                self._get_train_function(), iterator, steps,
                self.config.steps_per_execution, start=start,
                on_call_begin=callback_list.on_train_batch_begin):
            step = call.step
            status = call.status
            # The last step of the call may be unsound: not applied.
            self._count_updates(call.steps_run - (0 if status.ok else 1))
            if not status.ok:
                if not status.labels_ok:
                    raise self._label_check.error(
                        status.bad_label, "x",
                        self._where(epoch, step, training=True))
            logs = self._to_python(call.outputs["logs"])
            logs["learning_rate"] = self._current_learning_rate()
            callback_list.on_train_batch_end(step - 1, logs)
            if not status.ok:
                if self.model.stop_training:
                    break  # e.g. TerminateOnNaN asked to stop quietly.
                raise step_guard.non_finite_error(
                    status, self._trainable_variables,
                    f"at step {self.global_step + 1} (epoch {epoch + 1}, "
                    f"batch {step})", self.global_step)
            if self.model.stop_training:
                break
        return step, dict(logs)

    def _count_updates(self, batches):
        """Advances `global_step` by the updates `batches` sound batches
        made (one per batch without accumulation)."""
        steps = self.config.gradient_accumulation_steps
        position = self._cycle_position + batches
        self.global_step += position // steps
        self._cycle_position = position % steps

    def _where(self, epoch, step, training):
        """Where a bad batch was met, for messages."""
        if training:
            return (f"batch {step} of epoch {epoch + 1} (step "
                    f"{self.global_step + 1}); training stopped before that "
                    f"step, the model keeps the weights after step "
                    f"{self.global_step}")
        return f"batch {step} of the evaluation data"

    # ------------------------------------------------------------- evaluate
    def evaluate(self, x=None, y=None, batch_size=None, verbose=0,
                 callbacks=None):
        """Evaluates the model; returns a dict of metric values.

        Classification tasks also get `"confusion_matrix"`: a NumPy array
        `(num_classes, num_classes)`, rows = true classes (not for outputs
        of rank > 2, such as masked-LM logits, nor above
        `MAX_CONFUSION_MATRIX_CLASSES` classes).

        Args:
            x: a dataset of `(features, labels)` batches, or features.
            y: labels when `x` is an array.
            batch_size: int. Batch size for arrays (None for a dataset).
            verbose: 0 silent, 1 progress bar.
            callbacks: list of `keras.callbacks.Callback` (test hooks).
        """
        _check_verbose(verbose)
        callbacks = _check_callbacks(callbacks)
        dataset = self._as_dataset(x, y, batch_size, shuffle=False, role="x")
        self._build(dataset)
        self._check_labels(dataset, "x")
        return self._evaluate(dataset, include_matrix=True, verbose=verbose,
                              callbacks=callbacks, role="x")

    def _evaluate(self, dataset, include_matrix, verbose=0, callbacks=None,
                  role="x"):
        steps = int(dataset.cardinality())
        steps = steps if steps >= 0 else None
        callback_list = keras.callbacks.CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self.model,
            verbose=verbose,
            epochs=1,
            steps=steps,
        )
        for metric in self._eval_metrics:
            metric.reset_state()
        iterator = self._epoch_iterator(dataset, steps)
        callback_list.on_test_begin()
        step, logs = 0, {}
        for call in step_loop.calls(
                self._get_test_function(), iterator, steps,
                self.config.steps_per_execution,
                on_call_begin=callback_list.on_test_batch_begin):
            step = call.step
            status = call.status
            if not status.labels_ok:
                raise self._label_check.error(
                    status.bad_label, role,
                    self._where(0, step, training=False))
            logs = call.outputs["logs"]
            callback_list.on_test_batch_end(step - 1, self._to_python(logs))
        if step == 0:
            raise ValueError("The evaluation dataset is empty: no batches.")
        if steps is not None and step == steps:
            self._release_iterator(dataset, iterator)
        results = self._to_python(logs)
        callback_list.on_test_end(results)
        if include_matrix and "confusion_matrix" in logs:
            results["confusion_matrix"] = logs["confusion_matrix"].numpy()
        return results

    # -------------------------------------------------------------- predict
    def predict(self, x, batch_size=None, verbose=0):
        """Returns the model's outputs (logits for classifiers) as NumPy.

        Args:
            x: a dataset of features or `(features, labels)` batches, or an
                array of features.
            batch_size: int. Batch size for arrays (None for a dataset).
            verbose: unused; kept for Keras' signature.
        """
        _check_verbose(verbose)
        dataset = self._as_dataset(x, None, batch_size, shuffle=False,
                                   role="x", labels_required=False)
        self._build(dataset)
        predict_function = self._get_predict_function()
        outputs = []
        for batch in self._distribute(dataset):
            outputs.append(predict_function(batch))
        if not outputs:
            raise ValueError("The prediction dataset is empty: no batches.")
        return keras.tree.map_structure(
            lambda *parts: np.concatenate(parts, axis=0), *outputs
        )

    # ------------------------------------------------------------ the steps
    def _train_step(self, data):
        x, y, sample_weight = inputs.unpack(data)
        y, labels_ok, bad_label = self._label_check.in_step(y)
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss, loss_value = self.compute_loss(y, y_pred, sample_weight,
                                                 training=True)
            # LossScaleOptimizer (mixed_float16) scales; others pass through.
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self._trainable_variables)
        applied, gradient_index = step_guard.apply_if_sound(
            self.optimizer, gradients, self._trainable_variables, loss,
            labels_ok, accumulator=self._accumulator)
        self._update_metrics(self._train_metrics, x, y, y_pred, sample_weight,
                             loss_value)
        return {"ok": applied, "labels_ok": labels_ok,
                "bad_label": bad_label,
                "loss": tf.cast(loss_value, "float32"),
                "labels_finite": _all_finite(y),
                "gradient_index": gradient_index}

    def _test_step(self, data):
        x, y, sample_weight = inputs.unpack(data)
        y, labels_ok, bad_label = self._label_check.in_step(y)
        y_pred = self.model(x, training=False)
        _, loss_value = self.compute_loss(y, y_pred, sample_weight)
        self._update_metrics(self._eval_metrics, x, y, y_pred, sample_weight,
                             loss_value)
        ok = labels_ok
        if self._multi_replica():
            # Every replica stops at the same step (workers would wait on
            # each other's metric reads otherwise).
            bad = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM,
                tf.cast(tf.logical_not(labels_ok), "int32"))
            ok = tf.equal(bad, 0)
        return {"ok": ok, "labels_ok": labels_ok, "bad_label": bad_label,
                "loss": tf.cast(loss_value, "float32"),
                "labels_finite": _all_finite(y),
                "gradient_index": tf.constant(-1, "int32")}

    def _update_metrics(self, metrics, x, y, y_pred, sample_weight,
                        loss_value):
        y_pred = tf.cast(y_pred, "float32")
        y = self._match_label_shape(y, y_pred)
        batch_size = tf.shape(keras.tree.flatten(x)[0])[0]
        metrics[0].update_state(loss_value, sample_weight=batch_size)
        # Metrics see probabilities: Keras' BinaryAccuracy and friends
        # threshold at 0.5, which is wrong for logits.
        if self.task in ("sparse", "categorical"):
            probabilities = tf.nn.softmax(y_pred, axis=-1)
        elif self.task == "binary":
            probabilities = tf.sigmoid(y_pred)
        else:
            probabilities = y_pred
        for metric in metrics[1:]:
            metric.update_state(y, probabilities, sample_weight=sample_weight)

    def _match_label_shape(self, y, y_pred):
        # (batch,) labels against (batch, 1) outputs would broadcast to
        # (batch, batch) in a few Keras metrics: give them the same rank.
        if self.task in ("binary", "regression") and y_pred.shape.rank == 2:
            if y.shape.rank == 1 and y_pred.shape[-1] == 1:
                y = tf.expand_dims(y, -1)
        if self.task != "sparse":
            y = tf.cast(y, "float32")
        return y

    # ---------------------------------------------- compiled step functions
    def _step_function(self, kind):
        def count_trace():
            self.trace_counts[kind] += 1

        return step_loop.compile_steps(
            self._train_step if kind == "train" else self._test_step,
            self.strategy,
            self._train_metrics if kind == "train" else self._eval_metrics,
            jit_compile=self.config.jit_compile,
            run_eagerly=self.config.run_eagerly,
            on_trace=count_trace,
        )

    def _get_train_function(self):
        if self._train_function is None:
            self._train_function = self._step_function("train")
        return self._train_function

    def _get_test_function(self):
        if self._test_function is None:
            self._test_function = self._step_function("test")
        return self._test_function

    def _get_predict_function(self):
        if self._predict_function is None:
            strategy = self.strategy

            def predict_step(data):
                x, _, _ = inputs.unpack(data) if isinstance(
                    data, tuple) else (data, None, None)
                return self.model(x, training=False)

            def predict_function(data):
                self.trace_counts["predict"] += 1
                outputs = strategy.run(predict_step, args=(data,))
                return keras.tree.map_structure(
                    lambda t: tf.concat(
                        strategy.experimental_local_results(t), axis=0),
                    outputs,
                )

            self._predict_function = (
                predict_function if self.config.run_eagerly
                else tf.function(predict_function, reduce_retracing=True)
            )
        return self._predict_function

    # ------------------------------------------------ trainable variables
    def _sync_trainable_variables(self):
        """Rebuilds the steps (and extends the optimizer) on a change."""
        variables = self.model.trainable_variables
        key = tuple(id(v) for v in variables)
        if key == self._trainable_key:
            return
        if not variables:
            raise ValueError(
                "The model has no trainable variables: every layer is "
                "frozen. Unfreeze some layers (kerasft.unfreeze) before fit."
            )
        self._trainable_key = key
        self._trainable_variables = variables
        self._train_function = None  # retrace with the new variable list
        new_ids = set(key) - self._optimizer_variable_ids
        if not new_ids:
            return
        with self.strategy.scope():
            if not self.optimizer.built:
                self.optimizer.build(variables)
            else:
                self._extend_optimizer(variables)
            if self._accumulator is not None:
                self._accumulator.build(variables)
        self._optimizer_variable_ids |= set(key)

    def _extend_optimizer(self, variables):
        known = [v for v in self._all_optimizer_targets if id(v) in
                 self._optimizer_variable_ids]
        union = known + [v for v in variables
                         if id(v) not in self._optimizer_variable_ids]
        self.optimizer = optimizer_extension.extended(self.optimizer, union)
        self.model.optimizer = self.optimizer
        self._all_optimizer_targets = union

    def _build(self, dataset, role="x"):
        """Builds model, metrics and optimizer from the data's spec."""
        x_spec, _, _ = inputs.unpack(dataset.element_spec)
        inputs.check_numeric(x_spec)
        if self._train_metrics is not None:
            inputs.check_same_features(self._x_spec, x_spec, self.model, role)
            return
        self._x_spec = x_spec
        with self.strategy.scope():
            # A forward pass on one zero example creates the weights of a
            # subclassed model, checks the features against the model, and
            # its output gives the number of classes.
            outputs = inputs.call_on_spec(self.model, x_spec)
            num_outputs = int(keras.tree.flatten(outputs)[0].shape[-1])
            self.num_outputs = num_outputs
            self._label_check = inputs.LabelCheck(
                self.task, num_outputs,
                getattr(self.loss, "ignore_class", None))
            self._check_token_metrics(outputs)
            self._train_metrics = [keras.metrics.Mean(name="loss")]
            self._train_metrics += components.get_metrics(
                self._metric_specs, self.task, num_outputs, self.config.average
            )
            self._eval_metrics = [keras.metrics.Mean(name="loss")]
            # A metric instance cannot count training and evaluation at
            # once: evaluation gets a fresh copy built from its config.
            self._eval_metrics += components.get_metrics(
                [m if isinstance(m, str) else type(m).from_config(
                    m.get_config()) for m in self._metric_specs],
                self.task, num_outputs, self.config.average,
            )
            num_classes = 2 if self.task == "binary" else num_outputs
            # No confusion matrix for per-token outputs (batch, tokens,
            # classes), e.g. masked-LM logits, nor for a vocabulary-sized
            # output: 30k classes would be a 30k x 30k matrix (3.6 GB).
            output_rank = len(keras.tree.flatten(outputs)[0].shape)
            # Nor for multi-label outputs: a 2x2 matrix would mix labels.
            multi_label = self.task == "binary" and num_outputs > 1
            if (self.task != "regression" and output_rank <= 2
                    and not multi_label
                    and num_classes <= MAX_CONFUSION_MATRIX_CLASSES):
                self._eval_metrics.append(
                    classification_metrics.ConfusionMatrix(num_classes))
        self._all_optimizer_targets = list(self.model.trainable_variables)
        self._sync_trainable_variables()

    def _check_token_metrics(self, outputs):
        # Per-token outputs whose labels hold an ignored value (-100): the
        # named metrics would count those positions as a class.
        ignore = getattr(self.loss, "ignore_class", None)
        rank = len(keras.tree.flatten(outputs)[0].shape)
        named = [m for m in self._metric_specs if isinstance(m, str)]
        if ignore is not None and rank > 2 and named:
            raise ValueError(
                f"Named metrics do not skip the ignored label {ignore} of "
                "per-token outputs (batch, seq_len, num_tags). Received: "
                f"metrics={named!r}. Pass metric instances that do, e.g. "
                "kerasft.EntityF1(tag_names)."
            )

    # --------------------------------------------------------------- input
    def _as_dataset(self, x, y, batch_size, shuffle, role,
                    labels_required=True):
        return inputs.as_dataset(
            x, y, self._array_batch_size(x, batch_size), shuffle, role,
            labels_required)

    def _array_batch_size(self, x, batch_size):
        # The config's default applies to arrays only; a batch_size given
        # with a dataset is refused by inputs.as_dataset.
        if batch_size is None and not isinstance(x, tf.data.Dataset):
            return self.config.batch_size
        return batch_size

    def _check_labels(self, dataset, role):
        self._label_check.check_dataset(dataset, role)

    def _epoch_iterator(self, dataset, steps):
        """An iterator positioned at the start of an epoch of `dataset`.

        `iter()` on a dataset costs ~0.1 s when it embeds in-memory arrays
        (tf.data rewrites and optimizes its graph each time), which is a
        large share of a short epoch. For a dataset of known length the
        Trainer keeps one iterator over `dataset.repeat()` and takes exactly
        `steps` batches per epoch; shuffling and augmentation still change
        every epoch, as `repeat` re-runs them. An epoch that ends early
        (an error, stop_training) drops that iterator: the next starts anew.
        """
        if steps is None:
            return iter(self._distribute(dataset))
        iterator = self._iterators.pop(dataset, None)
        if iterator is None:
            iterator = iter(self._distribute(dataset.repeat()))
        return iterator

    def _release_iterator(self, dataset, iterator):
        """Keeps an iterator that finished a whole epoch for the next one."""
        self._iterators[dataset] = iterator

    def _multi_replica(self):
        return self.strategy.num_replicas_in_sync > 1 or isinstance(
            self.strategy, tf.distribute.TPUStrategy)

    def _distribute(self, dataset):
        if not self._multi_replica():
            return dataset
        return self.strategy.experimental_distribute_dataset(dataset)

    # ---------------------------------------------------------------- misc
    def _current_learning_rate(self):
        # Under a strategy the rate is a MirroredVariable, which float()
        # does not take; reading it as a tensor does.
        return float(tf.convert_to_tensor(self.optimizer.learning_rate))

    @staticmethod
    def _to_python(logs):
        return {
            name: float(value)
            for name, value in logs.items()
            if getattr(value, "shape", ()) == ()
        }


def _accumulation_steps(optimizer, config):
    """The batches per update: the Trainer's setting, or a Keras
    optimizer's own `gradient_accumulation_steps`, which the Trainer runs
    itself (see `gradient_accumulator` for why) and turns off in Keras."""
    inner = (optimizer.inner_optimizer if isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer) else optimizer)
    steps = config.gradient_accumulation_steps
    keras_steps = getattr(inner, "gradient_accumulation_steps", None)
    if not keras_steps:
        return steps
    if steps not in (1, keras_steps):
        raise ValueError(
            "The optimizer's own `gradient_accumulation_steps` and the "
            "Trainer's differ. Received: optimizer gradient_accumulation_"
            f"steps={keras_steps}, Trainer gradient_accumulation_steps="
            f"{steps}. Set one of them."
        )
    if inner.built:
        raise ValueError(
            "The optimizer was built with gradient_accumulation_steps="
            f"{keras_steps}; the Trainer runs accumulation itself and needs "
            "an optimizer that is not built yet. Pass a new optimizer, or "
            "gradient_accumulation_steps to the Trainer."
        )
    inner.gradient_accumulation_steps = None
    return keras_steps


def _float16_policy(model):
    policy = getattr(model, "dtype_policy", None)
    return getattr(policy, "name", None) == "mixed_float16"


def _check_jit_devices(strategy, jit_compile):
    """XLA steps with several replicas need GPUs or TPUs.

    Mirrored strategies sum gradients across CPU replicas with a merge_call,
    which TF cannot run inside the XLA-compiled step (it fails deep in the
    first step); on GPUs they use collectives XLA can hold, and TPUStrategy
    compiles the whole step itself.
    """
    if not jit_compile or strategy.num_replicas_in_sync == 1 or isinstance(
            strategy, tf.distribute.TPUStrategy):
        return
    devices = list(strategy.extended.worker_devices)
    if not all("GPU" in device.upper() for device in devices):
        raise ValueError(
            "`jit_compile=True` with several replicas needs GPU or TPU "
            "devices: TensorFlow cannot compile the cross-replica gradient "
            f"sum of {type(strategy).__name__} over CPU devices with XLA. "
            f"Received: jit_compile=True, devices={devices}. Use "
            "jit_compile=False, or one replica."
        )



def _check_verbose(verbose):
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(
            f"`verbose` must be 0 (silent), 1 (progress bar) or 2 (one line "
            f"per epoch). Received: verbose={verbose!r}"
        )


def _check_callbacks(callbacks):
    if callbacks is None:
        return None
    if isinstance(callbacks, keras.callbacks.Callback):
        raise TypeError(
            "`callbacks` must be a list of keras.callbacks.Callback. "
            f"Received: one callback, {type(callbacks).__name__}; pass "
            "[callback]"
        )
    if not isinstance(callbacks, (list, tuple)) or not all(
            isinstance(c, keras.callbacks.Callback) for c in callbacks):
        received = ([type(c).__name__ for c in callbacks]
                    if isinstance(callbacks, (list, tuple))
                    else type(callbacks).__name__)
        raise TypeError(
            "`callbacks` must be a list of keras.callbacks.Callback. "
            f"Received: {received}"
        )
    return list(callbacks)


def _all_finite(y):
    """True when labels `y` hold no NaN/inf (a scalar bool tensor)."""
    if y is None or not y.dtype.is_floating:
        return tf.constant(True)
    return tf.reduce_all(tf.math.is_finite(y))
