"""Pretraining from scratch: masked-LM for BERT, autoencoders for images."""

from kerasft.pretraining.image_pretraining import (  # noqa: E402
    FinetuneResult,
    classifier_from_pretrained,
    finetune_classifier,
    pretrain_autoencoder,
    pretrain_classifier,
)
