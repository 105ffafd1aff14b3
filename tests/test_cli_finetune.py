"""`kerasft finetune` and `kerasft params`, in-process on tiny presets.

The tiny BERT of `bert_test_helper` (parameter counts by hand), and tiny
XLM-RoBERTa and RoBERTa presets from `text_families` for the other
families.
"""

import csv
import gzip
import json
import re

import keras
import keras_hub
import numpy as np
import pytest
from bert_test_helper import (
    EMBEDDINGS,
    HEAD,
    LABELS,
    LAYER,
    LORA_PER_KERNEL,
    POOLER,
    TEXTS,
    VOCAB,
    tiny_backbone,
)
from text_families import tiny_preset

import kerasft
from kerasft import presets
from kerasft.cli import main
from kerasft.data import load_text_folder, make_text_dataset, text_preprocessor
from kerasft.finetuning import load_lora_weights
from kerasft.models import BertClassifier, TextClassifier
from kerasft.recipes.finetune import FinetuneConfig, load_finetune_splits

ALL = EMBEDDINGS + 2 * LAYER + POOLER + HEAD  # the 2-layer preset
# Under the default "cls" pooling the pooler is unused: never trained.
USED = ALL - POOLER
LORA = 2 * 2 * LORA_PER_KERNEL
# Sentences of words every tiny text_families tokenizer knows.
POSITIVE = ["this movie was very good", "a great film", "my happy child",
            "the good book", "a great story today", "our new film is good",
            "that happy dog sings", "a very great movie", "the good garden",
            "every great city"]
NEGATIVE = ["this movie was very bad", "a dull film", "my sad child",
            "the bad book", "a dull story today", "our old film is bad",
            "that sad dog waits", "a very dull movie", "the bad garden",
            "every dull city"]


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    """A keras-hub preset folder: a tiny BERT and its tokenizer."""
    folder = tmp_path_factory.mktemp("tiny_bert")
    tiny_backbone(num_layers=2).save_to_preset(str(folder))
    keras_hub.tokenizers.BertTokenizer(vocabulary=VOCAB).save_to_preset(
        str(folder))
    return folder


@pytest.fixture(scope="module")
def text_folder(tmp_path_factory):
    """folder/{train,test}/{neg,pos}/*.txt from the helper's sentences."""
    root = tmp_path_factory.mktemp("texts")
    for i, (text, label) in enumerate(zip(TEXTS, LABELS)):
        split = "test" if i % 4 == 3 else "train"  # 6 train, 2 test
        folder = root / split / ("pos" if label else "neg")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text)
    return root


def total_trainable(output):
    line = next(li for li in output.splitlines()
                if li.startswith("total trainable"))
    return [int(n.replace(",", "")) for n in line.split()[2:]]


def test_params_on_a_preset_compares_strategies(preset, capsys):
    assert main(["params", str(preset), "--compare",
                 "head_only,top_k,full,lora", "--top-k", "1"]) == 0
    output = capsys.readouterr().out
    assert f"Parameters per block of {preset}:" in output
    assert re.search(rf"transformer_layer_1\s+2\s+{LAYER:,}\s+0\s+{LAYER:,}",
                     output)
    assert re.search(
        r"block\s+depth\s+trainable: head_only\s+trainable: top_k\s+"
        r"trainable: full\s+trainable: lora", output)
    assert total_trainable(output) == [
        HEAD, LAYER + HEAD, USED, LORA + HEAD,
    ]
    assert "(top_k=1, lora_rank=4;" in output


def test_finetune_lora_end_to_end(preset, text_folder, tmp_path, capsys):
    output_dir = tmp_path / "run"
    assert main([
        "finetune", "--preset", str(preset),
        "--dataset", f"folder:{text_folder}", "--strategy", "lora",
        "--epochs", "1", "--batch-size", "4", "--sequence-length", "16",
        "--learning-rate", "1e-2", "--max-train-examples", "5",
        "--output-dir", str(output_dir), "--verbose", "0",
    ]) == 0
    output = capsys.readouterr().out
    assert (f"Strategy lora: {LORA + HEAD:,} of {ALL + LORA:,} parameters "
            "trained") in output
    printed = json.loads(output[output.index("{"):output.index("}") + 1])
    assert set(printed) == {"loss", "accuracy", "f1"}
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["train_examples"] == 5 and saved["steps_per_epoch"] == 2
    assert saved["config"]["strategy"] == "lora"
    assert saved["config"]["dataset"] == f"folder:{text_folder}"
    # The folder's subfolders are the class names, saved with the model.
    assert saved["label_map"] == {"names": ["neg", "pos"]}
    assert saved["test_examples"] == 2
    assert saved["validation_examples"] is None
    assert np.array(saved["results"]["confusion_matrix"]).sum() == 2

    # The saved classifier (LoRA merged into the kernels) gives the same
    # test accuracy, and so does the base preset plus the adapter file.
    test = make_text_dataset(
        load_text_folder(text_folder / "test"),
        preprocessor=text_preprocessor(preset, sequence_length=16),
        batch_size=4, shuffle=False)
    model = keras.saving.load_model(output_dir / "model.keras")
    assert model.count_params() == ALL  # no separate LoRA variables
    assert model.class_names == ("neg", "pos")
    results = kerasft.Trainer(model, metrics=["accuracy"]).evaluate(test)
    assert results["accuracy"] == pytest.approx(printed["accuracy"],
                                                abs=1e-4)
    adapted = BertClassifier.from_preset(preset)
    load_lora_weights(adapted, output_dir / "adapter.lora.h5")
    features = next(iter(test))[0]
    np.testing.assert_allclose(adapted(features).numpy(),
                               model(features).numpy(), atol=1e-5)

    assert main(["params", str(output_dir / "model.keras")]) == 0
    output = capsys.readouterr().out
    assert re.search(rf"^total\s+{USED:,}\s+{POOLER:,}\s+{ALL:,}", output,
                     re.M)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--strategy", "bitfit"],
         "`strategy` must be one of 'head_only', 'top_k', 'full', "
         "'gradual', 'layerwise_lr', 'lora'. Received: strategy='bitfit'"),
        (["--strategy", "top_k", "--top-k", "3"],
         "the backbone has 2. Received: top_k=3"),
        (["--dataset", "imdb"],
         "Unknown text dataset. Received: dataset='imdb'. Expected 'mr', "
         "'folder:PATH' or 'tfds:NAME'."),
    ],
)
def test_finetune_bad_arguments(preset, text_folder, tmp_path, capsys,
                                arguments, message):
    base = ["finetune", "--preset", str(preset), "--dataset",
            f"folder:{text_folder}", "--sequence-length", "16",
            "--output-dir", str(tmp_path / "run"), "--verbose", "0"]
    assert main(base + arguments) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--compare", "full,bitfit"],
         "`--compare` must list strategies separated by commas, from "
         "('head_only', 'top_k', 'full', 'gradual', 'layerwise_lr', "
         "'lora'). Received: compare='full,bitfit' (unknown: ['bitfit'])"),
        (["--compare", "top_k", "--top-k", "5"],
         "the backbone has 2. Received: top_k=5"),
    ],
)
def test_params_bad_arguments(preset, capsys, arguments, message):
    assert main(["params", str(preset), *arguments]) == 2
    assert message in capsys.readouterr().err


def test_params_missing_model(tmp_path, capsys):
    assert main(["params", str(tmp_path / "nope.keras")]) == 2
    assert "No saved model at that path. Received: model='" in (
        capsys.readouterr().err)


# --- Your own file: --data ---------------------------------------------------


def write_rows(path, header, rows, delimiter=","):
    """A CSV / TSV file (gzip-compressed for a `.gz` name)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def reviews_csv(tmp_path):
    """20 reviews labelled "pos" / "neg", sorted by label as IMDB's are,
    some with the `<br />` of scraped reviews."""
    rows = [(f"{text}<br />", "pos") for text in POSITIVE[:5]]
    rows += [(text, "pos") for text in POSITIVE[5:]]
    rows += [(text, "neg") for text in NEGATIVE]
    return write_rows(tmp_path / "reviews.csv.gz", ["review", "label"], rows)


def test_finetune_on_a_csv_file_keeps_its_label_names(reviews_csv, tmp_path,
                                                       capsys):
    """An XLM-RoBERTa on string labels: results.json and model.keras know
    them. A SentencePiece family: its tokenizer's resources must outlive the
    recipe's reseeding of TensorFlow."""
    xlm_roberta = tiny_preset("xlm_roberta")
    output_dir = tmp_path / "run"
    assert main([
        "finetune", "--preset", xlm_roberta, "--data", str(reviews_csv),
        "--text-column", "review", "--label-column", "label",
        "--clean-html", "--strategy", "full", "--epochs", "2",
        "--batch-size", "4", "--sequence-length", "16",
        "--learning-rate", "1e-3", "--output-dir", str(output_dir),
        "--verbose", "0",
    ]) == 0
    output = capsys.readouterr().out
    printed = json.loads(output[output.index("{"):output.index("}") + 1])
    saved = json.loads((output_dir / "results.json").read_text())
    # 10% validation and 10% test, cut per class: 16 / 2 / 2 rows.
    assert saved["label_map"] == {"names": ["neg", "pos"]}
    assert (saved["train_examples"], saved["validation_examples"],
            saved["test_examples"]) == (16, 2, 2)
    assert np.array(saved["results"]["confusion_matrix"]).sum() == 2
    assert saved["results"]["accuracy"] == pytest.approx(
        printed["accuracy"], abs=1e-4)
    assert saved["config"]["data"] == str(reviews_csv)
    assert saved["config"]["dataset"] is None
    assert saved["config"]["clean_html"] is True
    # Validation ran after each epoch.
    history = (output_dir / "history.csv").read_text().splitlines()
    assert "val_accuracy" in history[0] and len(history) == 3

    model = keras.saving.load_model(output_dir / "model.keras")
    assert isinstance(model, TextClassifier)
    assert presets.family_of(model.backbone).name == "xlm_roberta"
    assert model.class_names == ("neg", "pos")
    texts = [POSITIVE[0], NEGATIVE[0], "a great movie"]
    labels, probabilities = kerasft.predict_texts(
        model, texts, text_preprocessor(xlm_roberta, sequence_length=16))
    assert probabilities.shape == (3, 2)
    assert list(labels) == [("neg", "pos")[i]
                            for i in probabilities.argmax(axis=-1)]


def write_pairs(path, pairs):
    return write_rows(path, ["sentence1", "sentence2", "label"], pairs,
                      delimiter="\t")


# Does the second sentence say the same as the first? Tab-separated, with
# a quote in a text (TSV has no quoting).
PAIRS = [
    ("the movie was good .", "a great film", "same"),
    ("a dull movie", "the film was bad .", "same"),
    ('the "film" was great', "a good movie", "same"),
    ("not good", "bad , dull film", "same"),
    ("the movie was good .", "the film was bad .", "different"),
    ("a great film", "a dull movie", "different"),
    ("good , not dull", "bad , dull film", "different"),
    ("great movie", "not good", "different"),
]


def test_finetune_on_sentence_pairs(preset, tmp_path, capsys):
    train = write_pairs(tmp_path / "train.tsv", PAIRS)
    test = write_pairs(tmp_path / "test.tsv", PAIRS[2:6])
    output_dir = tmp_path / "run"
    assert main([
        "finetune", "--preset", str(preset), "--data", str(train),
        "--test-data", str(test), "--validation-fraction", "0",
        "--text-column", "sentence1", "--text-pair-column", "sentence2",
        "--label-column", "label", "--strategy", "top_k", "--top-k", "1",
        "--epochs", "1", "--batch-size", "4", "--sequence-length", "16",
        "--output-dir", str(output_dir), "--verbose", "0",
    ]) == 0
    capsys.readouterr()
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["label_map"] == {"names": ["different", "same"]}
    assert (saved["train_examples"], saved["validation_examples"],
            saved["test_examples"]) == (8, None, 4)
    assert saved["config"]["text_pair_column"] == "sentence2"

    model = keras.saving.load_model(output_dir / "model.keras")
    assert model.class_names == ("different", "same")
    first, second = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    labels, _ = kerasft.predict_texts(
        model, (first, second), text_preprocessor(preset, sequence_length=16))
    assert set(labels) <= {"different", "same"} and len(labels) == 8


def test_sentence_pairs_reach_the_model_as_two_segments(preset, tmp_path):
    train = write_pairs(tmp_path / "train.tsv", PAIRS)
    config = FinetuneConfig(
        preset=str(preset), data=str(train), text_column="sentence1",
        text_pair_column="sentence2", label_column="label",
        validation_fraction=0.0, test_fraction=0.25,
    )
    splits = load_finetune_splits(config)
    (first, second), label = next(iter(splits.train))
    assert (first.numpy().decode(), second.numpy().decode()) == PAIRS[0][:2]
    assert label.numpy() == 1  # "same"
    preprocessor = text_preprocessor(preset, sequence_length=16)
    features, _ = next(iter(make_text_dataset(
        splits.train, preprocessor=preprocessor, shuffle=False)))
    # [CLS] a [SEP] b [SEP]: segment 1 starts after the first [SEP].
    assert features["segment_ids"].numpy()[0].max() == 1


def test_max_examples_draw_seeded_samples_of_a_sorted_file(reviews_csv):
    config = FinetuneConfig(
        preset="unused", data=str(reviews_csv), text_column="review",
        label_column="label", max_train_examples=8, max_eval_examples=1,
    )

    def labels(dataset):
        return [int(label) for _, label in dataset]

    splits = load_finetune_splits(config)
    train = labels(splits.train)
    # The first 8 rows would all be "pos" (1): a sample has both labels.
    assert len(train) == 8 and set(train) == {0, 1}
    assert len(labels(splits.test)) == len(labels(splits.validation)) == 1
    assert labels(load_finetune_splits(config).train) == train  # seeded


@pytest.mark.parametrize("clean_html", [False, True])
def test_clean_html_reaches_the_loader(reviews_csv, clean_html):
    config = FinetuneConfig(
        preset="unused", data=str(reviews_csv), text_column="review",
        label_column="label", clean_html=clean_html,
    )
    splits = load_finetune_splits(config)
    texts = [text.numpy().decode() for text, _ in splits.train]
    assert any("<br />" in text for text in texts) is not clean_html


@pytest.fixture
def labelled_files(tmp_path, reviews_csv):
    """An unknown label ("meh") on line 3 of a test file."""
    test = write_rows(tmp_path / "test.csv", ["review", "label"],
                      [("a good film", "pos"), ("a film", "meh")])
    return reviews_csv, test


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--label-column", "label"],
         "`data` needs `text_column`: the columns of the file holding the "
         "text and the label. Received: data='{train}', text_column=None, "
         "label_column='label'"),
        (["--text-column", "text", "--label-column", "label"],
         "'{train}' line 1, column 'text': the header has no 'text'; its "
         "columns are 'review', 'label'. Received: column='text'"),
        (["--text-column", "review", "--label-column", "label",
          "--test-data", "{test}"],
         "'{test}' line 3, column 'label': unknown label 'meh'; the label "
         "map knows ['neg', 'pos']. Received: label='meh'"),
        (["--text-column", "review", "--label-column", "label",
          "--dataset", "mr"],
         "Pass either `dataset` (a named data set) or `data` (your own "
         "file), not both. Received: dataset='mr', data='{train}'"),
        (["--text-column", "review", "--label-column", "label",
          "--test-fraction", "0"],
         "`data` needs a test split: a `test_data` file, or a "
         "`test_fraction` above 0 to cut one from the train rows. Received: "
         "test_data=None, test_fraction=0.0"),
        (["--text-column", "review", "--label-column", "label",
          "--test-data", "{tmp}/nope.csv"],
         "`test_data` must be an existing file. Received: "
         "test_data='{tmp}/nope.csv' (does not exist)"),
    ],
)
def test_finetune_bad_data_arguments(labelled_files, tmp_path, capsys,
                                     arguments, message):
    train, test = labelled_files
    names = dict(train=train, test=test, tmp=tmp_path)
    arguments = [a.format(**names) for a in arguments]
    assert main([
        "finetune", "--preset", tiny_preset("roberta"), "--data", str(train),
        "--output-dir", str(tmp_path / "run"), "--verbose", "0", *arguments,
    ]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "kerasft finetune: error: " + message.format(**names)
    ]
    assert not (tmp_path / "run").exists()


def test_file_options_need_a_file(preset, tmp_path, capsys):
    assert main(["finetune", "--preset", str(preset), "--dataset", "mr",
                 "--text-column", "review", "--clean-html"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "kerasft finetune: error: `text_column`, `clean_html` only apply to "
        "your own file: pass it as `data`. Received: data=None, "
        "text_column='review', clean_html=True"
    ]


@pytest.mark.parametrize("command", ["finetune", "params"])
def test_help_names_the_supported_families(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert presets.SUPPORTED in " ".join(capsys.readouterr().out.split())


def test_params_on_a_roberta_preset(capsys):
    roberta = tiny_preset("roberta")
    assert main(["params", roberta, "--compare", "head_only,top_k,full",
                 "--top-k", "1"]) == 0
    output = capsys.readouterr().out
    model = TextClassifier.from_preset(roberta, load_weights=False)
    layer = model.backbone.transformer_layers[1].count_params()
    head = model.head.count_params()
    assert re.search(rf"^transformer_layer_1\s+2\s+{layer:,}\s+0\s+{layer:,}",
                     output, re.M)
    # RoBERTa has no pooler: full trains every parameter.
    assert total_trainable(output) == [
        head, layer + head, model.count_params(),
    ]
