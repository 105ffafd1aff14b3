"""`kerasft finetune --task multi-label | regression | tag` on tiny presets:
the recipe end to end, its reported metrics checked against scipy and
seqeval on the saved model's own predictions, and the task's bad input."""

import csv
import json
import re

import keras
import numpy as np
import pytest
import scipy.stats
import seqeval.metrics
from text_families import tiny_preset

from kerasft.cli import main
from kerasft.data import make_text_dataset, text_preprocessor, tokenize_words
from kerasft.recipes.finetune import FinetuneConfig

ANIMALS = ("dog", "cat", "fox", "child")
THINGS = ("tree", "book", "river", "movie", "film", "garden", "city")
SENTENCES = [
    "the quick brown fox sees a lazy dog", "my old cat sleeps under the "
    "big tree", "this movie was very good", "that film is not great today",
    "a happy child reads the new book near the river", "the good book",
    "a very dull movie", "that sad dog waits", "every great city",
    "our new film is good", "the bad garden", "my happy child",
]


def tags_of(words):
    return ["B-animal" if w in ANIMALS else "B-thing" if w in THINGS
            else "O" for w in words]


def write_conll(path, sentences, tab_breaks=False):
    """token<TAB>tag lines; sentence breaks blank or a lone tab (WNUT)."""
    lines = []
    for sentence in sentences:
        words = sentence.split()
        lines += [f"{w}\t{t}" for w, t in zip(words, tags_of(words))]
        lines.append("\t" if tab_breaks else "")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tag_task_reports_seqeval_scores_of_its_saved_model(tmp_path,
                                                            capsys):
    preset = tiny_preset("bert")
    train = write_conll(tmp_path / "train.conll", SENTENCES * 5,
                        tab_breaks=True)
    test = write_conll(tmp_path / "test.conll", SENTENCES[:6])
    output = tmp_path / "run"
    assert main([
        "finetune", "--task", "tag", "--preset", str(preset),
        "--data", str(train), "--test-data", str(test),
        "--validation-fraction", "0", "--strategy", "full", "--epochs", "6",
        "--batch-size", "10", "--sequence-length", "16",
        "--learning-rate", "5e-3", "--output-dir", str(output),
        "--verbose", "0",
    ]) == 0
    printed = capsys.readouterr().out
    assert "Per entity type (test):" in printed
    saved = json.loads((output / "results.json").read_text())
    assert saved["train_examples"] == 60  # tab-only lines break sentences
    assert saved["tag_names"] == ["O", "B-animal", "I-animal", "B-thing",
                                  "I-thing"]
    results = saved["results"]
    # The same number from seqeval, on the saved model's predictions.
    model = keras.saving.load_model(output / "model.keras")
    words = [s.split() for s in SENTENCES[:6]]
    windows = tokenize_words(words, None, text_preprocessor(
        preset, sequence_length=16))
    predicted = windows.gather_words(
        np.asarray(model(windows.inputs)).argmax(-1))
    predicted_tags = [[model.tag_names[i] for i in row] for row in predicted]
    gold = [tags_of(w) for w in words]
    assert results["entity_f1"] == pytest.approx(
        seqeval.metrics.f1_score(gold, predicted_tags), abs=1e-6)
    assert results["entity_f1"] > 0.8
    report = seqeval.metrics.classification_report(
        gold, predicted_tags, output_dict=True)
    assert results["per_type"]["animal"]["f1"] == pytest.approx(
        report["animal"]["f1-score"], abs=1e-6)


def test_multi_label_task_tunes_and_saves_thresholds(tmp_path):
    rows = [(s, "|".join(
        [label for label, words in (("animal", ANIMALS), ("thing", THINGS))
         if any(w in s.split() for w in words)])) for s in SENTENCES * 4]
    path = tmp_path / "tags.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "labels"), *rows])
    output = tmp_path / "run"
    config = FinetuneConfig(
        preset=str(tiny_preset("bert")), task="multi_label", data=str(path),
        text_column="text", label_column="labels", label_separator="|",
        validation_fraction=0.25, test_fraction=0.25, strategy="full",
        epochs=6, batch_size=8, sequence_length=16, learning_rate=6e-3,
        output_dir=str(output))
    from kerasft.recipes.finetune import run_finetune

    results = run_finetune(config, verbose=0)
    assert {"micro_f1", "macro_f1", "exact_match", "micro_f1_tuned",
            "per_label"} <= set(results)
    assert set(results["per_label"]) == {"animal", "thing"}
    model = keras.saving.load_model(output / "model.keras")
    assert model.thresholds() == pytest.approx(results["thresholds"])
    assert model.label_names == ("animal", "thing")
    assert results["macro_f1_tuned"] > 0.8


def test_regression_task_reports_whole_set_correlations(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(48):
        a, b = rng.choice(len(SENTENCES), 2)
        # The score: how many words the two sentences share.
        shared = len(set(SENTENCES[a].split()) & set(SENTENCES[b].split()))
        rows.append((SENTENCES[a], SENTENCES[b], float(shared)))
    path = tmp_path / "pairs.tsv"
    path.write_text("first\tsecond\tscore\n" + "".join(
        f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    output = tmp_path / "run"
    from kerasft.recipes.finetune import run_finetune

    preset = tiny_preset("bert")
    results = run_finetune(FinetuneConfig(
        preset=str(preset), task="regression", data=str(path),
        text_column="first", text_pair_column="second",
        label_column="score", validation_fraction=0, test_fraction=0.25,
        strategy="full", epochs=3, batch_size=8, sequence_length=24,
        learning_rate=1e-3, output_dir=str(output)), verbose=0)
    saved = json.loads((output / "results.json").read_text())
    assert saved["test_examples"] == 12
    # Recompute on the saved model: the test rows are the file's rows not
    # in train; their predictions against their scores, with scipy.
    model = keras.saving.load_model(output / "model.keras")
    scores = np.array([s for _, _, s in rows], "float32")
    assert model.target_mean[0] == pytest.approx(
        float(scores.mean()), abs=0.3)
    dataset = make_text_dataset(
        ([a for a, _, _ in rows], [b for _, b, _ in rows]), scores,
        preprocessor=text_preprocessor(preset, sequence_length=24),
        shuffle=False, task="regression")
    predictions = np.concatenate([np.asarray(model(x))[:, 0]
                                  for x, _ in dataset])
    assert np.isfinite(predictions).all()
    assert -1 <= results["pearson"] <= 1
    assert -1 <= results["spearman"] <= 1
    # Whole-set correlations of the full file are scipy's numbers.
    full = kerasft_trainer_correlations(model, dataset)
    assert full["pearson"] == pytest.approx(
        scipy.stats.pearsonr(scores, predictions)[0], abs=1e-4)
    assert full["spearman"] == pytest.approx(
        scipy.stats.spearmanr(scores, predictions)[0], abs=1e-4)


def kerasft_trainer_correlations(model, dataset):
    import kerasft

    trainer = kerasft.Trainer(model, metrics=["pearson", "spearman"])
    return trainer.evaluate(dataset)


@pytest.mark.parametrize("arguments, message", [
    (["--task", "regression"],
     r"`task='regression'` reads your own files: pass the train file as "
     r"`data`"),
    (["--task", "tag", "--data", "{train}", "--text-column", "text"],
     r"`task='tag'` reads CoNLL column files .* `text_column` do not "
     r"apply"),
    (["--task", "tagging", "--data", "{train}"],
     r"`task` must be one of"),
])
def test_task_bad_arguments(tmp_path, capsys, arguments, message):
    train = write_conll(tmp_path / "train.conll", SENTENCES)
    arguments = [a.format(train=train) for a in arguments]
    assert main(["finetune", "--preset", str(tmp_path), *arguments]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_tag_file_with_an_i_tag_starting_an_entity_names_its_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("the\tO\ndog\tI-animal\n\nmy\tO\n")
    from kerasft.recipes.finetune_tasks import load_tagged_splits

    config = FinetuneConfig(preset=str(tmp_path), task="tag",
                            data=str(path), test_fraction=0.5)
    with pytest.raises(ValueError, match=r"bad.conll:2"):
        load_tagged_splits(config)
