"""The hooks a callback gets from a kerasft `Trainer`, beyond Keras' own.

A Keras callback sees the model and the logs. A callback that needs the
run itself (the global step, the train iterator, the loss, whether this
process is the chief) subclasses `TrainerCallback`: `Trainer.fit` hands it
the Trainer (`set_trainer`) before `on_train_begin`, and it reads only the
Trainer's public surface: `global_step`, `train_iterator`,
`train_dataset`, `compute_loss`, `is_chief`, `strategy`, `model`,
`optimizer`, `config`, `metric_specs`. A callback that can resume a run
(`Checkpointer`) answers `resume_position` and `restore_data`.
"""

import keras


class TrainerCallback(keras.callbacks.Callback):
    """A `keras.callbacks.Callback` that talks to the kerasft `Trainer`.

    Example:
    >>> import kerasft, numpy as np
    >>> class StepPrinter(kerasft.training.TrainerCallback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print("global step", self.trainer.global_step)
    >>> x = np.random.rand(32, 4).astype("float32")
    >>> y = (x[:, 0] > 0.5).astype("int64")
    >>> trainer = kerasft.Trainer(
    ...     kerasft.FeedforwardNetwork(hidden_units=(8,), num_classes=2))
    >>> _ = trainer.fit(x, y, batch_size=16, verbose=0,
    ...                 callbacks=[StepPrinter()])
    global step 2
    """

    def __init__(self):
        super().__init__()
        self._trainer = None

    @property
    def trainer(self):
        """The `Trainer` that ran `fit` with this callback, or None."""
        return self._trainer

    def set_trainer(self, trainer):
        """Called by `Trainer.fit` before `on_train_begin`."""
        self._trainer = trainer

    def resume_position(self, initial_epoch):
        """Where `fit` resumes: `(epoch, step)`, or None to start at
        `initial_epoch`. Called after `set_trainer`, once the model and
        optimizer are built."""
        del initial_epoch
        return None

    def restore_data(self, iterator):
        """Called at the start of the epoch `resume_position` named, with
        the iterator that epoch reads from."""
        del iterator
