"""Pretraining from scratch: masked-LM for BERT, autoencoders for images."""

from kerasft.pretraining.corpus import (  # noqa: E402
    corpus_files,
    corpus_lines,
    sample_corpus_lines,
)
from kerasft.pretraining.image_pretraining import (  # noqa: E402
    FinetuneResult,
    classifier_from_pretrained,
    finetune_classifier,
    pretrain_autoencoder,
    pretrain_classifier,
)
from kerasft.pretraining.masked_lm import (  # noqa: E402
    bert_backbone,
    load_masked_lm,
    masked_lm_loss,
    masked_lm_model,
    masked_lm_trainer,
    save_bert_preset,
)
from kerasft.pretraining.masked_lm_dataset import (  # noqa: E402
    make_masked_lm_dataset,
    packing_stats,
)
from kerasft.pretraining.word_piece_vocabulary import (  # noqa: E402
    SPECIAL_TOKENS,
    train_bert_tokenizer,
)

__all__ = [
    "SPECIAL_TOKENS",
    "FinetuneResult",
    "bert_backbone",
    "classifier_from_pretrained",
    "corpus_files",
    "corpus_lines",
    "finetune_classifier",
    "load_masked_lm",
    "make_masked_lm_dataset",
    "masked_lm_loss",
    "masked_lm_model",
    "masked_lm_trainer",
    "packing_stats",
    "pretrain_autoencoder",
    "pretrain_classifier",
    "sample_corpus_lines",
    "save_bert_preset",
    "train_bert_tokenizer",
]
