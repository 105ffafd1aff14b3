"""TensorBoardLogger: event files read back with TensorBoard's own reader,
and a real `tensorboard` server asked over HTTP.

One small run (a feed-forward net, 8 steps per epoch, 2 epochs,
`steps_per_execution=3`, a decaying learning rate, validation, histograms
every epoch, a profile of steps 2-3) is trained once for the module; the
tests read what it wrote.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

import kerasft
from kerasft.training import tensorboard_logger

STEPS_PER_EPOCH = 8  # 64 examples, batch 8
EPOCHS = 2
STEPS_PER_EXECUTION = 3
UPDATE_FREQ = 4


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    return x, y


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("tensorboard") / "run"
    x, y = _data()
    # Not shuffled: the gradient histograms' batch is x[:8], y[:8].
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.05, decay_steps=4, decay_rate=0.5)
    keras.utils.set_random_seed(0)
    trainer = kerasft.Trainer(
        kerasft.FeedforwardNetwork(hidden_units=(5,), num_classes=2),
        optimizer="adam", learning_rate=schedule,
        metrics=["accuracy", "f1"], steps_per_execution=STEPS_PER_EXECUTION,
    )
    logger = kerasft.TensorBoardLogger(
        log_dir, update_freq=UPDATE_FREQ, histogram_freq=1,
        profile_steps=(2, 3), hparams={"data": "two_gaussians"},
    )
    history = trainer.fit(train, epochs=EPOCHS, verbose=0,
                          validation_data=(x[:32], y[:32]),
                          callbacks=[logger])
    return {"log_dir": log_dir, "history": history.history,
            "trainer": trainer, "schedule": schedule, "x": x, "y": y}


def _load(folder):
    accumulator = event_accumulator.EventAccumulator(
        str(folder),
        size_guidance={event_accumulator.TENSORS: 0},  # 0: keep all
    )
    accumulator.Reload()
    return accumulator


def _scalars(accumulator, tag):
    """{step: value} of a tf.summary.scalar tag."""
    return {event.step: float(tf.make_ndarray(event.tensor_proto))
            for event in accumulator.Tensors(tag)}


def test_epoch_scalars_match_history(run):
    history = run["history"]
    train = _load(run["log_dir"] / "train")
    validation = _load(run["log_dir"] / "validation")
    for name in ("loss", "accuracy", "f1", "learning_rate"):
        logged = _scalars(train, f"epoch_{name}")
        assert sorted(logged) == list(range(EPOCHS))  # epoch index axis
        np.testing.assert_allclose(
            [logged[e] for e in range(EPOCHS)], history[name], rtol=1e-6)
    for name in ("loss", "accuracy", "f1"):
        logged = _scalars(validation, f"epoch_{name}")
        np.testing.assert_allclose(
            [logged[e] for e in range(EPOCHS)], history[f"val_{name}"],
            rtol=1e-6)
    # Keras' convention: validation also against the optimizer step.
    vs_steps = _scalars(validation, "evaluation_loss_vs_iterations")
    assert sorted(vs_steps) == [STEPS_PER_EPOCH * (e + 1)
                                for e in range(EPOCHS)]
    assert vs_steps[STEPS_PER_EPOCH * EPOCHS] == pytest.approx(
        history["val_loss"][-1], rel=1e-6)


def test_step_scalars_at_the_end_of_calls_every_update_freq(run):
    train = _load(run["log_dir"] / "train")
    # Calls of 3 steps, the last one of an epoch shorter: (0, 3], (3, 6],
    # (6, 8], (8, 11], ... A call is logged, at its last step, if it
    # contains a multiple of UPDATE_FREQ.
    call_ends = []
    for epoch in range(EPOCHS):
        start = epoch * STEPS_PER_EPOCH
        ends = range(start + STEPS_PER_EXECUTION,
                     start + STEPS_PER_EPOCH, STEPS_PER_EXECUTION)
        call_ends += list(ends) + [start + STEPS_PER_EPOCH]
    expected, previous = [], 0
    for end in call_ends:
        if any(s % UPDATE_FREQ == 0 for s in range(previous + 1, end + 1)):
            expected.append(end)
        previous = end
    assert expected == [6, 8, 14, 16]  # the rule above, spelled out
    for tag in ("batch_loss", "batch_accuracy", "batch_f1",
                "batch_learning_rate"):
        assert sorted(_scalars(train, tag)) == expected, tag
    # The learning rate at step s is the schedule's at iteration s.
    rates = _scalars(train, "batch_learning_rate")
    for step, value in rates.items():
        assert value == pytest.approx(float(run["schedule"](step)),
                                      rel=1e-6)
    # The running loss at the end of the run is the epoch's mean loss.
    assert _scalars(train, "batch_loss")[16] == pytest.approx(
        run["history"]["loss"][-1], rel=1e-6)


def _histogram(accumulator, tag):
    """{step: (min edge, max edge, count)} of a tf.summary.histogram."""
    out = {}
    for event in accumulator.Tensors(tag):
        buckets = tf.make_ndarray(event.tensor_proto)  # (k, 3): l, r, n
        out[event.step] = (buckets[0, 0], buckets[-1, 1],
                           buckets[:, 2].sum())
    return out


def test_weight_and_gradient_histograms(run):
    train = _load(run["log_dir"] / "train")
    model = run["trainer"].model
    kernel = model.get_layer("logits").kernel
    weights = _histogram(train, f"weights/{kernel.path}")
    gradients = _histogram(train, f"gradients/{kernel.path}")
    assert sorted(weights) == sorted(gradients) == list(range(EPOCHS))
    # The last histograms are of the final weights, and of the gradient
    # of the mean loss on the first batch at those weights.
    final = kernel.numpy()
    low, high, count = weights[EPOCHS - 1]
    assert (low, high) == pytest.approx((final.min(), final.max()),
                                        rel=1e-5)
    assert count == final.size
    x, y = run["x"][:8], run["y"][:8]
    with tf.GradientTape() as tape:
        logits = model(x, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(
            y, logits, from_logits=True)
        loss = tf.reduce_mean(loss)
    expected = tape.gradient(loss, kernel).numpy()
    low, high, count = gradients[EPOCHS - 1]
    assert (low, high) == pytest.approx(
        (expected.min(), expected.max()), rel=1e-4, abs=1e-7)
    assert count == expected.size


def _text(accumulator, tag):
    event = accumulator.Tensors(tag)[0]
    return tf.make_ndarray(event.tensor_proto).item().decode()


def test_configuration_in_hparams_and_text(run):
    root = _load(run["log_dir"])
    trainer = run["trainer"]
    content = root.SummaryMetadata(
        hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = hparams_metadata.parse_session_start_info_plugin_data(content)
    hparams = {}
    for name, value in info.hparams.items():
        kind = value.WhichOneof("kind")
        hparams[name] = getattr(value, kind)
    assert hparams["steps_per_execution"] == STEPS_PER_EXECUTION
    assert hparams["batch_size"] == 8
    assert hparams["learning_rate"] == pytest.approx(0.05)
    assert hparams["learning_rate_schedule"] == "ExponentialDecay"
    assert hparams["learning_rate_schedule.decay_steps"] == 4
    assert hparams["optimizer"] == "Adam"
    assert hparams["optimizer.beta_1"] == pytest.approx(0.9)
    assert hparams["model.num_classes"] == 2
    assert hparams["model.hidden_units"] == "[5]"
    assert hparams["data"] == "two_gaussians"  # given by the user

    text = _text(root, "config")
    assert text.startswith("```json\n") and text.endswith("\n```")
    config = json.loads(text[len("```json\n"):-len("\n```")])
    assert config["training_config"] == dataclasses.asdict(trainer.config)
    assert config["model"]["class"] == "FeedforwardNetwork"
    assert config["metrics"] == ["accuracy", "f1"]
    assert config["hparams"] == {"data": "two_gaussians"}


def test_profile_of_the_requested_steps(run):
    profiles = list((run["log_dir"] / "train" / "plugins" / "profile").glob(
        "*/*.xplane.pb"))
    assert len(profiles) == 1, profiles
    assert profiles[0].stat().st_size > 0


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# `tensorboard` as `pip install tensorboard` without TensorFlow runs it:
# the module `tensorboard.compat.notf` makes it use its own file reader
# instead of importing TensorFlow, which would take 3x longer to start
# (9 s vs 3 s here on a loaded machine). Same server, same HTTP API.
_TENSORBOARD_WITHOUT_TF = (
    "import sys, types; "
    "sys.modules['tensorboard.compat.notf'] = types.ModuleType('notf'); "
    "sys.argv[0] = 'tensorboard'; "
    "from tensorboard.main import run_main; run_main()"
)


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_tensorboard_server_serves_the_run(run):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", _TENSORBOARD_WITHOUT_TF, "--logdir",
         str(run["log_dir"]), "--host", "127.0.0.1", "--port", str(port),
         # The Python reader, the same on every platform.
         "--load_fast=false", "--reload_interval=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        tags = {}
        while not {"train", "validation"} <= set(tags):
            if server.poll() is not None:
                pytest.fail("tensorboard exited: "
                            + server.stderr.read().decode()[-2000:])
            if time.monotonic() > deadline:
                pytest.fail(f"tensorboard did not serve the run in 60 s; "
                            f"tags so far: {tags}")
            time.sleep(0.3)
            try:
                tags = _get_json(f"{base}/data/plugin/scalars/tags")
            except OSError:  # not listening yet
                pass
        assert {"epoch_loss", "batch_loss", "batch_learning_rate",
                "epoch_f1"} <= set(tags["train"])
        assert "evaluation_loss_vs_iterations" in tags["validation"]
        served = _get_json(
            f"{base}/data/plugin/scalars/scalars?run=train&tag=epoch_loss")
        # [[wall_time, step, value], ...]
        from_file = _scalars(_load(run["log_dir"] / "train"), "epoch_loss")
        assert {step: value for _, step, value in served} == pytest.approx(
            from_file)
        assert served[-1][2] == pytest.approx(run["history"]["loss"][-1])
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_without_histograms_training_is_unchanged(tmp_path):
    # Seeded, reshuffled array input: reading even one batch elsewhere
    # would change the order of the examples, and so the weights.
    x, y = _data()
    weights = []
    for callbacks in ([], [kerasft.TensorBoardLogger(tmp_path,
                                                     update_freq=1)]):
        keras.utils.set_random_seed(1)
        trainer = kerasft.Trainer(
            kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=2),
            optimizer="sgd", learning_rate=0.1)
        trainer.fit(x, y, batch_size=8, epochs=2, verbose=0,
                    callbacks=callbacks)
        weights.append([w.numpy() for w in trainer.model.weights])
    for with_logger, without in zip(weights[1], weights[0]):
        np.testing.assert_array_equal(with_logger, without)
    # The batch size came from the pipeline, not from reading it.
    content = _load(tmp_path).SummaryMetadata(
        hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    info = hparams_metadata.parse_session_start_info_plugin_data(content)
    assert info.hparams["batch_size"].number_value == 8


def test_evaluate_logs_against_the_step(run, tmp_path):
    logger = kerasft.TensorBoardLogger(tmp_path)
    results = run["trainer"].evaluate(run["x"], run["y"],
                                      callbacks=[logger])
    logged = _scalars(_load(tmp_path / "validation"),
                      "evaluation_accuracy_vs_iterations")
    assert logged == {STEPS_PER_EPOCH * EPOCHS: pytest.approx(
        results["accuracy"], rel=1e-6)}


def test_only_the_chief_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(tensorboard_logger, "is_chief", lambda strategy: False)
    x, y = _data()
    trainer = kerasft.Trainer(
        kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=2))
    logger = kerasft.TensorBoardLogger(tmp_path / "run", update_freq=1,
                                       histogram_freq=1)
    history = trainer.fit(x, y, batch_size=32, epochs=1, verbose=0,
                          validation_data=(x, y), callbacks=[logger])
    assert len(history.history["loss"]) == 1  # it did train
    assert not (tmp_path / "run").exists()


# ------------------------------- multi-replica runs, in fresh processes
SCRIPT = Path(__file__).with_name("tensorboard_logger_script.py")
REPO = Path(__file__).resolve().parents[2]


def _start_script(mode, log_dir, out, tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), mode, str(log_dir), str(out)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def _wait_all(processes, timeout):
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in processes]
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
            process.wait()
        pytest.fail(f"the run did not finish in {timeout} s")
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]


def _check_logged_run(log_dir, history):
    train = _load(log_dir / "train")
    epoch_loss = _scalars(train, "epoch_loss")
    np.testing.assert_allclose([epoch_loss[0], epoch_loss[1]],
                               history["loss"], rtol=1e-6)
    assert sorted(_scalars(train, "batch_loss")) == list(range(1, 9))
    tags = train.Tags()["tensors"]
    kernel = "feedforward_network/logits/kernel"
    assert f"weights/{kernel}" in tags and f"gradients/{kernel}" in tags
    validation = _load(log_dir / "validation")
    assert _scalars(validation, "epoch_loss")[1] == pytest.approx(
        history["val_loss"][-1], rel=1e-6)


@pytest.mark.slow
def test_under_mirrored_strategy_two_replicas(tmp_path):
    log_dir, out = tmp_path / "run", tmp_path / "out.json"
    _wait_all([_start_script("mirrored", log_dir, out)], timeout=240)
    result = json.loads(out.read_text())
    assert result["replicas"] == 2
    _check_logged_run(log_dir, result["history"])


@pytest.mark.slow
def test_multi_worker_only_the_chief_writes(tmp_path):
    """Two MultiWorkerMirroredStrategy workers share one log_dir."""
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        workers = [f"127.0.0.1:{s.getsockname()[1]}" for s in (a, b)]
    log_dir = tmp_path / "run"
    processes = [
        _start_script("multi_worker", log_dir, tmp_path / f"out{index}.json",
                      {"cluster": {"worker": workers},
                       "task": {"type": "worker", "index": index}})
        for index in range(2)
    ]
    _wait_all(processes, timeout=300)
    results = [json.loads((tmp_path / f"out{i}.json").read_text())
               for i in range(2)]
    assert [r["replicas"] for r in results] == [2, 2]
    _check_logged_run(log_dir, results[0]["history"])
    # Event file names end in <host>.<pid>.<n>.v2: all from worker 0.
    events = list(log_dir.rglob("events.out.tfevents.*"))
    assert len(events) == 3  # log_dir (config), train, validation
    pids = {int(path.name.split(".")[-3]) for path in events}
    assert pids == {results[0]["pid"]}, (pids, results)


def _strategy(cluster, task_type, task_id):
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)
    return type("FakeStrategy", (), {"cluster_resolver": resolver})()


def test_is_chief():
    workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    with_chief = dict(workers, chief=["127.0.0.1:3"])
    assert tensorboard_logger.is_chief(tf.distribute.get_strategy())
    assert tensorboard_logger.is_chief(_strategy(workers, "worker", 0))
    assert not tensorboard_logger.is_chief(_strategy(workers, "worker", 1))
    assert tensorboard_logger.is_chief(_strategy(with_chief, "chief", 0))
    assert not tensorboard_logger.is_chief(
        _strategy(with_chief, "worker", 0))
    assert not tensorboard_logger.is_chief(
        _strategy(dict(workers, evaluator=["127.0.0.1:4"]), "evaluator", 0))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"update_freq": 0}, "update_freq=0"),
        ({"update_freq": "hourly"}, "update_freq='hourly'"),
        ({"update_freq": True}, "update_freq=True"),
        ({"histogram_freq": -1}, "histogram_freq=-1"),
        ({"histogram_freq": 1.5}, "histogram_freq=1.5"),
        ({"histogram_unit": "batch"}, "histogram_unit='batch'"),
        ({"profile_steps": 5}, "profile_steps=5"),
        ({"profile_steps": (0, 3)}, r"profile_steps=\(0, 3\)"),
        ({"profile_steps": (5, 2)}, r"profile_steps=\(5, 2\)"),
        ({"profile_steps": (1, 2, 3)}, r"profile_steps=\(1, 2, 3\)"),
        ({"hparams": {"layers": [1, 2]}}, r"hparams\['layers'\]=\[1, 2\]"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        kerasft.TensorBoardLogger(tmp_path, **kwargs)


def test_with_plain_keras_fit(tmp_path):
    # Without the Trainer: scalars and weight histograms, no gradients.
    x, y = _data()
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(
        from_logits=True))
    logger = kerasft.TensorBoardLogger(tmp_path, histogram_freq=1)
    with pytest.warns(UserWarning, match="gradient histograms only"):
        history = model.fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    train = _load(tmp_path / "train")
    assert _scalars(train, "epoch_loss")[0] == pytest.approx(
        history.history["loss"][0], rel=1e-6)
    tags = train.Tags()["tensors"]
    assert any(t.startswith("weights/") for t in tags)
    assert not any(t.startswith("gradients/") for t in tags)
    assert os.listdir(tmp_path)  # the config too
