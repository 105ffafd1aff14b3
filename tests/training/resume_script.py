"""A small training run that checkpoints; run by test_checkpointer.py.

The test kills it with SIGKILL in the middle of an epoch and starts the same
command again: the second process resumes from the newest checkpoint. At the
end it writes the model's variables (`weights.npz`) and what it saw
(`run.json`: the checkpoint it resumed from, the epochs it ran) to `--out`.

Dropout, a shuffled data set, Adam with a decaying learning rate: every
piece of state a resume must restore (dropout seed state, data and shuffle
position, optimizer moments and step count) changes the final weights.

    python tests/training/resume_script.py --directory /tmp/ckpt \
        --out /tmp/out --step-delay 0.1
"""

import argparse
import json
import os
import time

import kerasft  # first: selects the TensorFlow backend for Keras

# isort: split
import keras
import numpy as np
import tensorflow as tf

NUM_EXAMPLES = 256
BATCH_SIZE = 16  # 16 steps per epoch
EPOCHS = 3


class StepDelay(keras.callbacks.Callback):
    """Sleeps after each step, so a test can kill the run mid-epoch."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(self.seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--save-freq", type=int, default=4)
    parser.add_argument("--data-position", default="iterator")
    args = parser.parse_args(argv)

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(NUM_EXAMPLES, 8)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64")

    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.02, decay_steps=8, decay_rate=0.7)
    trainer = kerasft.Trainer(
        kerasft.FeedforwardNetwork(hidden_units=(32,), num_classes=2,
                                   dropout=0.3),
        optimizer=keras.optimizers.Adam(schedule),
        batch_size=BATCH_SIZE,
    )
    checkpointer = kerasft.Checkpointer(
        args.directory, save_freq=args.save_freq, max_to_keep=2,
        data_position=args.data_position)
    delay = StepDelay(args.step_delay)
    # fit(x, y) shuffles the arrays every epoch (a seeded tf.data shuffle).
    trainer.fit(x, y, epochs=EPOCHS, verbose=0,
                callbacks=[checkpointer, delay])

    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, "weights.npz"),
             *[v.numpy() for v in trainer.model.variables])
    with open(os.path.join(args.out, "run.json"), "w") as f:
        json.dump({"restored_position": checkpointer.restored_position,
                   "epochs": delay.epochs,
                   "global_step": trainer.global_step}, f)


if __name__ == "__main__":
    main()
