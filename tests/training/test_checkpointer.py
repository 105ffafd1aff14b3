"""Checkpointer: what a checkpoint holds, resuming after a crash (a real
SIGKILL in a subprocess), corrupt checkpoints and mismatched models."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import kerasft
from kerasft.training import Checkpointer, Trainer

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("resume_script.py")


def _data(n=100, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    return x, y


def _trainer(hidden=16, seed=1, steps_per_execution=1):
    keras.utils.set_random_seed(seed)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, 5, 0.7)
    return Trainer(
        kerasft.FeedforwardNetwork(hidden_units=(hidden,), num_classes=2,
                                   dropout=0.3),
        optimizer=keras.optimizers.Adam(schedule),
        batch_size=16,  # 100 examples: 7 steps per epoch
        steps_per_execution=steps_per_execution,
    )


class _Crash(keras.callbacks.Callback):
    """Stops `fit` with an exception after `calls` train-batch calls."""

    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def on_train_batch_end(self, batch, logs=None):
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt("simulated crash")


class _Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def _folders(directory):
    return sorted(p for p in os.listdir(directory) if p.startswith("ckpt-"))


def _manifest(folder):
    with open(os.path.join(folder, "trainer_state.json")) as f:
        return json.load(f)


def _values(variables):
    return [v.numpy() for v in variables]


def test_round_trip_restores_weights_optimizer_and_position(tmp_path):
    x, y = _data()
    trainer = _trainer()
    checkpointer = Checkpointer(tmp_path, save_freq=3, max_to_keep=2)
    trainer.fit(x, y, epochs=2, verbose=0, callbacks=[checkpointer])
    # Saves at steps 3 and 6, epoch end (7), 9 and 12, epoch end (14):
    # six, of which the newest two are kept.
    folders = _folders(tmp_path)
    assert folders == ["ckpt-000005", "ckpt-000006"]
    newest = _manifest(tmp_path / folders[-1])
    assert (newest["epoch"], newest["step"], newest["global_step"]) == (
        2, 0, 14)
    older = _manifest(tmp_path / folders[0])
    assert (older["epoch"], older["step"], older["global_step"]) == (
        1, 5, 12)

    # A new trainer (another seed: other initial weights) takes them all.
    restored = _trainer(seed=7)
    checkpointer = Checkpointer(tmp_path)
    epochs = _Epochs()
    restored.fit(x, y, epochs=2, verbose=0, callbacks=[checkpointer, epochs])
    assert epochs.seen == []  # the run had finished: nothing to train
    assert checkpointer.restored_from == str(tmp_path / folders[-1])
    assert restored.global_step == 14
    for ours, theirs in zip(_values(restored.model.variables),
                            _values(trainer.model.variables)):
        np.testing.assert_array_equal(ours, theirs)
    assert int(restored.optimizer.iterations) == 14
    for ours, theirs in zip(_values(restored.optimizer.variables),
                            _values(trainer.optimizer.variables)):
        np.testing.assert_array_equal(ours, theirs)
    # The dropout layer's seed state is among the model's variables.
    assert any("seed_generator" in v.path for v in restored.model.variables)


@pytest.mark.parametrize("data_position", ["iterator", "skip"])
def test_resume_mid_epoch_matches_an_uninterrupted_run(tmp_path,
                                                      data_position):
    x, y = _data()
    reference = _trainer(steps_per_execution=2)
    reference.fit(x, y, epochs=3, verbose=0)

    first = _trainer(steps_per_execution=2)
    with pytest.raises(KeyboardInterrupt):
        # Calls of 2, 2, 2, 1 steps per epoch: the 6th call ends at step 11.
        first.fit(x, y, epochs=3, verbose=0, callbacks=[
            Checkpointer(tmp_path, save_freq=3, data_position=data_position),
            _Crash(6)])
    assert first.global_step == 11

    resumed = _trainer(steps_per_execution=2)
    checkpointer = Checkpointer(tmp_path, save_freq=3,
                                data_position=data_position)
    epochs = _Epochs()
    resumed.fit(x, y, epochs=3, verbose=0, callbacks=[checkpointer, epochs])
    # Saved when step 9 (= epoch 1, step 2) was passed.
    assert checkpointer.restored_position == {"epoch": 1, "step": 2,
                                              "global_step": 9}
    assert epochs.seen == [1, 2]
    assert resumed.global_step == reference.global_step == 21
    for ours, theirs in zip(_values(resumed.model.variables)
                            + _values(resumed.optimizer.variables),
                            _values(reference.model.variables)
                            + _values(reference.optimizer.variables)):
        np.testing.assert_array_equal(ours, theirs)


def test_resume_without_the_data_position_would_differ(tmp_path):
    # The check above can fail: restarting the epoch's data from its start
    # (what resuming without the data position does) changes the weights.
    x, y = _data()
    reference = _trainer()
    reference.fit(x, y, epochs=2, verbose=0)
    first = _trainer()
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, y, epochs=2, verbose=0, callbacks=[
            Checkpointer(tmp_path, save_freq=3), _Crash(10)])
    folder = tmp_path / _folders(tmp_path)[-1]
    manifest = _manifest(folder)
    assert (manifest["epoch"], manifest["step"]) == (1, 2)
    # Neither the iterator nor a batch count: a fresh iterator, unskipped.
    manifest["iterator_saved"], manifest["batches"] = False, 0
    with open(folder / "trainer_state.json", "w") as f:
        json.dump(manifest, f)  # the checksums cover the other files
    resumed = _trainer()
    resumed.fit(x, y, epochs=2, verbose=0,
                callbacks=[Checkpointer(tmp_path)])
    kernel = resumed.model.variables[0].numpy()
    assert not np.array_equal(kernel, reference.model.variables[0].numpy())


class _StopAt(keras.callbacks.Callback):
    def __init__(self, global_step):
        super().__init__()
        self.global_step = global_step
        self.calls = 0

    def on_train_batch_end(self, batch, logs=None):
        self.calls += 1
        if self.calls == self.global_step:
            self.model.stop_training = True


def test_a_run_stopped_mid_epoch_resumes_inside_that_epoch(tmp_path):
    # stop_training mid-epoch: the epoch-end save records where it stopped.
    x, y = _data()
    reference = _trainer()
    reference.fit(x, y, epochs=2, verbose=0)
    _trainer().fit(x, y, epochs=2, verbose=0,
                   callbacks=[Checkpointer(tmp_path), _StopAt(10)])
    resumed = _trainer()
    checkpointer = Checkpointer(tmp_path)
    resumed.fit(x, y, epochs=2, verbose=0, callbacks=[checkpointer])
    assert checkpointer.restored_position == {"epoch": 1, "step": 3,
                                              "global_step": 10}
    for ours, theirs in zip(_values(resumed.model.variables),
                            _values(reference.model.variables)):
        np.testing.assert_array_equal(ours, theirs)


class _UnfreezeFromTheTop(keras.callbacks.Callback):
    """Epoch 0 trains the head, 1 adds dense_1, 2 adds dense_0."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.get_layer("dense_1").trainable = epoch >= 1
        self.model.get_layer("dense_0").trainable = epoch >= 2


def test_resume_after_layers_were_unfrozen_during_training(tmp_path):
    # The optimizer grew to [head, dense_1, dense_0] epoch by epoch; the
    # resumed one grows to [head, dense_0, dense_1] at once. Its slots must
    # still get each layer's own moments.
    def frozen_trainer():
        keras.utils.set_random_seed(1)
        model = kerasft.FeedforwardNetwork(hidden_units=(16, 16),
                                           num_classes=2)
        model.build((None, 8))
        kerasft.freeze(model, ["dense_0", "dense_1"])
        return Trainer(model, optimizer="adam", batch_size=16)

    x, y = _data(64)  # 4 steps per epoch
    reference = frozen_trainer()
    reference.fit(x, y, epochs=3, verbose=0,
                  callbacks=[_UnfreezeFromTheTop()])
    first = frozen_trainer()
    with pytest.raises(KeyboardInterrupt):
        first.fit(x, y, epochs=3, verbose=0, callbacks=[
            _UnfreezeFromTheTop(), Checkpointer(tmp_path, save_freq=2),
            _Crash(11)])
    resumed = frozen_trainer()
    checkpointer = Checkpointer(tmp_path, save_freq=2)
    resumed.fit(x, y, epochs=3, verbose=0,
                callbacks=[_UnfreezeFromTheTop(), checkpointer])
    assert checkpointer.restored_position["epoch"] == 2
    assert checkpointer.restored_position["step"] == 2
    for ours, theirs in zip(_values(resumed.model.variables),
                            _values(reference.model.variables)):
        np.testing.assert_array_equal(ours, theirs)


def test_truncated_newest_checkpoint_warns_and_falls_back(tmp_path):
    x, y = _data()
    trainer = _trainer()
    trainer.fit(x, y, epochs=2, verbose=0,
                callbacks=[Checkpointer(tmp_path, max_to_keep=2)])
    older, newest = (tmp_path / name for name in _folders(tmp_path))
    data_file = next(newest.glob("state.data-*"))
    size = data_file.stat().st_size
    with open(data_file, "r+b") as f:
        f.truncate(size // 2)

    restored = _trainer(seed=7)
    checkpointer = Checkpointer(tmp_path)
    epochs = _Epochs()
    with pytest.warns(UserWarning, match=str(data_file)) as record:
        restored.fit(x, y, epochs=2, verbose=0,
                     callbacks=[checkpointer, epochs])
    assert "truncated or corrupt" in str(record[0].message)
    assert checkpointer.restored_from == str(older)
    assert (tmp_path / (newest.name + ".corrupt")).is_dir()  # moved aside
    assert checkpointer.restored_position["epoch"] == 1
    assert epochs.seen == [1]  # the second epoch ran again


def test_a_crash_during_a_save_leaves_no_checkpoint(tmp_path, monkeypatch):
    # The process dies after the second checkpoint's files are written but
    # before the folder is renamed into place.
    x, y = _data()
    real_replace = os.replace

    def replace(source, target):
        if ".tmp-ckpt-" in str(source) and list(tmp_path.glob("ckpt-*")):
            raise KeyboardInterrupt("killed while saving")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt, match="while saving"):
        _trainer().fit(x, y, epochs=2, verbose=0,
                       callbacks=[Checkpointer(tmp_path)])
    monkeypatch.setattr(os, "replace", real_replace)
    (partial,) = tmp_path.glob(".tmp-ckpt-*")
    assert list(partial.glob("state.*"))  # written, but never a checkpoint
    assert _folders(tmp_path) == ["ckpt-000001"]

    checkpointer = Checkpointer(tmp_path)
    epochs = _Epochs()
    _trainer().fit(x, y, epochs=2, verbose=0,
                   callbacks=[checkpointer, epochs])
    assert checkpointer.restored_from == str(tmp_path / "ckpt-000001")
    assert epochs.seen == [1]
    assert not partial.exists()  # cleared at the next start


def test_checkpoint_without_its_manifest_is_skipped(tmp_path):
    # A folder renamed into place is whole; one missing its manifest (or a
    # leftover temporary folder) must never be taken as a checkpoint.
    x, y = _data()
    trainer = _trainer()
    trainer.fit(x, y, epochs=1, verbose=0,
                callbacks=[Checkpointer(tmp_path)])
    (tmp_path / ".tmp-ckpt-abc").mkdir()
    broken = tmp_path / "ckpt-000009"
    broken.mkdir()
    (broken / "state.index").write_bytes(b"")
    checkpointer = Checkpointer(tmp_path)
    with pytest.warns(UserWarning, match="trainer_state.json is missing"):
        assert checkpointer.latest_checkpoint() == str(
            tmp_path / "ckpt-000001")


def test_a_model_of_another_shape_is_a_clear_error(tmp_path):
    x, y = _data()
    _trainer(hidden=16).fit(x, y, epochs=1, verbose=0,
                            callbacks=[Checkpointer(tmp_path)])
    other = _trainer(hidden=32)
    epochs = _Epochs()
    with pytest.raises(ValueError) as error:
        other.fit(x, y, epochs=2, verbose=0,
                  callbacks=[Checkpointer(tmp_path), epochs])
    message = str(error.value)
    assert "dense_0/kernel" in message
    assert "(8, 32)" in message and "(8, 16)" in message
    assert str(tmp_path / "ckpt-000001") in message
    assert epochs.seen == [] and other.global_step == 0  # before training


def test_keras_model_fit_is_told_to_use_the_trainer(tmp_path):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="kerasft.Trainer.fit"):
        model.fit(np.zeros((4, 8)), np.zeros((4, 2)), verbose=0,
                  callbacks=[Checkpointer(tmp_path)])


def test_a_large_data_position_suggests_skip(tmp_path, monkeypatch):
    from kerasft.training import checkpointer as checkpointer_module

    # fit(x, y) shuffles over all 100 examples: the iterator's state holds
    # them (100 x 8 float32 = 3.2 kB, plus labels and bookkeeping).
    monkeypatch.setattr(checkpointer_module, "_LARGE_DATA_BYTES", 3200)
    x, y = _data()
    with pytest.warns(UserWarning, match="data_position='skip'"):
        _trainer().fit(x, y, epochs=1, verbose=0,
                       callbacks=[Checkpointer(tmp_path, save_freq=3)])
    sizes = [f.stat().st_size for f in (tmp_path / "ckpt-000003").iterdir()
             if f.name.startswith("data.")]
    assert sum(sizes) > x.nbytes


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="save_freq=0"):
        Checkpointer("/tmp/x", save_freq=0)
    with pytest.raises(ValueError, match="max_to_keep=0"):
        Checkpointer("/tmp/x", max_to_keep=0)
    with pytest.raises(ValueError, match="data_position='all'"):
        Checkpointer("/tmp/x", data_position="all")
    with pytest.raises(ValueError, match="never save"):
        Checkpointer("/tmp/x", save_on_epoch_end=False)


def _command(directory, out, delay):
    return [sys.executable, str(SCRIPT), "--directory", str(directory),
            "--out", str(out), "--step-delay", str(delay)]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_rerun_gives_the_uninterrupted_weights(
        tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), CUDA_VISIBLE_DEVICES="",
               TF_CPP_MIN_LOG_LEVEL="2")
    run = dict(cwd=REPO, env=env, stdout=subprocess.DEVNULL,
               stderr=subprocess.PIPE)
    # The uninterrupted run goes alongside the one that gets killed.
    reference = subprocess.Popen(
        _command(tmp_path / "ref_ckpt", tmp_path / "ref", 0.0), **run)
    command = _command(tmp_path / "ckpt", tmp_path / "out", 0.05)
    victim = subprocess.Popen(command, **run)
    # Wait for a checkpoint in the middle of the second epoch (16 steps per
    # epoch, saved every 4), then kill without warning.
    deadline = time.monotonic() + 120
    killed_at = None
    while killed_at is None:
        assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no mid-epoch checkpoint"
        for name in _folders(tmp_path / "ckpt") if (
                tmp_path / "ckpt").exists() else []:
            try:
                manifest = _manifest(tmp_path / "ckpt" / name)
            except (FileNotFoundError, json.JSONDecodeError):
                continue  # being deleted by the victim (max_to_keep)
            if manifest["epoch"] == 1 and manifest["step"] > 0:
                victim.send_signal(signal.SIGKILL)
                killed_at = manifest
                break
        time.sleep(0.02)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "out").exists()

    rerun = subprocess.run(command, timeout=120, **run)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert reference.wait(timeout=120) == 0, reference.stderr.read().decode()

    with open(tmp_path / "out" / "run.json") as f:
        resumed = json.load(f)
    position = resumed["restored_position"]
    # It resumed mid-epoch (at or after the checkpoint seen before the kill)
    # and ran the rest of that epoch, then the last one.
    assert position["epoch"] == 1 and 0 < position["step"] < 16
    assert position["global_step"] >= killed_at["global_step"]
    assert resumed["epochs"] == [1, 2]
    assert resumed["global_step"] == 48
    ours = np.load(tmp_path / "out" / "weights.npz")
    theirs = np.load(tmp_path / "ref" / "weights.npz")
    assert len(ours.files) == len(theirs.files) == 5
    for name in theirs.files:  # bit for bit: deterministic ops on CPU
        np.testing.assert_array_equal(ours[name], theirs[name])
