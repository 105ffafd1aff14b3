"""`kerasft finetune`: a text model fine-tuned on a text data set.

The model is a text head for the task (`FinetuneConfig.task`, see
`kerasft.recipes.finetune_tasks`: classification, multi-label,
regression, token tagging) on a preset of any supported encoder family
(`kerasft.presets.SUPPORTED`); the preset gives the tokenizer too.

The data, either a named data set (`dataset`):
  - `mr`: the MR sentence polarity set (Rotten Tomatoes) from `data_dir`
    (default `../shared/data/rt-polarity`), kerasft's fixed train/test
    split (see `kerasft.data.load_rt_polarity`).
  - `folder:PATH`: `.txt` files, one subfolder per class; `PATH/train` and
    `PATH/test` if both exist, else a seeded 80/20 split of `PATH`.
  - `tfds:NAME`: a tensorflow-datasets text set (e.g. `imdb_reviews`), its
    `train` and `test` splits, from `data_dir`.

or the user's own file (`data`): a CSV, TSV or JSON Lines file (`.gz` too)
with a text column, a label column and optionally a second text column for
sentence pairs (`kerasft.data.load_text_splits`). The test and validation
splits come from their own files (`test_data`, `validation_data`) or are cut
from the train file's rows (`test_fraction`, `validation_fraction`: seeded,
stratified by label). The labels may be any strings: their `LabelMap`,
learned from the train file, goes into `results.json` and into the saved
model (`class_names`), so `kerasft.predict_texts` answers in those names.
"""

import dataclasses
import json
import math
import os
from pathlib import Path

import keras
import tensorflow as tf

from kerasft import data
from kerasft.checks import (
    check_batch_size,
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_optional_int,
    check_path,
    check_real,
)
from kerasft.data.text_pipeline import DEFAULT_SHUFFLE_BUFFER_SIZE
from kerasft.data.tfds_loader import load_tfds_class_names
from kerasft.finetuning import STRATEGIES, prepare_finetuning, save_lora_weights
from kerasft.models.text_encoder import POOLINGS
from kerasft.recipes.finetune_tasks import TASKS, get_task, load_tagged_splits
from kerasft.training import Trainer

DATASET_PREFIXES = ("folder:", "tfds:")
# Options that only mean something for the user's own file (`data`), and
# their "not given" values.
FILE_OPTIONS = {
    "test_data": None,
    "validation_data": None,
    "text_column": None,
    "text_pair_column": None,
    "label_column": None,
    "label_separator": ",",
    "clean_html": False,
}


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """Settings of a `kerasft finetune` run.

    Args:
        preset: a preset of any supported encoder family
            (`kerasft.presets.SUPPORTED`): a keras-hub preset name, a
            keras-hub or Hugging Face folder, or a handle (see
            `TextClassifier.from_preset`); it also gives the tokenizer.
        task: one of `TASKS`: `"classification"` (the default),
            `"multi_label"` (several labels per text, separated by
            `label_separator` in the label column), `"regression"` (numbers
            in the label column) or `"tag"` (token tagging, NER: `data` and
            the other files are CoNLL column files, `token<TAB>tag` lines
            in IOB2, sentences separated by blank lines). Tasks other than
            classification read the user's files (`data`).
        dataset: `"mr"`, `"folder:PATH"` or `"tfds:NAME"`; None (the
            default) means `"mr"` unless `data` is given. Not with `data`.
        data_dir: folder of the data, where the dataset needs one.
        data: the user's own train file, CSV / TSV / JSON Lines (`.gz` ok),
            or None. Needs `text_column` and `label_column`.
        test_data: a test file with the same columns, or None to cut
            `test_fraction` of the `data` rows. Its labels must all be in
            the train file.
        validation_data: a validation file, or None to cut
            `validation_fraction` of the `data` rows.
        text_column: the column holding the text (with `data`).
        text_pair_column: the column holding the second text of a sentence
            pair, or None (with `data`).
        label_column: the column holding the label, any strings (with
            `data`); several per row for `multi_label`, numbers for
            `regression`; not for `tag`.
        label_separator: what separates the labels of a row with
            `multi_label`. Defaults to `","`.
        clean_html: replace `<br />` by a space and unescape HTML entities
            in the texts (with `data`; scraped reviews such as IMDB).
        validation_fraction: share of the `data` rows held out for
            validation when there is no `validation_data`; 0 for none.
            Validation runs after every epoch.
        test_fraction: share of the `data` rows held out for the test when
            there is no `test_data`; above 0 then, as the run reports test
            metrics.
        strategy: one of `kerasft.finetuning.STRATEGIES`.
        epochs: training epochs.
        batch_size: examples per step.
        sequence_length: tokens per example, special tokens included.
        learning_rate: the peak learning rate (warmup, then linear decay).
        warmup_fraction: share of the steps spent warming up.
        top_k: transformer layers that train with `top_k`.
        lora_rank: rank of the LoRA factors with `lora`.
        layer_decay: rate ratio between blocks with `layerwise_lr`.
        pooling: `"cls"`, `"pooled"` (BERT, ALBERT, ELECTRA) or `"mean"`.
        max_train_examples: train on a seeded sample of N training
            examples (a quick run); None uses all.
        max_eval_examples: validate and test on seeded samples of at most N
            examples each (a quick run); None uses all.
        output_dir: where the model, logs and results go.
        seed: seeds the splits and samples, the head's weights and the
            shuffling.
    """

    preset: str
    task: str = "classification"
    dataset: str | None = None
    data_dir: str | None = None
    data: str | None = None
    test_data: str | None = None
    validation_data: str | None = None
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    label_separator: str = ","
    clean_html: bool = False
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
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
    max_eval_examples: int | None = None
    output_dir: str = "runs/finetune"
    seed: int = 0

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_choice("strategy", self.strategy, STRATEGIES)
        if not isinstance(self.preset, (str, os.PathLike)) or not str(
            self.preset
        ):
            raise TypeError(
                "`preset` must be a preset name, folder or handle (a "
                f"non-empty str or path). Received: preset={self.preset!r}"
            )
        for name in ("epochs", "sequence_length", "top_k", "lora_rank"):
            check_int(name, getattr(self, name))
        check_batch_size(self.batch_size)
        check_real("learning_rate", self.learning_rate, low=0, low_open=True)
        check_real("warmup_fraction", self.warmup_fraction, low=0, high=1)
        check_real("layer_decay", self.layer_decay, low=0, high=1,
                   low_open=True)
        check_choice("pooling", self.pooling, POOLINGS)
        check_optional_int("max_train_examples", self.max_train_examples)
        check_optional_int("max_eval_examples", self.max_eval_examples)
        check_int("seed", self.seed, minimum=0)
        check_fraction("validation_fraction", self.validation_fraction)
        check_fraction("test_fraction", self.test_fraction)
        check_bool("clean_html", self.clean_html)
        if self.data is None and self.task != "classification":
            raise ValueError(
                f"`task={self.task!r}` reads your own files: pass the train "
                "file as `data` (the named data sets are classification "
                f"sets). Received: data=None, dataset={self.dataset!r}"
            )
        if self.data is None:
            self._check_dataset()
        else:
            self._check_data()

    def _check_dataset(self):
        given = {
            name: getattr(self, name) for name, unset in FILE_OPTIONS.items()
            if getattr(self, name) != unset
        }
        if given:
            received = ", ".join(f"{k}={v!r}" for k, v in given.items())
            raise ValueError(
                f"{', '.join(f'`{k}`' for k in given)} only apply to your "
                "own file: pass it as `data`. Received: data=None, "
                f"{received}"
            )
        if self.dataset is None:
            # Frozen: the default is filled in once, here.
            object.__setattr__(self, "dataset", "mr")
        if not isinstance(self.dataset, str) or not (
            self.dataset == "mr" or self.dataset.startswith(DATASET_PREFIXES)
        ):
            raise ValueError(
                "Unknown text dataset. Received: "
                f"dataset={self.dataset!r}. Expected 'mr', 'folder:PATH' or "
                "'tfds:NAME'."
            )

    def _check_data(self):
        if self.dataset is not None:
            raise ValueError(
                "Pass either `dataset` (a named data set) or `data` (your "
                "own file), not both. Received: "
                f"dataset={self.dataset!r}, data={self.data!r}"
            )
        columns = ("text_column", "text_pair_column", "label_column")
        if self.task == "tag":
            given = [n for n in columns if getattr(self, n) is not None]
            if given:
                raise ValueError(
                    "`task='tag'` reads CoNLL column files (the token first, "
                    "the tag last on each line): "
                    f"{', '.join(f'`{n}`' for n in given)} do not apply. "
                    + ", ".join(f"Received: {n}={getattr(self, n)!r}"
                                for n in given)
                )
        missing = [] if self.task == "tag" else [
            name for name in ("text_column", "label_column")
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(
                f"`data` needs {' and '.join(f'`{m}`' for m in missing)}: "
                "the columns of the file holding the text and the label. "
                f"Received: data={self.data!r}, "
                f"text_column={self.text_column!r}, "
                f"label_column={self.label_column!r}"
            )
        for name in ("data", "test_data", "validation_data"):
            if getattr(self, name) is not None:
                check_path(name, getattr(self, name))
        if self.test_data is None and not self.test_fraction:
            raise ValueError(
                "`data` needs a test split: a `test_data` file, or a "
                "`test_fraction` above 0 to cut one from the train rows. "
                f"Received: test_data=None, test_fraction="
                f"{self.test_fraction!r}"
            )


@dataclasses.dataclass
class TextSplits:
    """Unbatched `(text, label)` datasets, and the names of the labels.

    Attributes:
        train, test: `tf.data.Dataset`s of `(string, int64)`, or
            `((string, string), int64)` for sentence pairs; float32
            multi-hot rows or targets for `multi_label` and `regression`.
        validation: the same, or None.
        num_classes: int. Classes, labels or regression outputs.
        label_map: a `kerasft.data.LabelMap` of the class names, or None
            when the data set names no classes (`mr`, regression).
        train_targets: the train targets as an array (regression, for the
            target scaling), or None.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    test: tf.data.Dataset
    num_classes: int
    label_map: data.LabelMap | None = None
    train_targets: object = None


def load_finetune_splits(config):
    """Loads the data of a run, named or from files (module docstring).

    The one place a `FinetuneConfig`'s data becomes splits; the samples of
    `max_train_examples` and `max_eval_examples` are drawn here too.

    Args:
        config: a `FinetuneConfig`.

    Returns:
        A `TextSplits` of unbatched datasets, or for `task="tag"` a
        `kerasft.recipes.finetune_tasks.TaggedSplits` of sentences.
    """
    if config.task == "tag":
        return load_tagged_splits(config)
    if config.data is not None:
        splits = _load_files(config)
    else:
        splits = _load_dataset(config.dataset, config.data_dir, config.seed)
    splits.train = _sample(splits.train, config.max_train_examples,
                           config.seed)
    splits.test = _sample(splits.test, config.max_eval_examples, config.seed)
    if splits.validation is not None:
        splits.validation = _sample(
            splits.validation, config.max_eval_examples, config.seed
        )
    return splits


def _load_files(config):
    splits = data.load_text_splits(
        config.data, config.text_column, config.label_column,
        test_path=config.test_data,
        validation_path=config.validation_data,
        text_pair_column=config.text_pair_column,
        validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction, seed=config.seed,
        clean_html=config.clean_html, task=config.task,
        label_separator=config.label_separator,
    )
    label_map = splits.label_map
    if config.task == "classification" and label_map.num_classes < 2:
        raise ValueError(
            f"'{config.data}' holds a single label, {label_map.names[0]!r}: "
            "a classifier needs at least 2. Received: "
            f"label_column={config.label_column!r}"
        )

    def as_dataset(split):
        if split is None:
            return None
        # texts: a list, or a (first, second) pair of lists, which gives
        # ((first, second), label) elements.
        texts, labels = split
        return tf.data.Dataset.from_tensor_slices((texts, labels))

    targets = splits.train[1]
    return TextSplits(
        train=as_dataset(splits.train),
        validation=as_dataset(splits.validation),
        test=as_dataset(splits.test),
        num_classes=(
            label_map.num_classes if label_map is not None
            else (1 if targets.ndim == 1 else targets.shape[1])
        ),
        label_map=label_map,
        train_targets=targets if config.task == "regression" else None,
    )


def _load_dataset(name, data_dir=None, seed=0):
    if name == "mr":
        splits = [
            data.load_rt_polarity_arrays(data_dir, split=split)
            for split in ("train", "test")
        ]
        train, test = (
            tf.data.Dataset.from_tensor_slices((list(texts), labels))
            for texts, labels in splits
        )
        return TextSplits(train, None, test, num_classes=2)
    if name.startswith("folder:"):
        folder = Path(name[len("folder:"):])
        if (folder / "train").is_dir() and (folder / "test").is_dir():
            # Shuffled once: files come class by class.
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
        label_map = data.LabelMap(train.class_names)
        return TextSplits(train, None, test, len(label_map), label_map)
    # tfds:NAME (the config checked the prefix). One-line errors for an
    # unknown name: tfds' own lists all ~450 data sets.
    tfds_name = name[len("tfds:"):]
    label_map = data.LabelMap(load_tfds_class_names(tfds_name, data_dir))
    train, test = (
        data.load_tfds_text(tfds_name, split=split, data_dir=data_dir)
        for split in ("train", "test")
    )
    return TextSplits(train, None, test, len(label_map), label_map)


def _sample(dataset, count, seed):
    """A seeded sample of `count` examples of `dataset` (all if None)."""
    if count is None:
        return dataset
    size = int(dataset.cardinality())
    if 0 <= size <= count:
        return dataset
    # Files come sorted (IMDB: all positives, then all negatives): shuffle
    # once, the whole set where its size is known, before taking.
    buffer = size if size > 0 else DEFAULT_SHUFFLE_BUFFER_SIZE
    return dataset.shuffle(
        buffer, seed=seed, reshuffle_each_iteration=False
    ).take(count)


def _count(dataset):
    count = int(dataset.cardinality())
    if count < 0:  # unknown: count the strings once
        count = int(dataset.reduce(0, lambda total, _: total + 1))
    return count


def run_finetune(config, verbose=1):
    """Fine-tunes a text model for `config.task`; returns the test metrics.

    Loads the data (`load_finetune_splits`), tokenizes with the preset's
    tokenizer, builds the task's model on the preset (`TextClassifier`,
    `MultiLabelClassifier`, `TextRegressor` or `TokenClassifier`, with the
    data's label names), applies `config.strategy` (`prepare_finetuning`,
    with a linear warmup and decay over all the steps), trains with the
    Trainer (validating after each epoch when there is a validation split),
    tunes multi-label thresholds on the validation split, and evaluates on
    the test split. Writes `model.keras`, `history.csv`, `results.json`
    (metrics, per-label or per-type scores, config, label map, split sizes)
    and TensorBoard logs (`logs/`) to `config.output_dir`, and for `lora`
    also `adapter.lora.h5` (see `save_lora_weights`).

    Args:
        config: a `FinetuneConfig`.
        verbose: 0 silent, 1 progress bars, 2 a line per epoch.

    Returns:
        The Trainer's test metrics (classification: `loss`, `accuracy`,
        `f1`, `confusion_matrix`; multi-label: `micro_f1`, `macro_f1`,
        `exact_match` at 0.5 and `*_f1_tuned` at the tuned thresholds, with
        `per_label`; regression: `pearson`, `spearman`, `mae`; tag:
        `entity_f1`, with `per_type`) plus `trainable_params` and
        `total_params` (ints, at the start of training).

    Example:
    ```python
    results = run_finetune(FinetuneConfig(
        preset="../shared/models/minilm-l6-h384-uncased",
        data="reviews.csv", text_column="review", label_column="label",
        strategy="lora", epochs=1))
    ```
    """
    output_dir = Path(config.output_dir)
    # Seeded first: reseeding TensorFlow clears its kernel cache, which
    # drops the SentencePiece resources of pipelines built before it
    # (ALBERT, DeBERTaV3, XLM-R: "Resource ... SentencepieceOp ... does not
    # exist" at the first batch).
    keras.utils.set_random_seed(config.seed)
    task = get_task(config.task)
    splits = load_finetune_splits(config)
    preprocessor = data.text_preprocessor(
        config.preset, sequence_length=config.sequence_length
    )
    train, validation, test = task.datasets(splits, preprocessor, config)
    num_train = _size(splits.train)
    steps_per_epoch = math.ceil(num_train / config.batch_size)

    model = task.build_model(config, splits)
    plan = prepare_finetuning(
        model, config.strategy, top_k=config.top_k,
        lora_rank=config.lora_rank, layer_decay=config.layer_decay,
        learning_rate=config.learning_rate,
        warmup_fraction=config.warmup_fraction,
        total_steps=max(config.epochs * steps_per_epoch, 1),
    )
    trainer = Trainer(model, optimizer=plan.optimizer,
                      metrics=task.metrics(splits))
    output_dir.mkdir(parents=True, exist_ok=True)
    trainer.fit(
        train, epochs=config.epochs, verbose=verbose,
        validation_data=validation,
        callbacks=[
            *plan.callbacks,
            keras.callbacks.TensorBoard(str(output_dir / "logs")),
            keras.callbacks.CSVLogger(str(output_dir / "history.csv")),
        ],
    )
    learned = task.after_training(model, trainer, validation)
    results = trainer.evaluate(test)
    results.update(task.report(model, trainer, test))
    results.update(learned)
    results["trainable_params"] = plan.trainable_params
    results["total_params"] = plan.total_params
    model.save(output_dir / "model.keras")
    if config.strategy == "lora":
        save_lora_weights(model, output_dir / "adapter.lora.h5")
    label_map = getattr(splits, "label_map", None)
    serializable = {
        k: (v.tolist() if hasattr(v, "tolist") else v)
        for k, v in results.items()
    }
    (output_dir / "results.json").write_text(json.dumps(
        {"results": serializable, "config": dataclasses.asdict(config),
         "label_map": None if label_map is None else label_map.get_config(),
         "tag_names": getattr(splits, "tag_names", None),
         "train_examples": num_train, "steps_per_epoch": steps_per_epoch,
         "validation_examples": (
             None if splits.validation is None else _size(splits.validation)
         ),
         "test_examples": _size(splits.test)},
        indent=2, default=str,
    ))
    return results


def _size(split):
    """Examples in a split: a dataset, or `(words, tags)` sentences."""
    if isinstance(split, tuple):
        return len(split[0])
    return _count(split)
