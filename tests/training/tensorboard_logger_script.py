"""A TensorBoardLogger run under a multi-replica strategy, in its own process.

Logical CPU devices and MultiWorkerMirroredStrategy must be set up before
TensorFlow initializes, so test_tensorboard_logger.py runs this file:

    python tests/training/tensorboard_logger_script.py mirrored LOG_DIR OUT
    TF_CONFIG=... python ... multi_worker LOG_DIR OUT

It trains a small FeedforwardNetwork for 2 epochs with a TensorBoardLogger
(step scalars, histograms with gradients, validation) writing to LOG_DIR,
and writes {"pid", "history", "replicas"} as JSON to OUT.
"""

import json
import os
import sys

import numpy as np


def main(mode, log_dir, out):
    import kerasft

    if mode == "mirrored":
        kerasft.distribute.split_cpu(2)
        strategy = kerasft.get_strategy("mirrored")
    elif mode == "multi_worker":
        strategy = kerasft.get_strategy("multi_worker")
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    trainer = kerasft.Trainer(
        lambda: kerasft.FeedforwardNetwork(hidden_units=(5,), num_classes=2),
        optimizer="sgd", learning_rate=0.1, strategy=strategy,
        metrics=["accuracy"], batch_size=16,
    )
    logger = kerasft.TensorBoardLogger(log_dir, update_freq=1,
                                       histogram_freq=1)
    history = trainer.fit(x, y, epochs=2, verbose=0, validation_data=(x, y),
                          callbacks=[logger])
    with open(out, "w") as f:
        json.dump({"pid": os.getpid(), "history": history.history,
                   "replicas": strategy.num_replicas_in_sync}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
