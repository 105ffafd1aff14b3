import keras

from kerasft import freezing
from kerasft.checks import check_bool, check_int


class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes an encoder model from the top, one layer every few epochs.

    Gradual unfreezing (ULMFiT, Howard & Ruder, 2018): the new head first
    learns on a frozen backbone, then the transformer layers join from the
    top down, so the random head's large early gradients do not wreck the
    pretrained features.

    At the start of epoch `e` the stage is `s = e // every_n_epochs`:
    stage 0 trains the head only; stage `s >= 1` also the pooler and the
    top `min(s, L)` of the `L` transformer layers; stage `L + 1` adds the
    embeddings (if `unfreeze_embeddings`), which is full fine-tuning. The
    state depends on the epoch index alone, so a run resumed with
    `initial_epoch` picks up where it stopped.

    The kerasft `Trainer` notices the change after `on_epoch_begin` and
    rebuilds its step; for `keras.Model.fit`, which does not, compile again.

    Args:
        every_n_epochs: int. Epochs per stage, >= 1. Defaults to `1`.
        unfreeze_embeddings: bool. Unfreeze the embeddings after the last
            transformer layer. Defaults to `True`.

    Attributes:
        stage: int. The stage of the current epoch (None before training).

    Example:
    ```python
    trainer = kerasft.Trainer(classifier, optimizer="adamw")
    trainer.fit(train, epochs=4, callbacks=[GradualUnfreezing()])
    ```
    """

    def __init__(self, every_n_epochs=1, unfreeze_embeddings=True):
        super().__init__()
        self.every_n_epochs = check_int("every_n_epochs", every_n_epochs)
        self.unfreeze_embeddings = check_bool("unfreeze_embeddings",
                                              unfreeze_embeddings)
        self.stage = None

    def on_epoch_begin(self, epoch, logs=None):
        self.stage = epoch // self.every_n_epochs
        apply_stage(self.model, self.stage, self.unfreeze_embeddings)


def apply_stage(model, stage, unfreeze_embeddings=True):
    """Sets the freeze state of gradual-unfreezing stage `stage`.

    See `GradualUnfreezing`: 0 is head only, `s` adds the pooler and the
    top `s` transformer layers, `L + 1` the embeddings.

    Args:
        model: a `keras.Model` holding an encoder backbone (any family).
        stage: int >= 0.
        unfreeze_embeddings: bool. Whether stage `L + 1` unfreezes the
            embeddings.
    """
    num_layers = len(freezing.transformer_blocks(model))
    # Unfreeze, then freeze: on the TF backend, Keras skips setting
    # `trainable` to its current value, and so would not reach sublayers
    # left trainable under an already frozen backbone.
    freezing.unfreeze_backbone(model)
    freezing.freeze_backbone(model)  # stage 0: the head trains
    if stage >= 1:
        freezing.unfreeze_transformer_layers(model, top=min(stage, num_layers))
        pooler = [
            b for b in freezing.encoder_blocks(model) if b.name == "pooler"
        ]
        if pooler:
            freezing.unfreeze(model, list(pooler[0].paths))
    if stage > num_layers and unfreeze_embeddings:
        freezing.unfreeze_embeddings(model)
