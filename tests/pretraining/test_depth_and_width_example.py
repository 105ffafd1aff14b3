"""examples/depth_and_width.py: its parameter split, checked by hand."""

import importlib.util
from pathlib import Path

import kerasft
from kerasft import pretraining

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / (
    "depth_and_width.py")


def load_example():
    spec = importlib.util.spec_from_file_location("depth_and_width", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parameters_by_layer_type_match_the_formulas():
    example = load_example()
    V, S, H, I, L = 50, 16, 32, 64, 3  # noqa: E741 (the usual names)
    backbone = pretraining.bert_backbone(
        V, num_layers=L, hidden_dim=H, num_heads=2, intermediate_dim=I,
        max_sequence_length=S)
    classifier = kerasft.BertClassifier(backbone, num_classes=2)
    counts = example.parameters_by_type(classifier)
    assert counts == {
        "embeddings": (V + S + 2) * H + 2 * H,
        "attention": L * (4 * (H * H + H) + 2 * H),
        "feed-forward": L * (2 * H * I + I + H + 2 * H),
        "pooler": H * H + H,
        "head": H * 2 + 2,
    }
    assert example.parse_configs("1x64,4X128") == [(1, 64), (4, 128)]
