"""Strategies by name, and proof that several replicas train like one.

The multi-replica runs need logical CPU devices or TF_CONFIG set before
TensorFlow starts, so they run `tests/distribute_test_helper.py` in fresh
processes (see there); the single-device reference runs here.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import distribute_test_helper as helper
import numpy as np
import pytest
import tensorflow as tf

import kerasft
from kerasft import distribute

HELPER = Path(helper.__file__).resolve()
REPO = HELPER.parents[1]
HAS_GPU = bool(tf.config.list_physical_devices("GPU"))


# ------------------------------------------------------------ get_strategy
def test_cpu_and_auto_on_a_cpu_machine():
    strategy = kerasft.get_strategy("cpu")
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert strategy.extended.worker_devices[0].endswith("CPU:0")
    if HAS_GPU or distribute._tpu_hint():
        pytest.skip("'auto' picks an accelerator on this machine")
    auto = kerasft.get_strategy()
    assert auto is tf.distribute.get_strategy()  # the default one
    assert auto.num_replicas_in_sync == 1


def test_mirrored_over_named_devices():
    strategy = kerasft.get_strategy("mirrored", devices=["CPU:0"])
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 1
    assert strategy.extended.worker_devices[0].endswith("device:CPU:0")


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")
def test_missing_gpu_names_the_devices_found():
    with pytest.raises(distribute.DeviceNotFoundError,
                       match=r"gpu requested but found devices: CPU:0\."):
        kerasft.get_strategy("gpu")
    with pytest.raises(distribute.DeviceNotFoundError,
                       match=r"requested device 'GPU:1' but found devices: "
                             r"CPU:0"):
        kerasft.get_strategy("mirrored", devices=["CPU:0", "GPU:1"])


def test_missing_tpu_names_the_devices_found(monkeypatch):
    if distribute._tpu_hint() and not any(
            os.environ.get(v) for v in ("TPU_NAME", "COLAB_TPU_ADDR")):
        pytest.skip("this machine has TPU chips")
    for variable in ("TPU_NAME", "COLAB_TPU_ADDR",
                     "KUBE_GOOGLE_CLOUD_TPU_ENDPOINTS"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(distribute.DeviceNotFoundError,
                       match=r"tpu requested but found devices: CPU:0"):
        kerasft.get_strategy("tpu")


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"name": "gpus"}, r"Received: name='gpus'. Expected one of "
                           r"\['auto', 'cpu', 'gpu', 'mirrored', "
                           r"'multi_worker', 'tpu'\]"),
        ({"name": "cpu", "devices": ["CPU:0"]},
         r"`devices` only applies to .*name='cpu'"),
        ({"name": "mirrored", "devices": "CPU:0"},
         r"non-empty list .*devices='CPU:0'"),
        ({"name": "mirrored", "devices": ["CPU:0", "/cpu:0"]},
         r"lists a device twice"),
        ({"name": "cpu", "tpu": "local"}, r"`tpu` only applies"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        kerasft.get_strategy(**kwargs)


@pytest.mark.parametrize(
    "tf_config, pattern",
    [
        (None, r"TF_CONFIG environment variable, which is not set"),
        ("{cluster", r"TF_CONFIG is not valid JSON"),
        ('{"cluster": {"chief": ["h:1"]}, "task": {"type": "worker", '
         '"index": 0}}', r"must list the workers as cluster.worker"),
        ('{"cluster": {"worker": ["h:1"]}}', r"must say which task"),
        ('{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": '
         '"worker", "index": 2}}', r"task 'worker' #2 is not in its cluster"),
    ],
)
def test_multi_worker_needs_a_valid_tf_config(monkeypatch, tf_config,
                                              pattern):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=pattern):
        kerasft.get_strategy("multi_worker")


def test_split_cpu_after_start_up_is_a_clear_error():
    tf.constant(1.0)  # TF is initialized (and was, by earlier tests)
    assert len(distribute.split_cpu(1)) == 1  # what it is already: no-op
    with pytest.raises(RuntimeError,
                       match=r"split_cpu\(2\) must run before TensorFlow "
                             r"initializes .* 1 logical CPU device\(s\): "
                             r"CPU:0"):
        distribute.split_cpu(2)
    with pytest.raises(ValueError, match=r"num_devices=0"):
        distribute.split_cpu(0)


# ------------------------------------------ several replicas train like one
@pytest.fixture(scope="module")
def single_device_run():
    return helper.train_and_evaluate(tf.distribute.get_strategy())


def _run_helper(mode, out, env=None):
    environment = dict(os.environ if env is None else env)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [environment.get("PYTHONPATH")] if p])
    return subprocess.Popen(
        [sys.executable, str(HELPER), mode, str(out)], cwd=REPO,
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)


def _wait(processes, timeout):
    """Waits for all; kills all and fails on a timeout or a crash."""
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=timeout)[0])
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        pytest.fail(f"distributed run did not finish in {timeout} s")
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-4000:]


def _assert_same_run(ours, reference):
    assert ours["steps"] == reference["steps"] == 21  # 7 batches x 3 epochs
    for got, expected in zip(ours["weights"], reference["weights"]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours["loss"], reference["loss"], rtol=1e-5)
    results, expected = ours["results"], reference["results"]
    assert set(results) == set(expected)
    np.testing.assert_array_equal(results["confusion_matrix"],
                                  expected["confusion_matrix"])
    assert results["confusion_matrix"].sum() == helper.NUM_EXAMPLES
    for name in ("loss", "accuracy", "precision", "recall", "f1"):
        np.testing.assert_allclose(results[name], expected[name], rtol=1e-5,
                                   err_msg=name)


@pytest.mark.slow  # a fresh TF process: ~15 s of CPU
def test_mirrored_two_cpu_replicas_match_one_device(single_device_run,
                                                    tmp_path):
    """Same weights, loss and metrics as one device, same global batch.

    The last batch of each epoch (5 examples) splits 3 + 2 over the
    replicas; Keras' losses already divide by the 2 replicas, so the
    weights would be off by ~1e-2 if the Trainer divided again, or if it
    averaged the replicas' means instead of weighting each example once.
    """
    _wait([_run_helper("mirrored", tmp_path / "run.npz")], timeout=600)
    run = helper.load(tmp_path / "run.npz")
    assert run["replicas"] == 2
    assert run["local_examples"] == helper.NUM_EXAMPLES  # both replicas here
    _assert_same_run(run, single_device_run)
    assert "jit_compile=True` with several replicas needs GPU" in (
        run["jit_error"])

    # float16 loss scaling: the overflowing first steps are skipped on both
    # replicas, and the scale and weights end as on one device.
    float16, reference = run["float16"], helper.train_float16(
        tf.distribute.get_strategy())
    assert float16["scale"] == reference["scale"] < 2.0 ** 24
    assert float16["iterations"] == reference["iterations"] >= 1
    for got, expected in zip(float16["weights"], reference["weights"]):
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_multi_worker_two_processes_match_one_process(single_device_run,
                                                      tmp_path):
    """Two MultiWorkerMirroredStrategy workers on 127.0.0.1, one CPU each.

    Each worker reads its half of every global batch (51 + 50 examples),
    and the evaluation counts are summed across workers.
    """
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({
            "cluster": {"worker": workers},
            "task": {"type": "worker", "index": index},
        }))
        processes.append(_run_helper("multi_worker",
                                     tmp_path / f"worker{index}.npz", env))
    _wait(processes, timeout=600)
    runs = [helper.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    assert [run["replicas"] for run in runs] == [2, 2]
    assert sorted(run["local_examples"] for run in runs) == [50, 51]
    for run in runs:
        _assert_same_run(run, single_device_run)
