"""What each text task of `kerasft finetune` does differently.

`run_finetune` is one loop for every task: load the splits, tokenize, build
the model on the preset, apply the strategy, train, evaluate on the test
split, save. A task object answers the questions in which the tasks differ:

- `classification`: a named set or a text file; `TextClassifier`;
  accuracy and F1.
- `multi_label`: a text file, several labels per row; `MultiLabelClassifier`;
  micro / macro F1 and exact match, per-label thresholds tuned on the
  validation split, per-label scores on the test split.
- `regression`: a text file, numbers as labels; `TextRegressor` with the
  train targets' scaling; Pearson, Spearman, MAE.
- `tag`: CoNLL column files (IOB2); `TokenClassifier`; entity precision,
  recall and F1 as seqeval computes them, per type on the test split.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from kerasft import data
from kerasft.data.tag_schemes import check_tags, tag_names_from
from kerasft.data.token_pipeline import tokenize_words
from kerasft.models import (
    MultiLabelClassifier,
    TextClassifier,
    TextRegressor,
    TokenClassifier,
)
from kerasft.training import EntityF1, MultiLabelF1, tune_thresholds

TASKS = ("classification", "multi_label", "regression", "tag")


@dataclasses.dataclass
class TaggedSplits:
    """Tagged sentences per split (`kerasft.data.TaggedSentences` fields).

    Attributes:
        train, test: `(words, tags)` lists of sentences.
        validation: the same, or None.
        tag_names: the tags of the model, `"O"` first (IOB2).
    """

    train: tuple
    validation: tuple | None
    test: tuple
    tag_names: tuple


class TextTask:
    """Classification, multi-label or regression on texts (or pairs)."""

    name = "classification"

    def datasets(self, splits, preprocessor, config):
        """`(train, validation, test)` batched datasets and train size."""
        options = dict(preprocessor=preprocessor,
                       batch_size=config.batch_size,
                       task=self.data_task)
        train = data.make_text_dataset(splits.train, seed=config.seed,
                                       **options)
        validation, test = (
            None if split is None else data.make_text_dataset(
                split, shuffle=False, **options)
            for split in (splits.validation, splits.test)
        )
        return train, validation, test

    data_task = "classification"

    def build_model(self, config, splits):
        label_map = splits.label_map
        return TextClassifier.from_preset(
            config.preset, num_classes=splits.num_classes,
            pooling=config.pooling,
            class_names=None if label_map is None else label_map.names,
        )

    def metrics(self, splits):
        return ["accuracy", "f1"]

    def after_training(self, model, trainer, validation):
        """Anything learned after training (e.g. thresholds); a dict."""
        return {}

    def report(self, model, trainer, test):
        """Per-label or per-type scores on the test split; a dict."""
        return {}


class MultiLabelTask(TextTask):
    name = data_task = "multi_label"

    def build_model(self, config, splits):
        names = splits.label_map.names
        return MultiLabelClassifier.from_preset(
            config.preset, num_labels=len(names), label_names=names,
            pooling=config.pooling,
        )

    def metrics(self, splits):
        return ["micro_f1", "macro_f1", "exact_match"]

    def after_training(self, model, trainer, validation):
        # Per-label thresholds tuned on validation, then saved with the
        # model: rare labels are rarely above 0.5.
        if validation is None:
            return {"thresholds": model.thresholds()}
        targets, probabilities = _targets_and_probabilities(model, validation)
        model.threshold = tune_thresholds(targets, probabilities)
        return {"thresholds": model.thresholds()}

    def report(self, model, trainer, test):
        targets, probabilities = _targets_and_probabilities(model, test)
        scores = {}
        for average in ("micro", "macro"):
            metric = MultiLabelF1(model.num_labels, average=average,
                                  threshold=model.thresholds())
            metric.update_state(targets, probabilities)
            scores[f"{average}_f1_tuned"] = float(metric.result())
        per_label = metric.per_label()
        names = model.label_names or [str(i) for i in range(model.num_labels)]
        scores["per_label"] = {
            name: {k: float(v[i]) for k, v in per_label.items()}
            for i, name in enumerate(names)
        }
        return scores


class RegressionTask(TextTask):
    name = data_task = "regression"

    def build_model(self, config, splits):
        targets = np.asarray(splits.train_targets)
        return TextRegressor.from_preset(
            config.preset, num_outputs=splits.num_classes,
            pooling=config.pooling, **TextRegressor.target_scaling(targets),
        )

    def metrics(self, splits):
        return ["pearson", "spearman", "mae"]


class TagTask:
    """Token tagging (NER) from CoNLL column files."""

    name = "tag"

    def datasets(self, splits, preprocessor, config):
        def windows(split):
            words, tags = split
            return tokenize_words(words, tags, preprocessor,
                                  tag_names=splits.tag_names)

        train = windows(splits.train).to_dataset(
            batch_size=config.batch_size, shuffle=True, seed=config.seed)
        validation, test = (
            None if split is None
            else windows(split).to_dataset(batch_size=config.batch_size)
            for split in (splits.validation, splits.test)
        )
        return train, validation, test

    def build_model(self, config, splits):
        return TokenClassifier.from_preset(config.preset,
                                           tag_names=splits.tag_names)

    def metrics(self, splits):
        return [EntityF1(splits.tag_names)]

    def after_training(self, model, trainer, validation):
        return {}

    def report(self, model, trainer, test):
        metric = EntityF1(model.tag_names)
        for inputs, labels in test:
            metric.update_state(labels, model(inputs, training=False))
        return {"per_type": metric.per_type()}


def get_task(name):
    return {
        "classification": TextTask,
        "multi_label": MultiLabelTask,
        "regression": RegressionTask,
        "tag": TagTask,
    }[name]()


def load_tagged_splits(config):
    """Train / validation / test sentences from CoNLL files.

    Splits without a file are cut from the train file's sentences (seeded);
    the tags are checked as IOB2 (an `I-` that starts an entity is refused,
    naming its line) and the tag set is the train file's types.
    """
    files = {"train": config.data, "test": config.test_data,
             "validation": config.validation_data}
    read = {}
    for split, path in files.items():
        if path is None:
            continue
        sentences = data.read_conll(path)
        if sentences.tags is None:
            raise ValueError(
                f"'{path}' holds no tag column: `--task tag` needs "
                "`token<TAB>tag` lines."
            )
        check_tags(sentences.tags, "IOB2", where=sentences.location)
        read[split] = (sentences.words, sentences.tags)
    words, tags = read["train"]
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(words))
    cuts = {}
    start = 0
    for split, fraction in (("test", config.test_fraction),
                            ("validation", config.validation_fraction)):
        if split in read or not fraction:
            continue
        count = max(1, round(fraction * len(words)))
        cuts[split] = sorted(order[start:start + count])
        start += count
    kept = sorted(order[start:])
    for split, rows in cuts.items():
        read[split] = ([words[i] for i in rows], [tags[i] for i in rows])
    read["train"] = ([words[i] for i in kept], [tags[i] for i in kept])
    if config.max_train_examples:
        read["train"] = _sample_sentences(read["train"],
                                          config.max_train_examples,
                                          config.seed)
    for split in ("validation", "test"):
        if split in read and config.max_eval_examples:
            read[split] = _sample_sentences(read[split],
                                            config.max_eval_examples,
                                            config.seed)
    tag_names = tuple(tag_names_from(read["train"][1], "IOB2"))
    return TaggedSplits(read["train"], read.get("validation"), read["test"],
                        tag_names)


def _sample_sentences(split, count, seed):
    words, tags = split
    if len(words) <= count:
        return split
    rows = sorted(np.random.default_rng(seed).permutation(len(words))[:count])
    return [words[i] for i in rows], [tags[i] for i in rows]


def _targets_and_probabilities(model, dataset):
    targets, probabilities = [], []
    for inputs, labels in dataset:
        logits = tf.cast(model(inputs, training=False), "float32")
        probabilities.append(tf.sigmoid(logits).numpy())
        targets.append(np.asarray(labels))
    return np.concatenate(targets), np.concatenate(probabilities)
