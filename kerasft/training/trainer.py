"""The Trainer: a custom `tf.GradientTape` loop with Keras' surface.

One step is a straight block: forward under the tape, loss (plus the
model's regularization losses), gradients over the trainable variables,
apply, update metrics. A loop around it runs `steps_per_execution` steps
inside one `tf.function` call, pulling batches from the iterator inside the
graph, and the host reads metrics once per call: no `.numpy()` in the step,
no per-step host sync, no retrace on the last short batch (the function is
traced on the iterator's spec, whose batch dimension is `None`).
"""

import weakref

import keras
import numpy as np
import tensorflow as tf

from kerasft.training import classification_metrics, components
from kerasft.training.checkpointer import Checkpointer
from kerasft.training.training_config import TrainingConfig

# evaluate() adds a confusion matrix only up to this many classes.
MAX_CONFUSION_MATRIX_CLASSES = 1000


class NonFiniteLossError(FloatingPointError):
    """Raised when the loss becomes NaN or infinite during `fit`.

    The step that produced it is not applied, so the model keeps the weights
    of the last good step.
    """


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
        self.config = TrainingConfig(**config)
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
        self._metric_specs = list(metrics or ())
        self._train_metrics = None  # built once the output size is known
        self._eval_metrics = None
        self._train_function = None
        self._test_function = None
        self._predict_function = None
        self._trainable_key = None
        self._trainable_variables = []
        self._optimizer_variable_ids = set()
        self._checked_datasets = weakref.WeakSet()
        self._iterators = weakref.WeakKeyDictionary()  # see _epoch_iterator
        # Number of traces per function: tests assert it stays at 1.
        self.trace_counts = {"train": 0, "test": 0, "predict": 0}
        self.global_step = 0  # optimizer steps applied, counted on the host

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

        Args:
            x: a `tf.data.Dataset` of `(features, labels)` or
                `(features, labels, sample_weights)` batches, or an array of
                features (then `y` holds the labels).
            y: labels when `x` is an array.
            batch_size: int. Batch size for arrays. Defaults to the
                config's `batch_size`.
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
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(
                f"`epochs` must be an int >= 1. Received: epochs={epochs!r}"
            )
        dataset = self._as_dataset(x, y, batch_size, shuffle=True, role="x")
        val_dataset = None
        if validation_data is not None:
            val_dataset = self._as_validation_dataset(validation_data,
                                                      batch_size)
        self._build(dataset)
        self._check_labels(dataset, "x")
        if val_dataset is not None:
            self._check_labels(val_dataset, "validation_data")
        if steps_per_epoch is None:
            steps = int(dataset.cardinality())
            if steps == tf.data.INFINITE_CARDINALITY:
                raise ValueError(
                    "The training dataset repeats forever, so "
                    "`steps_per_epoch` is needed. Received: "
                    "steps_per_epoch=None"
                )
            steps = None if steps < 0 else steps
        else:
            steps = steps_per_epoch
        callback_list = keras.callbacks.CallbackList(
            callbacks,
            add_history=True,
            add_progbar=verbose != 0,
            model=self.model,
            verbose=verbose,
            epochs=epochs,
            steps=steps,
        )
        # Callbacks such as LearningRateScheduler read model.optimizer.
        self.model.optimizer = self.optimizer
        self.model.stop_training = False
        # A Checkpointer resumes from its newest checkpoint: weights, step
        # counts and random state now, the rest at the resumed epoch.
        initial_step, resuming = 0, None
        for callback in callback_list.callbacks:
            if isinstance(callback, Checkpointer):
                initial_epoch, initial_step = callback.resume(
                    self, initial_epoch)
                resuming = callback
        # kerasft callbacks that need the Trainer itself (TensorBoardLogger:
        # global step, strategy, one batch of `train_dataset` for gradient
        # histograms) get it here. Dropped at the end: it can hold a copy
        # of in-memory arrays.
        self.train_dataset = dataset
        for callback in callback_list.callbacks:
            if hasattr(callback, "set_trainer"):
                callback.set_trainer(self)
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
            train_function = self._get_train_function()
            if steps_per_epoch is None:
                iterator = self._epoch_iterator(dataset, steps)
            self._train_iterator = iterator  # saved by a Checkpointer
            step = 0
            if resuming is not None:
                # Optimizer (extended to this epoch's trainable set above)
                # and data position; then skip the steps already done.
                resuming.restore_data(iterator)
                step, initial_step, resuming = initial_step, 0, None
            while steps is None or step < steps:
                remaining = self.config.steps_per_execution
                if steps is not None:
                    remaining = min(remaining, steps - step)
                callback_list.on_train_batch_begin(step)
                outputs = train_function(iterator, tf.constant(remaining))
                steps_run = int(outputs["steps"])  # the call's one host sync
                if steps_run == 0:
                    break
                step += steps_run
                self.global_step += steps_run
                logs = self._to_python(outputs["logs"])
                finite = bool(outputs["finite"])
                if not finite:
                    # The bad step was counted but not applied.
                    self.global_step -= 1
                logs["learning_rate"] = self._current_learning_rate()
                callback_list.on_train_batch_end(step - 1, logs)
                if not finite:
                    if self.model.stop_training:
                        break  # e.g. TerminateOnNaN asked to stop quietly.
                    raise NonFiniteLossError(
                        f"The loss became {logs.get('loss')} at step "
                        f"{self.global_step + 1} (epoch {epoch + 1}, batch "
                        f"{step}). Training stopped; the model keeps the "
                        f"weights after step {self.global_step}. Lower the "
                        "learning rate, check the inputs for NaN/inf, or "
                        "clip gradients (e.g. optimizer clipnorm=1.0)."
                    )
                if self.model.stop_training:
                    break
                if steps_run < remaining:
                    break  # the iterator ran dry inside the call
            if step == 0 and steps_per_epoch is not None:
                raise ValueError(
                    "The training dataset ran out of batches at the start "
                    f"of epoch {epoch + 1}. Received: steps_per_epoch="
                    f"{steps_per_epoch}; make the dataset repeat "
                    "(dataset.repeat()) or lower steps_per_epoch."
                )
            if steps is not None and step == steps:
                self._release_iterator(dataset, iterator)
            epoch_logs = dict(logs)
            if val_dataset is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate(val_dataset, include_matrix=False)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            logs = epoch_logs
            if self.model.stop_training:
                break
        # As in keras.Model.fit: an optimizer with use_ema=True swaps the
        # moving averages into the weights at the end of training.
        self.optimizer.finalize_variable_values(self._trainable_variables)
        callback_list.on_train_end(logs)
        self.train_dataset = None
        return self.model.history

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
            batch_size: int. Batch size for arrays.
            verbose: 0 silent, 1 progress bar.
            callbacks: list of `keras.callbacks.Callback` (test hooks).
        """
        dataset = self._as_dataset(x, y, batch_size, shuffle=False, role="x")
        self._build(dataset)
        self._check_labels(dataset, "x")
        return self._evaluate(dataset, include_matrix=True, verbose=verbose,
                              callbacks=callbacks)

    def _evaluate(self, dataset, include_matrix, verbose=0, callbacks=None):
        steps = int(dataset.cardinality())
        callback_list = keras.callbacks.CallbackList(
            callbacks,
            add_progbar=verbose != 0,
            model=self.model,
            verbose=verbose,
            epochs=1,
            steps=steps if steps >= 0 else None,
        )
        for metric in self._eval_metrics:
            metric.reset_state()
        test_function = self._get_test_function()
        steps = steps if steps >= 0 else None
        iterator = self._epoch_iterator(dataset, steps)
        callback_list.on_test_begin()
        step = 0
        logs = {}
        while steps is None or step < steps:
            remaining = self.config.steps_per_execution
            if steps is not None:
                remaining = min(remaining, steps - step)
            callback_list.on_test_batch_begin(step)
            outputs = test_function(iterator, tf.constant(remaining))
            steps_run = int(outputs["steps"])
            if steps_run == 0:
                break
            step += steps_run
            logs = outputs["logs"]
            callback_list.on_test_batch_end(step - 1, self._to_python(logs))
            if steps_run < remaining:
                break
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
            batch_size: int. Batch size for arrays.
            verbose: unused; kept for Keras' signature.
        """
        del verbose
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
        x, y, sample_weight = _unpack(data)
        with tf.GradientTape() as tape:
            y_pred = self.model(x, training=True)
            loss, loss_value = self._compute_loss(y, y_pred, sample_weight,
                                                  training=True)
            # LossScaleOptimizer (mixed_float16) scales; others pass through.
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self._trainable_variables
        gradients = tape.gradient(scaled_loss, variables)

        # Skip the update when the loss or any gradient is NaN/inf.
        norm = tf.linalg.global_norm(
            [g for g in gradients if g is not None])
        context = tf.distribute.get_replica_context()
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            # float16 loss scaling: scaled gradients that overflow are
            # normal; the LossScaleOptimizer skips that step and halves its
            # scale. Only a non-finite (unscaled) loss is an error.
            ok = tf.math.is_finite(loss)
            if self._multi_replica():
                # Keras' LossScaleOptimizer decides on replica 0's local
                # gradients; an overflow on another replica would reach the
                # weights through the all-reduce. Make every replica see it.
                overflow = context.all_reduce(
                    tf.distribute.ReduceOp.SUM,
                    tf.cast(tf.logical_not(tf.math.is_finite(norm)), "int32"))
                poison = tf.where(tf.equal(overflow, 0), 1.0, float("nan"))
                gradients = [None if g is None else g * tf.cast(poison, g.dtype)
                             for g in gradients]
        else:
            ok = tf.math.is_finite(loss) & tf.math.is_finite(norm)
        # All replicas must agree, or some would skip the all-reduce in
        # apply() and hang the others.
        bad = tf.cast(tf.logical_not(ok), "int32")
        bad = context.all_reduce(tf.distribute.ReduceOp.SUM, bad)
        finite = tf.equal(bad, 0)

        if self.config.jit_compile or self._multi_replica():
            # With several replicas a cond cannot hold the update: the
            # optimizer's gradient all-reduce is a merge_call, which TF does
            # not allow inside control flow.
            # Under XLA a cond around the update is slow: XLA moves the work
            # that feeds only one branch into it, where it loses its fast
            # kernels (15x slower for the conv model, 2.6x for BERT on this
            # CPU). Apply always, then keep the old values of the weights
            # and optimizer state (step count, moments) where the step is
            # bad: one fused select per element.
            guarded = list(variables) + list(self.optimizer.variables)
            before = [tf.convert_to_tensor(v) for v in guarded]
            self.optimizer.apply(gradients, variables)
            for variable, old in zip(guarded, before):
                variable.assign(tf.where(finite, variable, old))
        else:

            def apply():
                self.optimizer.apply(gradients, variables)
                return tf.constant(True)

            tf.cond(finite, apply, lambda: tf.constant(False))
        self._update_metrics(self._train_metrics, x, y, y_pred, sample_weight,
                             loss_value)
        return finite

    def _test_step(self, data):
        x, y, sample_weight = _unpack(data)
        y_pred = self.model(x, training=False)
        _, loss_value = self._compute_loss(y, y_pred, sample_weight)
        self._update_metrics(self._eval_metrics, x, y, y_pred, sample_weight,
                             loss_value)
        return tf.constant(True)

    def _compute_loss(self, y, y_pred, sample_weight, training=False):
        """Returns (loss to differentiate, loss value for the metric).

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
    def _multi_step_function(self, step_function, kind):
        """Wraps a per-replica step in a loop of up to `num_steps` steps."""
        if self.config.jit_compile and not self.config.run_eagerly:
            step_function = tf.function(step_function, jit_compile=True,
                                        reduce_retracing=True)
        strategy = self.strategy
        metrics = (self._train_metrics if kind == "train"
                   else self._eval_metrics)

        def one_step(data):
            finite = strategy.run(step_function, args=(data,))
            return strategy.experimental_local_results(finite)[0]

        def multi_step(iterator, num_steps):
            self.trace_counts[kind] += 1  # runs only while tracing
            steps = tf.constant(0)
            finite = tf.constant(True)
            for _ in tf.range(num_steps):
                optional = iterator.get_next_as_optional()
                if not optional.has_value():
                    break
                finite = one_step(optional.get_value())
                steps += 1
                if not finite:
                    break
            # Read in the cross-replica context: on-read metric variables
            # are summed over replicas here.
            logs = {metric.name: metric.result() for metric in metrics}
            return {"steps": steps, "finite": finite, "logs": logs}

        if self.config.run_eagerly:
            return multi_step
        return tf.function(multi_step, reduce_retracing=True)

    def _get_train_function(self):
        if self._train_function is None:
            self._train_function = self._multi_step_function(
                self._train_step, "train")
        return self._train_function

    def _get_test_function(self):
        if self._test_function is None:
            self._test_function = self._multi_step_function(
                self._test_step, "test")
        return self._test_function

    def _get_predict_function(self):
        if self._predict_function is None:
            strategy = self.strategy

            def predict_step(data):
                x, _, _ = _unpack(data) if isinstance(data, tuple) else (
                    data, None, None)
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
        self._optimizer_variable_ids |= set(key)

    def _extend_optimizer(self, variables):
        """Rebuilds the optimizer over old + new variables, keeping state.

        Keras 3 optimizers only update the variables they were built with
        and have no public way to add some, so a new optimizer of the same
        config is built over the union and the old one's variables (the
        step count, moments of already-trained weights) are copied over by
        path, which is derived from the optimizer's and the weight's names.
        """
        old = self.optimizer
        known = [v for v in self._all_optimizer_targets if id(v) in
                 self._optimizer_variable_ids]
        union = known + [v for v in variables
                         if id(v) not in self._optimizer_variable_ids]
        new = old.__class__.from_config(old.get_config())
        # exclude_from_weight_decay() is not part of the config.
        for name in ("_exclude_from_weight_decay",
                     "_exclude_from_weight_decay_pattern"):
            if hasattr(old, name):
                setattr(new, name, getattr(old, name))
        new.build(union)
        old_by_path = {v.path: v for v in old.variables}
        for variable in new.variables:
            if variable.path in old_by_path:
                variable.assign(old_by_path[variable.path])
        self.optimizer = new
        self.model.optimizer = new
        self._all_optimizer_targets = union

    def _build(self, dataset):
        """Builds model, metrics and optimizer from the data's spec."""
        if self._train_metrics is not None:
            return
        x_spec, _, _ = _unpack(dataset.element_spec)
        _check_numeric(x_spec)
        with self.strategy.scope():
            # A forward pass on one zero example creates the weights of a
            # subclassed model, checks the input shape against the model,
            # and its output gives the number of classes.
            # Unknown sizes (bucketed sequence lengths) become 1.
            dummy = keras.tree.map_structure(
                lambda s: tf.zeros([1] + [d or 1 for d in s.shape[1:]],
                                   s.dtype),
                x_spec,
            )
            outputs = self.model(dummy, training=False)
            num_outputs = int(keras.tree.flatten(outputs)[0].shape[-1])
            self.num_outputs = num_outputs
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
        if isinstance(x, tf.data.Dataset):
            if y is not None:
                raise ValueError(
                    "`y` must be None when `x` is a tf.data.Dataset (the "
                    "dataset yields the labels). Received: y of type "
                    f"{type(y).__name__}"
                )
            dataset = x
            if dataset.cardinality() == 0:
                raise ValueError(
                    f"The dataset passed as `{role}` is empty. Received: "
                    f"{role}=<Dataset with 0 batches>"
                )
            spec = dataset.element_spec
            batched = all(
                s.shape.rank is None or s.shape.rank >= 1
                for s in keras.tree.flatten(spec)
            )
            if not batched:
                raise ValueError(
                    f"The dataset passed as `{role}` is not batched (its "
                    f"elements are scalars). Received: element_spec={spec}. "
                    "Call dataset.batch(batch_size) first."
                )
            return dataset
        if x is None:
            raise ValueError(f"`{role}` is required. Received: {role}=None")
        batch_size = batch_size or self.config.batch_size
        features = _as_array(x, role)
        num_examples = len(next(iter(features.values()), ())) if isinstance(
            features, dict) else len(features)
        if num_examples == 0:
            raise ValueError(
                f"`{role}` is empty. Received: {role} with "
                f"{num_examples} examples"
            )
        if y is None:
            if labels_required:
                raise ValueError(
                    "`y` is required when `x` is an array. Received: y=None"
                )
            return tf.data.Dataset.from_tensor_slices(features).batch(
                batch_size)
        labels = np.asarray(y)
        if len(labels) != num_examples:
            raise ValueError(
                "`x` and `y` must have the same number of examples. "
                f"Received: len(x)={num_examples}, len(y)={len(labels)}"
            )
        dataset = tf.data.Dataset.from_tensor_slices((features, labels))
        if shuffle:
            dataset = dataset.shuffle(len(features), seed=0,
                                      reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def _as_validation_dataset(self, validation_data, batch_size):
        if isinstance(validation_data, tf.data.Dataset):
            return self._as_dataset(validation_data, None, batch_size,
                                    shuffle=False, role="validation_data")
        if isinstance(validation_data, (tuple, list)) and len(
                validation_data) == 2:
            return self._as_dataset(*validation_data, batch_size,
                                    shuffle=False, role="validation_data")
        raise TypeError(
            "`validation_data` must be a tf.data.Dataset or an (x, y) "
            f"tuple. Received: validation_data of type "
            f"{type(validation_data).__name__}"
        )

    def _check_labels(self, dataset, role):
        """Checks the first batch's labels against the model's outputs.

        A full pass would cost an epoch; the first batch catches the usual
        mistakes (1-based labels, a num_classes too small, multi-label
        targets of the wrong width or not 0/1, text regression targets)
        before training.
        """
        # Creating an iterator can cost a second (tf.data rewrites a graph
        # that embeds in-memory arrays), so each dataset is checked once.
        if dataset in self._checked_datasets:
            return
        self._checked_datasets.add(dataset)
        _, y_spec, _ = _unpack(dataset.element_spec)
        if y_spec is not None and y_spec.dtype == tf.string:
            raise TypeError(
                f"Labels in `{role}` are strings; the Trainer needs numbers "
                "(class ids, 0/1 targets or values). Map names to ids "
                "first, e.g. with kerasft.data.LabelMap."
            )
        if self.task not in ("sparse", "binary", "regression"):
            return
        for batch in dataset.take(1):
            _, y, _ = _unpack(batch)
            if y is None:
                raise ValueError(
                    f"The dataset passed as `{role}` yields no labels. "
                    "Expected (features, labels) batches."
                )
            labels = np.asarray(y)
            if labels.size == 0:
                raise ValueError(f"The dataset passed as `{role}` is empty.")
            self._check_label_values(labels, role)
            return
        raise ValueError(
            f"The dataset passed as `{role}` is empty: it yielded no "
            "batches."
        )

    def _check_label_values(self, labels, role):
        multi_output = self.num_outputs > 1 and self.task != "sparse"
        if multi_output and (labels.ndim != 2
                             or labels.shape[-1] != self.num_outputs):
            kind = "multi-label" if self.task == "binary" else "regression"
            raise ValueError(
                f"Labels in `{role}` do not fit a {kind} model with "
                f"{self.num_outputs} outputs: expected (batch, "
                f"{self.num_outputs}) targets. Received: labels of shape "
                f"{labels.shape}"
            )
        if self.task == "regression":
            return
        if self.task == "binary" and multi_output:
            bad = labels[(labels != 0) & (labels != 1)]
            if bad.size:
                raise ValueError(
                    f"Multi-label targets in `{role}` must be 0 or 1 (a "
                    "multi-hot row per example). Received: "
                    f"target={bad.flat[0].item()!r}"
                )
            return
        # Token classification ignores a label value (-100) by design.
        ignore = getattr(self.loss, "ignore_class", None)
        if ignore is not None:
            labels = labels[labels != ignore]
        limit = 2 if self.task == "binary" else self.num_outputs
        bad = labels[(labels < 0) | (labels >= limit)]
        if bad.size:
            raise ValueError(
                f"Labels in `{role}` are out of range for a model with "
                f"{self.num_outputs} output(s): expected integers in "
                f"[0, {limit})"
                + (f" or {ignore} (ignored)" if ignore is not None else "")
                + f". Received: label={bad.flat[0].item()!r} "
                "(check num_classes, or labels that start at 1)."
            )

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


def _unpack(data):
    """Splits a batch into (x, y, sample_weight), Keras' convention."""
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
    return data, None, None


def _as_array(x, role):
    """`x` as a NumPy array, or a dict of them (named model inputs, e.g.
    a text preprocessor's `token_ids` / `padding_mask`)."""
    if isinstance(x, dict):
        features = {k: _as_array(v, f"{role}[{k!r}]") for k, v in x.items()}
        sizes = {len(v) for v in features.values()}
        if len(sizes) > 1:
            raise ValueError(
                f"Every input of `{role}` must have the same number of "
                "examples. Received: "
                + ", ".join(f"{k}: {len(v)}" for k, v in features.items())
            )
        return features
    features = np.asarray(x)
    if not np.issubdtype(features.dtype, np.number) and features.dtype != bool:
        raise TypeError(
            f"`{role}` must be numeric. Received: {role} with dtype "
            f"{features.dtype} (e.g. strings); convert or encode it first."
        )
    if features.dtype == np.float64:
        features = features.astype("float32")
    return features


def _check_numeric(x_spec):
    for spec in keras.tree.flatten(x_spec):
        if spec.dtype == tf.string:
            raise TypeError(
                "Model inputs must be numeric tensors. Received: a feature "
                f"of dtype string (spec {spec}). Tokenize or encode text in "
                "the tf.data pipeline first."
            )

