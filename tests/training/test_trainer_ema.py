"""The Trainer finalizes an optimizer's weight average, as `fit` does."""

import keras
import numpy as np

import kerasft


class RecordWeights(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.seen = getattr(self, "seen", []) + [
            [w.numpy().copy() for w in self.model.trainable_weights]]


def test_fit_ends_with_the_moving_average_of_the_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = kerasft.FeedforwardNetwork(hidden_units=(8,), num_classes=2)
    momentum = 0.8
    optimizer = keras.optimizers.Adam(0.05, use_ema=True,
                                      ema_momentum=momentum)
    trainer = kerasft.Trainer(model, optimizer=optimizer)
    recorder = RecordWeights()
    trainer.fit(x, y, batch_size=16, epochs=2, verbose=0,
                callbacks=[recorder])
    # By hand: the first step's weights, then avg = m * avg + (1 - m) * w.
    average = recorder.seen[0]
    for weights in recorder.seen[1:]:
        average = [momentum * a + (1 - momentum) * w
                   for a, w in zip(average, weights)]
    final = [w.numpy() for w in model.trainable_weights]
    for got, expected, last in zip(final, average, recorder.seen[-1]):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert not np.allclose(got, last)  # it is not just the last step
