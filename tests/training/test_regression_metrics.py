"""Pearson and Spearman over whole sets, on one device and two replicas.

The two-replica run needs two logical CPU devices set up before TensorFlow
starts, so it runs this file as a script in a fresh process:

    python tests/training/test_regression_metrics.py OUT.npz
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from kerasft.training import (
    MultiLabelF1,
    PearsonCorrelation,
    SpearmanCorrelation,
)

REPO = Path(__file__).resolve().parents[2]

# 101 examples in batches of 16: the last batch of 5 splits 3 + 2 over two
# replicas, which then hold 51 and 50 values.
NUM_EXAMPLES, BATCH_SIZE = 101, 16


def _data(n=NUM_EXAMPLES, seed=0):
    """Two target columns around 100 (spread ~1), predictions correlated
    with them; column 1 of the predictions is rounded, so it has ties."""
    rng = np.random.default_rng(seed)
    y_true = 100.0 + rng.normal(size=(n, 2))
    y_pred = y_true + rng.normal(scale=[0.5, 1.5], size=(n, 2))
    y_pred[:, 1] = np.round(y_pred[:, 1] * 2) / 2
    y_true[:7, 0] = y_true[0, 0]  # ties in the targets too
    return y_true.astype("float32"), y_pred.astype("float32")


def _expected(function, y_true, y_pred):
    """Mean over columns of scipy's coefficient, in float64."""
    return np.mean([
        function(y_true[:, j].astype("float64"),
                 y_pred[:, j].astype("float64"))[0]
        for j in range(y_true.shape[1])
    ])


def _update_in_batches(metric, y_true, y_pred, batch_size=BATCH_SIZE,
                       weights=None):
    for start in range(0, len(y_true), batch_size):
        stop = start + batch_size
        metric.update_state(
            y_true[start:stop], y_pred[start:stop],
            sample_weight=None if weights is None else weights[start:stop])


@pytest.mark.parametrize("cls, function", [
    (PearsonCorrelation, stats.pearsonr),
    (SpearmanCorrelation, stats.spearmanr),
])
def test_whole_set_equals_scipy_not_a_mean_of_batches(cls, function):
    y_true, y_pred = _data(n=500)
    metric = cls(num_outputs=2)
    _update_in_batches(metric, y_true, y_pred)
    expected = _expected(function, y_true, y_pred)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-5)
    # The mean of the per-batch coefficients (Keras' way) is off by more
    # than the tolerance: the test tells the two apart.
    per_batch = np.mean([
        _expected(function, y_true[i:i + 16], y_pred[i:i + 16])
        for i in range(0, 496, 16)
    ])
    assert abs(per_batch - expected) > 1e-3


def test_pearson_keeps_float32_precision_far_from_zero():
    # Targets around 100 with a spread of 1: raw float32 sums would be off
    # by ~1e-3 here (Sxx - Sx^2 / n cancels four digits).
    y_true, y_pred = _data(n=2000, seed=1)
    metric = PearsonCorrelation(num_outputs=2)
    _update_in_batches(metric, y_true, y_pred, batch_size=64)
    expected = _expected(stats.pearsonr, y_true, y_pred)
    assert float(metric.result()) == pytest.approx(expected, abs=1e-5)


def test_pearson_under_tf_function_and_xla():
    y_true, y_pred = _data()
    for jit_compile in (False, True):
        metric = PearsonCorrelation(num_outputs=2)
        update = tf.function(metric.update_state, jit_compile=jit_compile)
        for start in range(0, NUM_EXAMPLES, 32):
            update(y_true[start:start + 32], y_pred[start:start + 32])
        assert float(metric.result()) == pytest.approx(
            _expected(stats.pearsonr, y_true, y_pred), abs=1e-5)


def test_pearson_weights_are_frequencies():
    y_true, y_pred = _data()
    weights = np.random.default_rng(2).integers(0, 4, NUM_EXAMPLES)
    metric = PearsonCorrelation(num_outputs=2)
    _update_in_batches(metric, y_true, y_pred,
                       weights=weights.astype("float32"))
    # Weight w counts an example w times (0 drops it).
    repeated = [np.repeat(a, weights, axis=0) for a in (y_true, y_pred)]
    assert float(metric.result()) == pytest.approx(
        _expected(stats.pearsonr, *repeated), abs=1e-5)
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4, 2\)"):
        metric.update_state(y_true[:4], y_pred[:4], np.ones((4, 2)))


def test_pearson_one_output_takes_flat_inputs_and_nan_without_spread():
    metric = PearsonCorrelation()
    metric.update_state([1.0, 2.0, 3.0], [[2.0], [4.0], [5.0]])
    assert float(metric.result()) == pytest.approx(
        stats.pearsonr([1, 2, 3], [2, 4, 5])[0], abs=1e-6)
    constant = PearsonCorrelation()
    constant.update_state([1.0, 2.0, 3.0], [7.0, 7.0, 7.0])
    assert np.isnan(float(constant.result()))  # scipy: NaN too


def test_spearman_capacity_exceeded_gives_nan():
    y_true, y_pred = _data()
    exact = SpearmanCorrelation(capacity=NUM_EXAMPLES, num_outputs=2)
    _update_in_batches(exact, y_true, y_pred)
    assert float(exact.result()) == pytest.approx(
        _expected(stats.spearmanr, y_true, y_pred), abs=1e-5)
    short = SpearmanCorrelation(capacity=NUM_EXAMPLES - 1, num_outputs=2)
    _update_in_batches(short, y_true, y_pred)
    assert np.isnan(float(short.result()))
    short.reset_state()  # a reset clears the overflow
    _update_in_batches(short, y_true[:50], y_pred[:50])
    assert float(short.result()) == pytest.approx(
        _expected(stats.spearmanr, y_true[:50], y_pred[:50]), abs=1e-5)


def test_spearman_refuses_sample_weight_and_compiles_with_xla():
    y_true, y_pred = _data()
    metric = SpearmanCorrelation(capacity=128, num_outputs=2)
    with pytest.raises(ValueError, match=r"does not support `sample_weight`"
                                         r".*Received: sample_weight="):
        metric.update_state(y_true, y_pred, sample_weight=np.ones(101))
    update = tf.function(metric.update_state, jit_compile=True)
    for start in range(0, NUM_EXAMPLES, 32):
        update(y_true[start:start + 32], y_pred[start:start + 32])
    assert float(metric.result()) == pytest.approx(
        _expected(stats.spearmanr, y_true, y_pred), abs=1e-5)


def test_config_round_trip_and_bad_arguments():
    metric = SpearmanCorrelation(capacity=512, num_outputs=3, name="rho")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric))
    assert isinstance(restored, SpearmanCorrelation)
    assert (restored.capacity, restored.num_outputs, restored.name) == (
        512, 3, "rho")
    assert restored.targets.shape == (512, 3)
    pearson = PearsonCorrelation.from_config(
        PearsonCorrelation(num_outputs=2).get_config())
    assert pearson.num_outputs == 2 and pearson.name == "pearson"
    with pytest.raises(ValueError, match=r"capacity=1"):
        SpearmanCorrelation(capacity=1)
    with pytest.raises(ValueError, match=r"num_outputs=0"):
        PearsonCorrelation(num_outputs=0)
    with pytest.raises(ValueError, match=r"y_pred of shape \(4, 3\)"):
        PearsonCorrelation(num_outputs=2).update_state(
            np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"y_true of shape \(4,\)"):
        SpearmanCorrelation(num_outputs=2).update_state(
            np.zeros(4), np.zeros((4, 2)))


# ------------------------------------------------------- two CPU replicas
def _replica_run(out):
    """Run in a fresh process: the metrics updated on 2 replicas."""
    import kerasft

    kerasft.distribute.split_cpu(2)
    strategy = kerasft.get_strategy("mirrored")
    y_true, y_pred = _data()
    with strategy.scope():
        metrics = [
            PearsonCorrelation(num_outputs=2),
            # 101 values fit 101 slots exactly: replica 0 writes slots 0,
            # 2, ..., 100 (51 values), replica 1 slots 1, ..., 99 (50).
            SpearmanCorrelation(capacity=NUM_EXAMPLES, num_outputs=2),
            SpearmanCorrelation(capacity=NUM_EXAMPLES - 1, num_outputs=2,
                                name="short"),
            MultiLabelF1(num_labels=2, average="micro"),
        ]
    dataset = tf.data.Dataset.from_tensor_slices((y_true, y_pred)).batch(
        BATCH_SIZE)

    def update(targets, predictions):
        for metric in metrics[:3]:
            metric.update_state(targets, predictions)
        metrics[3].update_state(targets > 100.0,
                                tf.sigmoid(predictions - 100.0))
        return tf.shape(targets)[0]

    @tf.function
    def step(batch):
        sizes = strategy.run(update, args=batch)
        return strategy.experimental_local_results(sizes)

    local_sizes = []
    for batch in strategy.experimental_distribute_dataset(dataset):
        local_sizes.append([int(s) for s in step(batch)])
    results = {m.name: float(m.result()) for m in metrics}
    np.savez(out, local_sizes=np.array(local_sizes),
             replicas=strategy.num_replicas_in_sync,
             filled=metrics[1].filled.numpy(), **results)


@pytest.mark.slow  # a fresh TF process
def test_two_replicas_give_the_one_device_results(tmp_path):
    out = tmp_path / "run.npz"
    path = [str(REPO)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, KERAS_BACKEND="tensorflow",
               PYTHONPATH=os.pathsep.join(path))
    process = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(out)], cwd=REPO,
        env=env, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout[-2000:] + (
        process.stderr[-4000:])
    with np.load(out) as run:
        assert int(run["replicas"]) == 2
        assert run["local_sizes"].tolist()[-1] == [3, 2]  # uneven split
        assert run["filled"].tolist() == [1.0] * NUM_EXAMPLES  # the union
        y_true, y_pred = _data()
        assert float(run["pearson"]) == pytest.approx(
            _expected(stats.pearsonr, y_true, y_pred), abs=1e-5)
        assert float(run["spearman"]) == pytest.approx(
            _expected(stats.spearmanr, y_true, y_pred), abs=1e-5)
        assert np.isnan(float(run["short"]))  # replica 0 needs slot 100
        one_device = MultiLabelF1(num_labels=2, average="micro")
        one_device.update_state(y_true > 100, tf.sigmoid(y_pred - 100.0))
        assert float(run["micro_f1"]) == pytest.approx(
            float(one_device.result()), abs=1e-6)


if __name__ == "__main__":
    _replica_run(sys.argv[1])
