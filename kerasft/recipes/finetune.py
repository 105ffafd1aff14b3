"""`kerasft finetune`: a BERT classifier fine-tuned on a text data set.

Dataset names:
  - `mr`: the MR sentence polarity set (Rotten Tomatoes) from `data_dir`
    (default `../shared/data/rt-polarity`), kerasft's fixed train/test
    split (see `kerasft.data.load_rt_polarity`).
  - `folder:PATH`: `.txt` files, one subfolder per class; `PATH/train` and
    `PATH/test` if both exist, else a seeded 80/20 split of `PATH`.
  - `tfds:NAME`: a tensorflow-datasets text set (e.g. `imdb_reviews`), its
    `train` and `test` splits, from `data_dir`.
"""

import dataclasses
import json
import math
from pathlib import Path

import keras
import tensorflow as tf

from kerasft import data
from kerasft.checks import check_choice, check_int, check_optional_int
from kerasft.finetuning import STRATEGIES, prepare_finetuning, save_lora_weights
from kerasft.models import BertClassifier
from kerasft.training import Trainer


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """Settings of a `kerasft finetune` run.

    Args:
        preset: a BERT preset name, keras-hub or Hugging Face folder, or
            handle (see `BertClassifier.from_preset`); it also gives the
            tokenizer.
        dataset: `"mr"`, `"folder:PATH"` or `"tfds:NAME"`.
        data_dir: folder of the data, where the dataset needs one.
        strategy: one of `kerasft.finetuning.STRATEGIES`.
        epochs: training epochs.
        batch_size: examples per step.
        sequence_length: tokens per example, `[CLS]`/`[SEP]` included.
        learning_rate: the peak learning rate (warmup, then linear decay).
        warmup_fraction: share of the steps spent warming up.
        top_k: transformer layers that train with `top_k`.
        lora_rank: rank of the LoRA factors with `lora`.
        layer_decay: rate ratio between blocks with `layerwise_lr`.
        pooling: `"cls"`, `"pooled"` or `"mean"`.
        max_train_examples: use only the first N training examples (a
            quick run); None uses all.
        output_dir: where the model, logs and results go.
        seed: seeds the split, the head's weights and the shuffling.
    """

    preset: str
    dataset: str = "mr"
    data_dir: str | None = None
    strategy: str = "top_k"
    epochs: int = 3
    batch_size: int = 32
    sequence_length: int = 128
    learning_rate: float = 5e-5
    warmup_fraction: float = 0.1
    top_k: int = 2
    lora_rank: int = 4
    layer_decay: float = 0.8
    pooling: str = "cls"
    max_train_examples: int | None = None
    output_dir: str = "runs/finetune"
    seed: int = 0

    def __post_init__(self):
        check_choice("strategy", self.strategy, STRATEGIES)
        for name in ("epochs", "batch_size", "sequence_length"):
            check_int(name, getattr(self, name))
        check_optional_int("max_train_examples", self.max_train_examples)


@dataclasses.dataclass
class TextSplits:
    """Unbatched `(text, label)` train and test datasets."""

    train: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int


def load_text_splits(name, data_dir=None, seed=0):
    """Loads a text dataset by name (see the module docstring).

    Returns:
        A `TextSplits` of unbatched `(string, int64)` datasets.
    """
    if name == "mr":
        splits = [
            data.load_rt_polarity_arrays(data_dir, split=split)
            for split in ("train", "test")
        ]
        train, test = (
            tf.data.Dataset.from_tensor_slices((list(texts), labels))
            for texts, labels in splits
        )
        return TextSplits(train, test, num_classes=2)
    if name.startswith("folder:"):
        folder = Path(name[len("folder:"):])
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            # Shuffled once: files come class by class, and
            # max_train_examples takes the first ones.
            train = data.load_text_folder(folder / "train", shuffle=True,
                                          seed=seed)
            test = data.load_text_folder(folder / "test")
            if train.class_names != test.class_names:
                raise ValueError(
                    "The train and test folders must have the same class "
                    f"subfolders. Received: dataset={name!r} with train "
                    f"classes {train.class_names}, test classes "
                    f"{test.class_names}"
                )
        else:
            train, test = data.load_text_folder(
                folder, shuffle=True, seed=seed, validation_split=0.2,
                subset="both",
            )
        return TextSplits(train, test, num_classes=len(train.class_names))
    if name.startswith("tfds:"):
        import tensorflow_datasets as tfds

        tfds_name = name[len("tfds:"):]
        info = tfds.builder(tfds_name, data_dir=data_dir).info
        num_classes = info.features[info.supervised_keys[1]].num_classes
        train, test = (
            data.load_tfds_text(tfds_name, split=split, data_dir=data_dir)
            for split in ("train", "test")
        )
        return TextSplits(train, test, num_classes=num_classes)
    raise ValueError(
        f"Unknown text dataset. Received: dataset={name!r}. Expected 'mr', "
        "'folder:PATH' or 'tfds:NAME'."
    )


def run_finetune(config, verbose=1):
    """Fine-tunes a BERT classifier; returns the test metrics.

    Tokenizes with the preset's tokenizer, builds a `BertClassifier` on the
    preset, applies `config.strategy` (`prepare_finetuning`, with a linear
    warmup and decay over all the steps), trains with the Trainer and
    evaluates on the test split. Writes `model.keras`, `history.csv`,
    `results.json` and TensorBoard logs (`logs/`) to `config.output_dir`,
    and for `lora` also `adapter.lora.h5` (see `save_lora_weights`).

    Args:
        config: a `FinetuneConfig`.
        verbose: 0 silent, 1 progress bars, 2 a line per epoch.

    Returns:
        The Trainer's test metrics (`loss`, `accuracy`, `f1`,
        `confusion_matrix`) plus `trainable_params` and `total_params`
        (ints, at the start of training).

    Example:
    ```python
    results = run_finetune(FinetuneConfig(
        preset="../shared/models/minilm-l6-h384-uncased", dataset="mr",
        strategy="lora", epochs=1, max_train_examples=2000))
    ```
    """
    output_dir = Path(config.output_dir)
    splits = load_text_splits(config.dataset, config.data_dir, config.seed)
    train = splits.train
    if config.max_train_examples is not None:
        train = train.take(config.max_train_examples)
    num_train = int(train.cardinality())
    if num_train < 0:  # unknown: count the strings once
        num_train = int(train.reduce(0, lambda count, _: count + 1))
    steps_per_epoch = math.ceil(num_train / config.batch_size)
    preprocessor = data.text_preprocessor(
        config.preset, sequence_length=config.sequence_length
    )
    train = data.make_text_dataset(
        train, preprocessor=preprocessor, batch_size=config.batch_size,
        seed=config.seed,
    )
    test = data.make_text_dataset(
        splits.test, preprocessor=preprocessor,
        batch_size=config.batch_size, shuffle=False,
    )

    keras.utils.set_random_seed(config.seed)
    classifier = BertClassifier.from_preset(
        config.preset, num_classes=splits.num_classes,
        pooling=config.pooling,
    )
    plan = prepare_finetuning(
        classifier, config.strategy, top_k=config.top_k,
        lora_rank=config.lora_rank, layer_decay=config.layer_decay,
        learning_rate=config.learning_rate,
        warmup_fraction=config.warmup_fraction,
        total_steps=max(config.epochs * steps_per_epoch, 1),
    )
    trainer = Trainer(classifier, optimizer=plan.optimizer,
                      metrics=["accuracy", "f1"])
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer.fit(
        train, epochs=config.epochs, verbose=verbose,
        callbacks=[
            *plan.callbacks,
            keras.callbacks.TensorBoard(str(output_dir / "logs")),
            keras.callbacks.CSVLogger(str(output_dir / "history.csv")),
        ],
    )
    results = trainer.evaluate(test)
    results["trainable_params"] = plan.trainable_params
    results["total_params"] = plan.total_params
    classifier.save(output_dir / "model.keras")
    if config.strategy == "lora":
        save_lora_weights(classifier, output_dir / "adapter.lora.h5")
    serializable = {
        k: (v.tolist() if hasattr(v, "tolist") else v)
        for k, v in results.items()
    }
    (output_dir / "results.json").write_text(json.dumps(
        {"results": serializable, "config": dataclasses.asdict(config),
         "train_examples": num_train, "steps_per_epoch": steps_per_epoch},
        indent=2, default=str,
    ))
    return results

