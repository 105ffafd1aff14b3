"""One small training run, the same under every strategy, for comparisons.

Logical CPU devices and MultiWorkerMirroredStrategy must be set up before
TensorFlow initializes, which the pytest process has long done, so the
multi-replica runs happen in fresh processes running this file:

    python tests/distribute_test_helper.py mirrored OUT.npz   # 2 logical CPUs
    TF_CONFIG=... python tests/distribute_test_helper.py multi_worker OUT.npz

and the single-device reference runs in the test process through
`train_and_evaluate(strategy)`. Each run writes the final weights and the
evaluation results (metrics and confusion matrix) to OUT.npz.
"""

import sys

import numpy as np

# 101 examples in batches of 16: six full batches and one of 5, which two
# replicas split 3 + 2, so the loss must be scaled by the global batch,
# not averaged per replica. 3 classes; labels depend on the features.
NUM_EXAMPLES, BATCH_SIZE, EPOCHS = 101, 16, 3


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(NUM_EXAMPLES, 6)).astype("float32")
    y = (np.abs(x[:, 0] * 2 + x[:, 1]).astype("int64")) % 3
    return x, y


def train_and_evaluate(strategy, **config):
    """Trains a FeedforwardNetwork under `strategy`; returns weights, logs."""
    import keras

    import kerasft

    x, y = data()

    def build():
        keras.utils.set_random_seed(0)
        # l2 > 0: the regularization loss must be counted once, not once
        # per replica. dropout 0: the runs must be deterministic.
        return kerasft.FeedforwardNetwork(hidden_units=(16,), num_classes=3,
                                          dropout=0.0, l2=1e-3)

    trainer = kerasft.Trainer(
        build, optimizer="sgd", learning_rate=0.1, strategy=strategy,
        metrics=["accuracy", "precision", "recall", "f1"],
        batch_size=BATCH_SIZE, **config,
    )
    history = trainer.fit(x, y, epochs=EPOCHS, verbose=0)
    results = trainer.evaluate(x, y, batch_size=BATCH_SIZE)
    # Examples this process's replicas get in one pass: the whole data set
    # for one process, its share for each worker of several.
    local_examples = 0
    for batch in trainer._distribute(  # the Trainer's own distribution
            trainer._as_dataset(x, y, BATCH_SIZE, shuffle=False, role="x")):
        for labels in strategy.experimental_local_results(batch[1]):
            local_examples += int(labels.shape[0])
    return {
        "local_examples": local_examples,
        "weights": [w.numpy() for w in trainer.model.weights],
        "results": results,
        "loss": history.history["loss"],
        "replicas": strategy.num_replicas_in_sync,
        "steps": trainer.global_step,
    }


def train_float16(strategy):
    """One epoch of mixed_float16 whose first steps overflow; returns
    weights, final loss scale and applied steps."""
    import keras

    import kerasft

    x, y = data()
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        def build():
            keras.utils.set_random_seed(0)
            return kerasft.FeedforwardNetwork(hidden_units=(16,),
                                              num_classes=3)

        # 2**24 times the loss overflows float16 in the backward pass: the
        # first steps are skipped (on every replica alike) and halve it.
        with strategy.scope():
            optimizer = keras.optimizers.LossScaleOptimizer(
                keras.optimizers.SGD(0.1), initial_scale=2.0 ** 24)
        trainer = kerasft.Trainer(build, optimizer=optimizer,
                                  strategy=strategy, batch_size=BATCH_SIZE)
        trainer.fit(x, y, epochs=1, verbose=0)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    return {
        "weights": [w.numpy() for w in trainer.model.weights],
        "scale": float(tf_value(optimizer.dynamic_scale)),
        "iterations": int(tf_value(optimizer.iterations)),
    }


def tf_value(variable):
    import tensorflow as tf

    return tf.convert_to_tensor(variable).numpy()


def save(run, path):
    arrays = {f"weight_{i}": w for i, w in enumerate(run["weights"])}
    arrays.update({f"result_{k}": np.asarray(v)
                   for k, v in run["results"].items()})
    arrays["loss"] = np.asarray(run["loss"])
    arrays["replicas"] = np.asarray(run["replicas"])
    arrays["steps"] = np.asarray(run["steps"])
    arrays["local_examples"] = np.asarray(run["local_examples"])
    arrays["jit_error"] = np.asarray(run.get("jit_error", ""))
    if "float16" in run:
        for i, w in enumerate(run["float16"]["weights"]):
            arrays[f"float16_weight_{i}"] = w
        arrays["float16_scale"] = np.asarray(run["float16"]["scale"])
        arrays["float16_iterations"] = np.asarray(
            run["float16"]["iterations"])
    np.savez(path, **arrays)


def load(path):
    with np.load(path) as arrays:
        weights = [arrays[f"weight_{i}"] for i in range(
            sum(k.startswith("weight_") for k in arrays.files))]
        results = {k[len("result_"):]: arrays[k] for k in arrays.files
                   if k.startswith("result_")}
        float16 = None
        if "float16_scale" in arrays.files:
            float16 = {
                "weights": [arrays[f"float16_weight_{i}"]
                            for i in range(len(weights))],
                "scale": float(arrays["float16_scale"]),
                "iterations": int(arrays["float16_iterations"]),
            }
        return {"weights": weights, "results": results, "float16": float16,
                "loss": arrays["loss"], "replicas": int(arrays["replicas"]),
                "steps": int(arrays["steps"]),
                "local_examples": int(arrays["local_examples"]),
                "jit_error": str(arrays["jit_error"])}


def main(mode, out):
    import kerasft

    if mode == "mirrored":
        kerasft.distribute.split_cpu(2)
        strategy = kerasft.get_strategy("mirrored")
    elif mode == "multi_worker":
        strategy = kerasft.get_strategy("multi_worker")
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    run = train_and_evaluate(strategy)
    if mode == "mirrored":
        run["float16"] = train_float16(strategy)
    # XLA with several CPU replicas cannot work in TF: a clear error first.
    try:
        kerasft.Trainer(kerasft.FeedforwardNetwork(hidden_units=(4,)),
                        strategy=strategy, jit_compile=True)
        run["jit_error"] = ""
    except ValueError as error:
        run["jit_error"] = str(error)
    save(run, out)


if __name__ == "__main__":
    main(*sys.argv[1:])
