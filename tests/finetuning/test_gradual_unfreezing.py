import re

import keras
import numpy as np
import pytest
from bert_test_helper import EMBEDDINGS
from bert_test_helper import HEAD
from bert_test_helper import LAYER
from bert_test_helper import POOLER
from bert_test_helper import snapshot
from bert_test_helper import tiny_classifier
from bert_test_helper import tiny_dataset
from bert_test_helper import trained_count

import kerasft
from kerasft.finetuning import GradualUnfreezing


class Recorder(keras.callbacks.Callback):
    """Records, at each epoch's end, what trained and the watched weights."""

    def __init__(self, watched):
        super().__init__()
        self.watched = watched
        self.counts = []
        self.values = []

    def on_epoch_end(self, epoch, logs=None):
        self.counts.append(trained_count(self.model))
        self.values.append(snapshot(self.watched.values()))


def test_trainer_unfreezes_one_layer_per_epoch_from_the_top():
    # pooling="pooled": the pooler takes part, so it moves once unfrozen.
    model = tiny_classifier(num_layers=2, pooling="pooled")
    backbone = model.backbone
    watched = {
        "embeddings": backbone.get_layer("token_embedding").embeddings,
        "layer_0": backbone.transformer_layers[0].weights[0],
        "layer_1": backbone.transformer_layers[1].weights[0],
        "pooler": backbone.get_layer("pooled_dense").kernel,
        "head": model.head.kernel,
    }
    start = snapshot(watched.values())
    recorder = Recorder(watched)
    trainer = kerasft.Trainer(model, optimizer="adam", learning_rate=1e-2)
    trainer.fit(tiny_dataset(batch_size=4), epochs=4, verbose=0,
                callbacks=[GradualUnfreezing(), recorder])

    assert recorder.counts == [
        HEAD,
        HEAD + POOLER + LAYER,
        HEAD + POOLER + 2 * LAYER,
        HEAD + POOLER + 2 * LAYER + EMBEDDINGS,  # all: full fine-tuning
    ]
    assert recorder.counts[-1] == model.count_params()
    assert trainer.trace_counts["train"] == 4  # one rebuild per change
    # Epoch e moved the weights that trained in it, and only those.
    first_epoch_moving = {"head": 0, "pooler": 1, "layer_1": 1, "layer_0": 2,
                          "embeddings": 3}
    before = start
    for epoch, after in enumerate(recorder.values):
        for name, old, new in zip(watched, before, after):
            moved = not np.array_equal(old, new)
            assert moved == (epoch >= first_epoch_moving[name]), (
                f"{name} in epoch {epoch}")
        before = after


def test_stages_follow_the_epoch_index():
    model = tiny_classifier(num_layers=2)
    callback = GradualUnfreezing(every_n_epochs=2, unfreeze_embeddings=False)
    callback.set_model(model)
    counts = []
    for epoch in [0, 1, 2, 3, 4, 5, 6, 9, 3]:  # 3 again: a resumed run
        callback.on_epoch_begin(epoch)
        counts.append(trained_count(model))
    one, two = HEAD + POOLER + LAYER, HEAD + POOLER + 2 * LAYER
    assert counts == [HEAD, HEAD, one, one, two, two, two, two, one]
    assert callback.stage == 1
    assert not model.backbone.get_layer("token_embedding").trainable


@pytest.mark.parametrize("every_n_epochs", [0, 1.5, True])
def test_bad_every_n_epochs(every_n_epochs):
    with pytest.raises(ValueError, match=re.escape(
        "`every_n_epochs` must be an int >= 1. Received: "
        f"every_n_epochs={every_n_epochs!r}"
    )):
        GradualUnfreezing(every_n_epochs=every_n_epochs)
