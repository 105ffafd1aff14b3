"""Checkpoints that let a killed `Trainer.fit` resume where it stopped."""

import hashlib
import json
import os
import random
import shutil
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerasft.training.trainer_callback import TrainerCallback

_FORMAT = 1
_STATE = "state"  # model, optimizer and random-generator variables
_DATA = "data"  # the tf.data iterator (data_position="iterator")
_MANIFEST = "trainer_state.json"  # written last; holds the checksums
_PREFIX = "ckpt-"
_TEMP_PREFIX = ".tmp-ckpt-"
_LARGE_DATA_BYTES = 64 * 2**20


class Checkpointer(TrainerCallback):
    """Saves the whole training state and resumes `Trainer.fit` from it.

    Pass it in `callbacks=[...]` of `kerasft.Trainer.fit`. When `fit`
    starts and `directory` holds a checkpoint, training resumes from the
    newest valid one: the epoch loop starts at its epoch, skips the steps of
    that epoch already done, and continues, so a run killed at any point
    (even with SIGKILL, even mid-epoch) and started again with the same
    command ends with the same weights as a run never interrupted (on CPU
    with `tf.config.experimental.enable_op_determinism()`: bit for bit).
    A run that had finished is not trained further (`epochs` is the index
    of the last epoch, as in Keras: raise it to train more). The
    checkpoint's position takes precedence over `fit`'s `initial_epoch`;
    to start afresh, use a new (or empty) directory.

    A checkpoint holds:
    - the model's variables, including the state of each layer's
      `keras.random.SeedGenerator` (dropout masks resume their sequence);
    - the optimizer's variables: its iteration count (so a learning-rate
      schedule resumes at the right step) and its moments;
    - with gradient accumulation, the batches into the current cycle and
      their gradient sums, so a run resumed mid-cycle continues it;
    - `trainer.global_step`, the epoch and the step within the epoch;
    - the data position (see `data_position`);
    - the random state: the global `tf.random.Generator`, Keras' global
      seed generator if one was used, NumPy's and Python's global state.
      (Stateful TF ops such as `tf.random.uniform` without a generator keep
      a hidden per-op state that no API can save: use `tf.random.Generator`
      or Keras' seeded layers in augmentations.)

    Other callbacks' own counters (e.g. `EarlyStopping`'s patience) and
    the `History` of epochs before the resume are not saved.

    Each checkpoint is a folder `directory/ckpt-NNNNNN/` (numbered in save
    order). It is written into a temporary folder, its files are
    checksummed into `trainer_state.json` (written last), flushed to disk,
    and the folder is renamed into place with one atomic `os.replace`: a
    crash mid-write leaves only a `.tmp-ckpt-*` folder, removed at the next
    start, never a checkpoint that looks whole. On resume the checksums are
    verified; a checkpoint whose files are missing, truncated or corrupt
    is skipped with a warning naming the file, and the previous one is
    used. A model whose variables differ from the checkpoint's in number
    or shape raises a `ValueError` naming the variable and both shapes,
    before any training.

    Args:
        directory: str. Folder of the checkpoints (created if missing).
        save_freq: int or None. Save every `save_freq` optimizer steps
            (checked after each `steps_per_execution` call, so with 8 steps
            per call and `save_freq=10` the saves fall at steps 16, 24, ...
            whenever a multiple of 10 has been passed). None saves only at
            epoch ends. Defaults to `None`.
        save_on_epoch_end: bool. Also save at the end of every epoch (after
            validation). Defaults to `True`.
        max_to_keep: int. Number of newest checkpoints kept; older ones are
            deleted after each successful save. Defaults to `3`.
        data_position: `"iterator"` or `"skip"`. How the position in the
            training data is saved. `"iterator"` saves the `tf.data`
            iterator itself (`tf.train.Checkpoint`): exact for any input
            pipeline, seeded or not, but it includes the pipeline's buffers
            -- for `fit(x, y)` on arrays, whose shuffle buffer is the whole
            array, that is a copy of the data set in every checkpoint (a
            warning says so when it exceeds 64 MB). `"skip"` saves only the
            number of batches read; on resume a fresh iterator reads and
            discards that many batches (in the graph, no training). Tiny
            checkpoints, exact when the pipeline is deterministic (a
            `shuffle` with a `seed`, as `fit(x, y)` uses, and deterministic
            maps); it costs one pass over the skipped batches at resume.
            Defaults to `"iterator"`.

    Attributes:
        restored_from: str or None. The checkpoint folder `fit` resumed
            from, None if it started fresh.
        restored_position: dict or None. `epoch`, `step` (within the epoch)
            and `global_step` of that checkpoint.

    Example:
    >>> import kerasft, numpy as np, tempfile
    >>> x = np.random.rand(64, 8).astype("float32")
    >>> y = (x.sum(axis=1) > 4).astype("int64")
    >>> folder = tempfile.mkdtemp()
    >>> trainer = kerasft.Trainer(
    ...     kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=2))
    >>> checkpointer = kerasft.Checkpointer(folder, save_freq=2)
    >>> _ = trainer.fit(x, y, epochs=2, verbose=0, callbacks=[checkpointer])
    >>> # Started again (after a crash, in a new process), the same call
    >>> # resumes from the newest checkpoint: here the run had finished.
    >>> trainer = kerasft.Trainer(
    ...     kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=2))
    >>> checkpointer = kerasft.Checkpointer(folder, save_freq=2)
    >>> _ = trainer.fit(x, y, epochs=2, verbose=0, callbacks=[checkpointer])
    >>> checkpointer.restored_position["epoch"], trainer.global_step
    (2, 4)
    """

    def __init__(self, directory, save_freq=None, save_on_epoch_end=True,
                 max_to_keep=3, data_position="iterator"):
        super().__init__()
        if not isinstance(directory, (str, os.PathLike)) or not str(
                directory):
            raise TypeError(
                "`directory` must be a path (str or os.PathLike). "
                f"Received: directory={directory!r}"
            )
        if save_freq is not None and (
                isinstance(save_freq, bool) or not isinstance(save_freq, int)
                or save_freq < 1):
            raise ValueError(
                "`save_freq` must be None or an int >= 1 (steps). "
                f"Received: save_freq={save_freq!r}"
            )
        if (isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int)
                or max_to_keep < 1):
            raise ValueError(
                "`max_to_keep` must be an int >= 1. "
                f"Received: max_to_keep={max_to_keep!r}"
            )
        if data_position not in ("iterator", "skip"):
            raise ValueError(
                "`data_position` must be 'iterator' or 'skip'. "
                f"Received: data_position={data_position!r}"
            )
        if save_freq is None and not save_on_epoch_end:
            raise ValueError(
                "The Checkpointer would never save: give `save_freq` (steps) "
                "or keep `save_on_epoch_end=True`. Received: save_freq=None, "
                "save_on_epoch_end=False"
            )
        self.directory = os.fspath(directory)
        self.save_freq = save_freq
        self.save_on_epoch_end = bool(save_on_epoch_end)
        self.max_to_keep = max_to_keep
        self.data_position = data_position
        self.restored_from = None
        self.restored_position = None
        self._trainer = None
        self._pending = None  # what restore_data() still has to restore
        self._epoch = 0
        self._step = 0  # steps done in the current epoch
        self._batches = 0  # batches read from the training iterator
        self._resume_epoch = None  # the epoch `fit` resumes in, and
        self._resume_step = 0  # the steps of it already done
        self._last_saved = None  # (folder, global_step) of our last save
        self._global_step_at_call = 0  # trainer.global_step at batch begin
        self._warned_size = False
        self._warned_distributed = False

    # ------------------------------------------------- called by the Trainer
    def resume_position(self, initial_epoch=0):
        """Restores the newest valid checkpoint; returns `(epoch, step)`.

        Called by `Trainer.fit` after `set_trainer`, once the model and
        optimizer are built and before `on_train_begin`. The model's
        variables, the step counts and the random state are restored here;
        the optimizer and the data position in `restore_data`, once the
        resumed epoch's trainable set is synced (a callback may unfreeze
        layers in `on_epoch_begin`, which extends the optimizer) and its
        iterator exists.

        Args:
            initial_epoch: int. The `initial_epoch` given to `fit`, returned
                when there is nothing to resume.
        """
        trainer = self._trainer
        self._epoch = initial_epoch
        self._batches = 0
        self._pending = None
        self._resume_epoch, self._resume_step = initial_epoch, 0
        os.makedirs(self.directory, exist_ok=True)
        if self._is_chief():
            for name in os.listdir(self.directory):
                if name.startswith(_TEMP_PREFIX):  # a write cut short
                    shutil.rmtree(os.path.join(self.directory, name),
                                  ignore_errors=True)
        folder, manifest = self._newest_valid(move_aside=self._is_chief())
        if folder is None:
            return initial_epoch, 0
        self._check_shapes(folder, manifest)
        epoch, step = manifest["epoch"], manifest["step"]
        self.restored_from = folder
        self.restored_position = {"epoch": epoch, "step": step,
                                  "global_step": manifest["global_step"]}
        self._epoch = epoch
        self._batches = manifest["batches"]
        self._resume_epoch, self._resume_step = epoch, step
        if self._last_saved == (folder, trainer.global_step):
            # This same object saved it during an earlier `fit` of this
            # trainer: the state in memory is that checkpoint already, and
            # the kept iterator is at its position.
            return epoch, step
        reader = tf.train.load_checkpoint(os.path.join(folder, _STATE))
        variables = [v.value for v in trainer.model.variables]
        for i, variable in enumerate(variables):
            variable.assign(reader.get_tensor(_key("model", i)))
        self._restore_random_state(reader, manifest)
        trainer.global_step = manifest["global_step"]
        self._pending = (folder, manifest)
        if epoch >= self.params.get("epochs", epoch + 1):
            # The run had finished and `fit` trains no further: restore the
            # optimizer now (no epoch will call restore_data).
            self._restore_optimizer(reader, manifest, folder)
            self._pending = None
        return epoch, step

    def restore_data(self, iterator):
        """Restores the optimizer and the data position of `resume`.

        Called by `Trainer.fit` at the start of the resumed epoch, with the
        iterator that epoch reads from.
        """
        if self._pending is None:
            return
        folder, manifest = self._pending
        self._pending = None
        reader = tf.train.load_checkpoint(os.path.join(folder, _STATE))
        self._restore_optimizer(reader, manifest, folder)
        if manifest["iterator_saved"]:
            tf.train.Checkpoint(iterator=iterator).read(
                os.path.join(folder, _DATA)).expect_partial()
        elif manifest["batches"] and not (
                manifest["step"] == 0 and self.params.get("steps") is None):
            _skip_batches(iterator, tf.constant(manifest["batches"], "int64"))

    # ---------------------------------------------------------- callback
    def on_train_begin(self, logs=None):
        if self._trainer is None:
            raise ValueError(
                "Checkpointer saves and resumes kerasft.Trainer.fit; it was "
                "given to another fit (for keras.Model.fit, use "
                "keras.callbacks.BackupAndRestore)."
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        # Steps already done in this epoch: those before the checkpoint in
        # the resumed epoch, none in the others.
        self._step = self._resume_step if epoch == self._resume_epoch else 0
        self._resume_epoch = None

    def on_train_batch_begin(self, batch, logs=None):
        if self._trainer is not None:
            self._global_step_at_call = self._trainer.global_step

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1  # steps done in this epoch
        done = step - self._step  # steps run by this steps_per_execution call
        self._step = step
        if self.params.get("steps") is None:
            self._batches = step  # a new iterator every epoch
        else:
            self._batches += done  # one iterator across the epochs
        if self.save_freq is None or self._trainer is None:
            return
        # Optimizer updates: with gradient accumulation, fewer than batches.
        global_step = self._trainer.global_step
        if global_step // self.save_freq == (
                self._global_step_at_call // self.save_freq):
            return  # no multiple of save_freq passed in this call
        if logs and not np.isfinite(logs.get("loss", 0.0)):
            return  # the Trainer raises NonFiniteLossError next
        if (self.save_on_epoch_end and self.params.get("steps") is not None
                and step >= self.params["steps"]):
            return  # the epoch is complete: on_epoch_end saves
        self.save(self._epoch, step)

    def on_epoch_end(self, epoch, logs=None):
        if not self.save_on_epoch_end or self._trainer is None:
            return
        if logs and not np.isfinite(logs.get("loss", 0.0)):
            return  # a bad step was read but not applied: no clean position
        steps = self.params.get("steps")
        if steps is not None and self._step < steps:
            # Stopped inside the epoch (stop_training): resume inside it.
            self.save(epoch, self._step)
            return
        if steps is None:
            self._batches = 0  # the next epoch opens a new iterator
        self.save(epoch + 1, 0)

    # ------------------------------------------------------------ saving
    def save(self, epoch, step):
        """Writes a checkpoint at `epoch`, `step` (the position to resume).

        Returns the checkpoint's folder.
        """
        trainer = self._trainer
        if trainer is None:
            raise ValueError(
                "The Checkpointer is not attached to a Trainer: pass it in "
                "`callbacks` of kerasft.Trainer.fit."
            )
        os.makedirs(self.directory, exist_ok=True)
        index = 1 + max((i for i, _ in self._folders()), default=0)
        final = os.path.join(self.directory, f"{_PREFIX}{index:06d}")
        chief = self._is_chief()
        # Other workers of a multi-worker strategy write to a throwaway
        # folder: every worker runs the same save ops, one keeps them.
        temp = tempfile.mkdtemp(
            prefix=_TEMP_PREFIX, dir=self.directory if chief else None)
        model_variables = list(trainer.model.variables)
        optimizer_variables = list(trainer.optimizer.variables)
        random_variables = self._random_variables()
        accumulator = trainer.gradient_accumulator
        # Gradient sums of an unfinished accumulation cycle (summed over
        # replicas when read here; spread back over them on restore).
        accumulated = [] if accumulator is None else accumulator.variables
        tf.train.Checkpoint(
            model=[v.value for v in model_variables],
            optimizer=[_tf_variable(v) for v in optimizer_variables],
            rng=[v for _, v in random_variables],
            accumulator=accumulated,
        ).write(os.path.join(temp, _STATE))
        iterator = trainer.train_iterator
        # A dataset of unknown length opens a new iterator every epoch: at
        # an epoch end there is no position to keep.
        iterator_saved = (self.data_position == "iterator"
                          and iterator is not None
                          and not (step == 0
                                   and self.params.get("steps") is None))
        if iterator_saved and not isinstance(
                iterator, tf.__internal__.tracking.Trackable):
            # A strategy's distributed iterator cannot be checkpointed (TF
            # 2.21): count batches and skip them on resume instead.
            iterator_saved = False
            if not self._warned_distributed:
                self._warned_distributed = True
                warnings.warn(
                    "The training iterator of this strategy "
                    f"({type(iterator).__name__}) cannot be saved; the "
                    "Checkpointer saves the number of batches read instead "
                    "and skips them on resume (data_position='skip'), which "
                    "is exact for a deterministic input pipeline (a seeded "
                    "shuffle).",
                    stacklevel=2,
                )
        if iterator_saved:
            tf.train.Checkpoint(iterator=iterator).write(
                os.path.join(temp, _DATA))
        manifest = {
            "format": _FORMAT,
            "epoch": int(epoch),
            "step": int(step),
            "global_step": int(trainer.global_step),
            "batches": int(self._batches),
            "data_position": self.data_position,
            "iterator_saved": iterator_saved,
            "model_variables": [[v.path, list(v.shape)]
                                for v in model_variables],
            "optimizer_variables": [[_relative_path(v), list(v.shape)]
                                    for v in optimizer_variables],
            "random_variables": [name for name, _ in random_variables],
            "gradient_accumulation_steps": (
                1 if accumulator is None else accumulator.steps),
            # Each sum's model variable, as an index into model.variables
            # (paths change with the model's name).
            "accumulated_variables": ([] if accumulator is None
                                      else _indices(accumulator.targets,
                                                    model_variables)),
            "numpy_random_state": _numpy_state(),
            "python_random_state": _python_state(),
        }
        manifest["files"] = {
            name: _sha256(os.path.join(temp, name))
            for name in sorted(os.listdir(temp))
        }
        manifest_path = os.path.join(temp, _MANIFEST)
        with open(manifest_path, "w") as f:
            json.dump(manifest, f)
        if not chief:
            shutil.rmtree(temp, ignore_errors=True)
            return None
        for name in os.listdir(temp):
            _fsync(os.path.join(temp, name))
        _fsync(temp)
        os.replace(temp, final)  # atomic: the folder appears whole
        _fsync(self.directory)
        self._last_saved = (final, trainer.global_step)
        self._prune()
        self._warn_if_large(final, iterator_saved)
        return final

    def _prune(self):
        folders = self._folders()
        for _, path in folders[:-self.max_to_keep]:
            shutil.rmtree(path, ignore_errors=True)

    def _warn_if_large(self, folder, iterator_saved):
        if not iterator_saved or self._warned_size:
            return
        size = sum(
            os.path.getsize(os.path.join(folder, name))
            for name in os.listdir(folder) if name.startswith(_DATA)
        )
        if size > _LARGE_DATA_BYTES:
            self._warned_size = True
            warnings.warn(
                f"The data position in {folder} takes {size / 2**20:.0f} MB "
                "(the tf.data iterator's buffers, mostly a shuffle buffer). "
                "Pass data_position='skip' to Checkpointer to save only a "
                "batch count, if the input pipeline is deterministic (a "
                "seeded shuffle).",
                stacklevel=2,
            )

    # ----------------------------------------------------------- loading
    def latest_checkpoint(self):
        """Returns the newest valid checkpoint folder, or None.

        Invalid checkpoints met on the way give a warning each.
        """
        return self._newest_valid()[0]

    def _folders(self):
        """(index, path) of the complete checkpoint folders, oldest first."""
        if not os.path.isdir(self.directory):
            return []
        found = []
        for name in os.listdir(self.directory):
            number = name[len(_PREFIX):]
            if name.startswith(_PREFIX) and number.isdigit():
                found.append((int(number),
                              os.path.join(self.directory, name)))
        return sorted(found)

    def _newest_valid(self, move_aside=False):
        for _, folder in reversed(self._folders()):
            manifest, problem = _verify(folder)
            if problem is None:
                return folder, manifest
            message = f"Checkpoint {problem}; falling back to the previous one"
            if move_aside:
                # Renamed so that it neither counts among the kept
                # checkpoints nor warns again; left for inspection.
                os.replace(folder, folder + ".corrupt")
                message += f" (moved to {folder}.corrupt)"
            warnings.warn(message + ".", stacklevel=3)
        return None, None

    def _check_shapes(self, folder, manifest):
        """Raises before any training if the model does not fit `folder`."""
        saved = manifest["model_variables"]
        variables = self._trainer.model.variables
        for i, variable in enumerate(variables):
            if i >= len(saved):
                raise ValueError(
                    f"Cannot resume from {folder}: the model has "
                    f"{len(variables)} variables, the checkpoint "
                    f"{len(saved)}; the model's variable "
                    f"'{variable.path}' (shape {tuple(variable.shape)}) "
                    "is not in the checkpoint. Build the model with the "
                    "checkpoint's configuration, or use a new directory."
                )
            path, shape = saved[i]
            if tuple(shape) != tuple(variable.shape):
                raise ValueError(
                    f"Cannot resume from {folder}: the model's variable "
                    f"'{variable.path}' has shape {tuple(variable.shape)}, "
                    f"but the checkpoint saved '{path}' with shape "
                    f"{tuple(shape)}. Build the model with the checkpoint's "
                    "configuration, or use a new directory."
                )
        if len(saved) > len(variables):
            path, shape = saved[len(variables)]
            raise ValueError(
                f"Cannot resume from {folder}: the checkpoint has "
                f"{len(saved)} model variables, the model {len(variables)}; "
                f"the checkpoint's '{path}' (shape {tuple(shape)}) has no "
                "counterpart. Build the model with the checkpoint's "
                "configuration, or use a new directory."
            )

    def _restore_optimizer(self, reader, manifest, folder):
        """Restores the optimizer's variables, each to its model variable.

        A Keras optimizer's slot is named after the model variable it
        belongs to (`dense_0_kernel_momentum` for `.../dense_0/kernel`), so
        each slot is keyed by (index of that variable in `model.variables`,
        slot name): the key holds when the optimizer was extended to newly
        unfrozen layers in another order, or the model got another name.
        The order of the variables is the fallback.
        """
        saved = manifest["optimizer_variables"]
        variables = list(self._trainer.optimizer.variables)
        saved_keys = _slot_keys([name for name, _ in saved],
                                [path for path, _ in manifest[
                                    "model_variables"]])
        keys = _slot_keys([_relative_path(v) for v in variables],
                          [v.path for v in self._trainer.model.variables])
        by_key = {key: i for i, key in enumerate(saved_keys)}
        if len(by_key) == len(saved) and len(set(keys)) == len(keys) and (
                set(keys) == set(by_key)):
            order = [by_key[key] for key in keys]
        elif len(saved) == len(variables):
            order = list(range(len(saved)))
        else:
            raise ValueError(
                f"Cannot resume from {folder}: the optimizer has "
                f"{len(variables)} variables, the checkpoint {len(saved)} "
                f"(saved: {[name for name, _ in saved][:6]}...). Use the "
                "same optimizer and the same trainable layers as the run "
                "that saved it."
            )
        for variable, i in zip(variables, order):
            name, shape = saved[i]
            if tuple(shape) != tuple(variable.shape):
                raise ValueError(
                    f"Cannot resume from {folder}: the optimizer variable "
                    f"'{_relative_path(variable)}' has shape "
                    f"{tuple(variable.shape)}, the checkpoint's '{name}' "
                    f"{tuple(shape)}."
                )
            _tf_variable(variable).assign(
                reader.get_tensor(_key("optimizer", i)))
        self._restore_accumulator(reader, manifest, folder)

    def _restore_accumulator(self, reader, manifest, folder):
        """Restores an unfinished accumulation cycle's count and sums, each
        sum to the model variable (by path) it belongs to."""
        accumulator = self._trainer.gradient_accumulator
        saved_steps = manifest.get("gradient_accumulation_steps", 1)
        steps = 1 if accumulator is None else accumulator.steps
        if saved_steps == 1 and accumulator is None:
            return
        if saved_steps != steps:
            raise ValueError(
                f"Cannot resume from {folder}: it was saved with "
                f"gradient_accumulation_steps={saved_steps}, this Trainer "
                f"has gradient_accumulation_steps={steps}. Resume with the "
                "same setting (an accumulation cycle may be under way)."
            )
        saved = {index: i for i, index in enumerate(
            manifest["accumulated_variables"])}
        accumulator.count.assign(reader.get_tensor(_key("accumulator", 0)))
        indices = _indices(accumulator.targets, self._trainer.model.variables)
        for index, total in zip(indices, accumulator.variables[1:]):
            if index in saved:
                total.assign(reader.get_tensor(
                    _key("accumulator", saved[index] + 1)))
            else:  # trainable only since the save: nothing accumulated
                total.assign(tf.zeros_like(total))

    # ------------------------------------------------------ random state
    def _random_variables(self):
        """(name, tf.Variable) of the global random generators' states."""
        found = []
        try:
            found.append(("tf_global_generator",
                          tf.random.get_global_generator().state))
        except RuntimeError:
            # With op determinism enabled TF refuses to create an unseeded
            # global generator; then none is in use and there is no state.
            pass
        generator = _keras_global_seed_generator()
        if generator is not None:
            found.append(("keras_global_seed_generator",
                          generator.state.value))
        return found

    def _restore_random_state(self, reader, manifest):
        current = dict(self._random_variables())
        for i, name in enumerate(manifest["random_variables"]):
            if name == "keras_global_seed_generator" and name not in current:
                # Created now so that later keras.random calls continue
                # the saved sequence.
                keras.random.uniform(())
                current = dict(self._random_variables())
            if name in current:
                current[name].assign(reader.get_tensor(_key("rng", i)))
        np.random.set_state(_from_json_numpy_state(
            manifest["numpy_random_state"]))
        random.setstate(_from_json_python_state(
            manifest["python_random_state"]))

    # -------------------------------------------------------------- misc
    def _is_chief(self):
        return self._trainer is None or self._trainer.is_chief


@tf.function(reduce_retracing=True)
def _skip_batches(iterator, count):
    # In the graph: no Python per batch. (batch,) shapes are irrelevant.
    for _ in tf.range(count):
        iterator.get_next()


def _indices(variables, model_variables):
    """The position of each of `variables` in `model_variables`."""
    position = {id(v): i for i, v in enumerate(model_variables)}
    return [position[id(v)] for v in variables]


def _key(group, index):
    return f"{group}/{index}/.ATTRIBUTES/VARIABLE_VALUE"


def _tf_variable(variable):
    return getattr(variable, "value", variable)


def _relative_path(variable):
    # "adam_1/dense_0_kernel_momentum" -> "dense_0_kernel_momentum": the
    # optimizer's own name changes with how many were created.
    return variable.path.split("/", 1)[-1]


def _slot_keys(names, model_paths):
    """(model variable index or None, slot) for each optimizer variable."""
    # Longest first: "dense_1_kernel" must not claim "dense_10_kernel_...".
    prefixes = sorted(
        ((path.replace("/", "_") + "_", i)
         for i, path in enumerate(model_paths)),
        key=lambda item: -len(item[0]),
    )
    keys = []
    for name in names:
        for prefix, i in prefixes:
            if name.startswith(prefix):
                keys.append((i, name[len(prefix):]))
                break
        else:
            keys.append((None, name))  # iteration, learning_rate, ...
    return keys


def _keras_global_seed_generator():
    # Keras keeps the generator behind `keras.random.*(seed=None)` in its
    # global state and has no public accessor for it.
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # a Keras without it: nothing to save
        return None
    return global_state.get_global_attribute("global_seed_generator")


def _numpy_state():
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]


def _from_json_numpy_state(state):
    name, keys, pos, has_gauss, cached = state
    return name, np.asarray(keys, np.uint32), pos, has_gauss, cached


def _python_state():
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _from_json_python_state(state):
    version, internal, gauss = state
    return version, tuple(internal), gauss


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path):
    """Flushes a file or folder to disk (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _verify(folder):
    """Returns (manifest, None) or (None, 'what is wrong, naming the file')."""
    manifest_path = os.path.join(folder, _MANIFEST)
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as error:
        return None, f"{manifest_path} is missing or unreadable ({error})"
    if manifest.get("format") != _FORMAT:
        return None, (f"{manifest_path} has an unknown format "
                      f"{manifest.get('format')!r}")
    for name, digest in manifest.get("files", {}).items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            return None, f"file {path} is missing"
        if _sha256(path) != digest:
            return None, (f"file {path} is truncated or corrupt (checksum "
                          "mismatch)")
    return manifest, None
