"""examples/colab_tpu_finetune.ipynb, run on the CPU.

The notebook's code cells are read with `json` and executed in order in one
namespace, except the install cell (tag "install"), with the TPU connection
(tag "tpu") replaced by the CPU strategy and the settings (tag "config")
overridden after their cell: a tiny random BERT saved as a keras-hub preset,
a few MR sentences, short sequences. Everything else runs as written:
mixed_bfloat16, XLA, steps_per_execution, drop_remainder, evaluation, save
and reload.
"""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from bert_test_helper import VOCAB, tiny_classifier

from kerasft.data import text_preprocessor

NOTEBOOK = (Path(__file__).resolve().parents[1] / "examples"
            / "colab_tpu_finetune.ipynb")


def _cells():
    notebook = json.loads(NOTEBOOK.read_text())
    return notebook["cells"]


def test_notebook_says_it_was_not_run_on_a_tpu():
    first = "".join(_cells()[0]["source"])
    assert _cells()[0]["cell_type"] == "markdown"
    assert "has not been run on a TPU" in first
    assert "tests/test_colab_notebook.py" in first
    tags = [tuple(c["metadata"].get("tags", ())) for c in _cells()
            if c["cell_type"] == "code"]
    # One cell of each kind the CPU run treats specially.
    assert [t for t in tags if t] == [("install",), ("config",), ("tpu",)]


@pytest.mark.slow  # ~20 s of CPU: XLA compiles BERT's train and eval steps
@pytest.mark.filterwarnings("ignore:Gradients do not exist")
def test_every_cell_but_the_tpu_connection_runs_on_cpu(tmp_path,
                                                       rt_polarity_dir):
    preset = tmp_path / "tiny_bert"
    tiny_classifier(num_layers=1).save_backbone_preset(
        preset, text_preprocessor(vocabulary=VOCAB, sequence_length=16))
    overrides = {
        "PRESET": str(preset),
        "SEQUENCE_LENGTH": 16,  # the tiny BERT's maximum
        "BATCH_SIZE_PER_REPLICA": 8,
        "EPOCHS": 2,
        "LEARNING_RATE": 1e-3,
        "STEPS_PER_EXECUTION": 4,
        "DATA_DIR": str(rt_polarity_dir),
        "MAX_TRAIN": 80,  # 72 train (9 batches), 8 validation (1)
        "MAX_TEST": 20,  # 2 batches; 4 sentences dropped
        "OUTPUT_DIR": str(tmp_path / "out"),
    }
    namespace = {}
    try:
        for index, cell in enumerate(_cells()):
            if cell["cell_type"] != "code":
                continue
            tags = cell["metadata"].get("tags", [])
            source = "".join(cell["source"])
            if "install" in tags:
                continue
            if "tpu" in tags:
                assert 'kerasft.get_strategy("tpu")' in source
                source = 'strategy = kerasft.get_strategy("cpu")\n'
            assert not any(line.startswith(("!", "%"))
                           for line in source.splitlines()), index
            exec(compile(source, f"{NOTEBOOK.name} cell {index}", "exec"),
                 namespace)
            if "config" in tags:
                # The overrides must name the notebook's own settings.
                assert set(overrides) <= set(namespace), set(overrides) - set(
                    namespace)
                assert namespace["MIXED_PRECISION"] == "mixed_bfloat16"
                namespace.update(overrides)
    finally:
        keras.mixed_precision.set_global_policy("float32")

    model, trainer = namespace["model"], namespace["trainer"]
    assert trainer.config.jit_compile
    assert trainer.config.steps_per_execution == 4
    assert trainer.trace_counts["train"] == 1
    assert {str(w.dtype) for w in model.weights} == {"float32"}
    assert model.dtype_policy.compute_dtype == "bfloat16"
    train_spec = namespace["train"].element_spec[0]["token_ids"]
    assert train_spec.shape.as_list() == [8, 16]  # static for XLA
    assert trainer.global_step == 18  # 9 batches x 2 epochs
    losses = namespace["history"].history["loss"]
    assert np.all(np.isfinite(losses))
    results = namespace["results"]
    assert results["confusion_matrix"].sum() == 16  # 20 - dropped remainder
    assert 0.0 <= results["accuracy"] <= 1.0
    assert (tmp_path / "out" / "bert_mr.keras").is_file()
    predicted, probabilities = (namespace["predicted"],
                                namespace["probabilities"])
    assert predicted.shape == (2,)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-2)
