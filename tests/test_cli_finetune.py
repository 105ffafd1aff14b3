"""`kerasft finetune` and `kerasft params`, in-process on a tiny preset."""

import json
import re

import keras
import keras_hub
import numpy as np
import pytest
from bert_test_helper import EMBEDDINGS
from bert_test_helper import HEAD
from bert_test_helper import LABELS
from bert_test_helper import LAYER
from bert_test_helper import LORA_PER_KERNEL
from bert_test_helper import POOLER
from bert_test_helper import TEXTS
from bert_test_helper import VOCAB
from bert_test_helper import tiny_backbone

import kerasft
from kerasft.cli import main
from kerasft.data import load_text_folder
from kerasft.data import make_text_dataset
from kerasft.data import text_preprocessor
from kerasft.finetuning import load_lora_weights
from kerasft.models import BertClassifier

ALL = EMBEDDINGS + 2 * LAYER + POOLER + HEAD  # the 2-layer preset
LORA = 2 * 2 * LORA_PER_KERNEL


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
        HEAD, LAYER + POOLER + HEAD, ALL, LORA + HEAD,
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
    assert np.array(saved["results"]["confusion_matrix"]).sum() == 2

    # The saved classifier (LoRA merged into the kernels) gives the same
    # test accuracy, and so does the base preset plus the adapter file.
    test = make_text_dataset(
        load_text_folder(text_folder / "test"),
        preprocessor=text_preprocessor(preset, sequence_length=16),
        batch_size=4, shuffle=False)
    model = keras.saving.load_model(output_dir / "model.keras")
    assert model.count_params() == ALL  # no separate LoRA variables
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
    assert re.search(rf"^total\s+{ALL:,}\s+0\s+{ALL:,}", output, re.M)


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
