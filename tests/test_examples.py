"""The example scripts run: each `main(argv)` with its quickest flags.

The scripts are loaded from `examples/` and run in this process (a
subprocess would add TensorFlow's start-up to each); the figures they print
are checked against what `main` returns.
"""

import csv
import importlib.util
from pathlib import Path

import pytest
from conftest import shared_path
from text_families import tiny_preset

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def load_example(name):
    """Imports `examples/<name>.py` as a module (it is not a package)."""
    path = EXAMPLES_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_linear_regression_matches_least_squares(capsys):
    results = load_example("linear_regression").main([])
    out = capsys.readouterr().out
    assert "least squares" in out and "Max |weight difference|" in out
    assert results["max_abs_diff"] < 1e-2
    assert f"{results['max_abs_diff']:.2e}" in out
    # At the optimum, gradient descent's training MSE is the minimum.
    assert results["mse"] == pytest.approx(results["mse_least_squares"],
                                           rel=1e-5)


@pytest.mark.shared
def test_feedforward_mnist_runs(mnist_dir, capsys):
    results = load_example("feedforward_mnist").main(
        ["--data-dir", str(mnist_dir), "--epochs", "2", "--verbose", "0"]
    )
    out = capsys.readouterr().out
    assert f"Test accuracy (last 2,000 t10k images): " \
           f"{results['accuracy']:.4f}" in out
    assert "Confusion matrix" in out
    assert results["confusion_matrix"].sum() == 2000
    assert results["accuracy"] > 0.9  # 2 epochs; the default 12 give ~0.97


@pytest.mark.shared
def test_conv_mnist_runs_with_augmentation(mnist_dir, capsys):
    results = load_example("conv_mnist").main(
        ["--data-dir", str(mnist_dir), "--epochs", "1", "--augment",
         "--verbose", "0"]
    )
    out = capsys.readouterr().out
    assert f"Test macro F1:                          " \
           f"{results['f1']:.4f}" in out
    assert results["confusion_matrix"].sum() == 2000
    assert results["accuracy"] > 0.5  # 1 epoch; the default 12 give ~0.98


def test_examples_report_a_missing_data_dir(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_example("feedforward_mnist").main(
            ["--data-dir", str(tmp_path / "nowhere")]
        )
    assert exit_info.value.code == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.shared
def test_finetune_bert_sentiment_quick(minilm_dir, rt_polarity_dir, capsys):
    """The real MiniLM on 300 MR sentences: head-only and full, one epoch."""
    results = load_example("finetune_bert_sentiment").main(
        ["--quick", "--max-train", "300", "--strategies", "head_only,full",
         "--preset", str(minilm_dir), "--verbose", "0"]
    )
    out = capsys.readouterr().out
    assert "MR: 270 train, 30 validation, 1067 test sentences" in out
    assert "trainable share: head_only: 0.0%" in out
    by_name = {r["strategy"]: r for r in results}
    assert by_name["head_only"]["trainable"] == 770  # 384 * 2 + 2
    # All 22,713,986 but the pooler (384 * 384 + 384), which mean / cls
    # pooling does not use.
    assert by_name["full"]["trainable"] == 22_713_986 - 147_840
    # Frozen MiniLM features + a linear head beat chance on held-out data.
    assert by_name["head_only"]["accuracy"] > 0.6
    assert f"{by_name['full']['accuracy']:.4f}" in out


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([("text", "label"), *rows])
    return path


def test_finetune_text_file_on_a_tiny_preset(tmp_path, capsys):
    """The example on a tiny DistilBERT and CSV files with string labels."""
    good = ["a good film", "the great movie", "my happy child", "a good book",
            "a very great story"]
    bad = ["a bad film", "the dull movie", "my sad child", "a bad book",
           "a very dull story"]
    train = write_csv(tmp_path / "train.csv",
                      [(t, "pos") for t in good] + [(t, "neg") for t in bad])
    test = write_csv(tmp_path / "test.csv",
                     [("a great film", "pos"), ("a dull book", "neg")])
    results = load_example("finetune_text_file").main([
        "--data", str(train), "--test-data", str(test),
        "--text-column", "text", "--preset", tiny_preset("distil_bert"),
        "--strategy", "head_only", "--sequence-length", "16",
        "--batch-size", "4",
        "--learning-rate", "1e-3", "--validation-fraction", "0",
        "--output-dir", str(tmp_path / "run"), "--verbose", "0",
        "--predict", "a good movie", "a bad story",
    ])
    out = capsys.readouterr().out
    assert ("Data: 10 train, 0 validation, 2 test examples; labels "
            "['neg', 'pos']") in out
    assert f"Test accuracy {results['accuracy']:.4f}" in out
    assert results["label_names"] == ["neg", "pos"]
    assert len(results["predictions"]) == 2
    assert set(results["predictions"]) <= {"neg", "pos"}
    assert (tmp_path / "run" / "model.keras").is_file()


def test_finetune_text_file_reports_a_missing_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_example("finetune_text_file").main(
            ["--data", str(tmp_path / "nope.csv")]
        )
    assert exit_info.value.code == 2
    assert "`data` must be an existing file" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.shared
def test_finetune_text_file_on_imdb_quick(minilm_dir, tmp_path, capsys):
    """The real MiniLM, head only, on 64 IMDB reviews (the default files)."""
    shared_path("data", "imdb", "train.csv.gz")
    results = load_example("finetune_text_file").main([
        "--preset", str(minilm_dir), "--strategy", "head_only",
        "--max-train-examples", "64", "--max-eval-examples", "64",
        "--sequence-length", "64", "--validation-fraction", "0",
        "--output-dir", str(tmp_path / "run"), "--verbose", "0",
    ])
    out = capsys.readouterr().out
    assert ("Data: 64 train, 0 validation, 64 test examples; labels "
            "['0', '1']") in out
    assert results["trainable_params"] == 770  # 384 * 2 + 2: the head
    assert results["confusion_matrix"].sum() == 64
    assert f"Test accuracy {results['accuracy']:.4f}" in out
    assert set(results["predictions"]) <= {"0", "1"}
