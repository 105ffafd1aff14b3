"""`kerasft pretrain` and run_pretrain on a tiny corpus: from scratch, from
a config file, continued from a preset, and bad input."""

import json

import numpy as np
import pytest
from text_corpus_helper import write_corpus

import kerasft
from kerasft import cli
from kerasft.recipes.pretrain import PretrainConfig, run_pretrain

TINY = ["--num-layers", "1", "--hidden-dim", "16", "--num-heads", "2",
        "--intermediate-dim", "32", "--sequence-length", "12",
        "--batch-size", "20", "--verbose", "0"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_cli_pretrains_from_scratch_and_saves_a_preset(corpus, tmp_path,
                                                       capsys):
    output = tmp_path / "run"
    code = cli.main(["pretrain", "--corpus", str(corpus), "--output-dir",
                     str(output), "--vocabulary-size", "100", "--epochs", "2",
                     "--learning-rate", "0.01", "--checkpoint-dir",
                     str(tmp_path / "checkpoints"), *TINY])
    out = capsys.readouterr().out
    assert code == 0, out
    results = json.loads((output / "results.json").read_text())
    assert results["config"]["num_layers"] == 1
    history = results["history"]
    assert len(history["loss"]) == 2
    assert history["loss"][1] < history["loss"][0]
    # Packed (the default): 200 short lines fill ~110 windows of 12.
    num_examples = results["results"]["num_examples"]
    assert num_examples < 200
    assert results["results"]["steps"] == 2 * (num_examples // 20)
    assert results["results"]["padding_fraction"] < 0.05
    assert results["results"]["tokens_per_second"] > 0
    assert f"masked-token accuracy {history['accuracy'][-1]:.4f}" in out
    vocabulary = (output / "vocab.txt").read_text().splitlines()
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert (output / "logs" / "train").is_dir()
    # kerasft.Checkpointer saved at each epoch end (it keeps the last 3).
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "ckpt-000001", "ckpt-000002"]
    # The preset fine-tunes like any other.
    classifier = kerasft.BertClassifier.from_preset(output / "preset",
                                                    num_classes=2)
    assert classifier.backbone.vocabulary_size == len(vocabulary)
    assert classifier.backbone.num_layers == 1


@pytest.mark.slow
def test_config_file_flags_override_it_and_preset_continues(
        corpus, tmp_path, capsys):
    config = tmp_path / "pretrain.toml"
    config.write_text(
        f'corpus = "{corpus}"\noutput_dir = "{tmp_path / "first"}"\n'
        "vocabulary_size = 100\nnum_layers = 1\nhidden_dim = 16\n"
        "num_heads = 2\nintermediate_dim = 32\nsequence_length = 12\n"
        "batch_size = 20\nepochs = 5\n")
    code = cli.main(["pretrain", "--config", str(config), "--max-steps", "3",
                     "--verbose", "0"])
    assert code == 0, capsys.readouterr().err
    first = json.loads((tmp_path / "first" / "results.json").read_text())
    assert first["results"]["steps"] == 3  # --max-steps beat epochs = 5
    preset = tmp_path / "first" / "preset"

    # Continued pretraining: the preset's own vocabulary and architecture.
    results = run_pretrain(PretrainConfig(
        corpus=str(corpus), preset=str(preset), sequence_length=12,
        batch_size=20, max_steps=2, output_dir=str(tmp_path / "second")),
        verbose=0)
    assert results["steps"] == 2
    assert results["vocabulary_size"] == first["results"]["vocabulary_size"]
    before = kerasft.pretraining.load_masked_lm(preset)[0]
    after = kerasft.pretraining.load_masked_lm(results["preset_dir"])[0]
    weights = [(a.numpy(), b.numpy())
               for a, b in zip(before.weights, after.weights)]
    assert all(a.shape == b.shape for a, b in weights)
    assert any(not np.array_equal(a, b) for a, b in weights)


@pytest.mark.parametrize("flags, message", [
    (["--mask-rate", "1.0"], "expected 0 < mask_rate < 1"),
    (["--mask-rate", "0"], "expected 0 < mask_rate < 1"),
    (["--hidden-dim", "30", "--num-heads", "4"],
     "divisible by `num_heads`"),
    (["--vocabulary-size", "4"], "larger than the 5 special tokens"),
])
def test_bad_settings_are_refused_before_any_work(tmp_path, capsys, flags,
                                                  message):
    code = cli.main(["pretrain", "--corpus", str(tmp_path / "nowhere"),
                     "--output-dir", str(tmp_path / "run"), *flags])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_corpus_errors(tmp_path, capsys):
    args = ["pretrain", "--output-dir", str(tmp_path / "run"), *TINY]
    assert cli.main([*args, "--corpus", str(tmp_path / "nowhere")]) == 2
    assert "corpus path does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("\n\n")
    assert cli.main([*args, "--corpus", str(tmp_path / "empty")]) == 2
    assert "The corpus is empty" in capsys.readouterr().err
    write_corpus(tmp_path / "small", num_lines=5)
    assert cli.main([*args, "--corpus", str(tmp_path / "small"),
                     "--vocabulary-size", "100"]) == 2
    assert "fewer than 1 batch(es) of 20" in capsys.readouterr().err
    assert cli.main(args) == 2
    assert "needs a corpus" in capsys.readouterr().err


def test_config_file_with_unknown_keys(tmp_path, capsys):
    config = tmp_path / "pretrain.json"
    config.write_text(json.dumps({"corpus": "x", "hidden_size": 128}))
    assert cli.main(["pretrain", "--config", str(config)]) == 2
    assert "Unknown settings in the config file: ['hidden_size']" in (
        capsys.readouterr().err)


@pytest.mark.slow
@pytest.mark.shared
def test_continued_pretraining_of_minilm(minilm_dir, corpus, tmp_path):
    """Domain-adaptive pretraining of the real MiniLM (Hugging Face layout,
    loaded offline by keras-hub): two steps, saved as a keras-hub preset."""
    results = run_pretrain(PretrainConfig(
        corpus=str(corpus), preset=str(minilm_dir), sequence_length=16,
        batch_size=8, max_steps=2, output_dir=str(tmp_path)), verbose=0)
    assert results["steps"] == 2
    assert results["vocabulary_size"] == 30522
    # MiniLM's checkpoint has no MLM head: keras-hub adds a new one.
    assert np.isfinite(results["loss"])
    config = json.loads((tmp_path / "preset" / "config.json").read_text())
    assert config["config"]["num_layers"] == 6
    assert config["config"]["vocabulary_size"] == 30522
