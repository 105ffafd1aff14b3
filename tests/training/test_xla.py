"""TPU readiness, proved on the CPU: every model's train and eval steps
compile with XLA on static batch shapes, several steps per call, and give
the same numbers as the plain graph steps."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from bert_test_helper import HEAD_DIM, LABELS, NUM_HEADS, TEXTS, VOCAB, I, S, V

import kerasft
from kerasft.data import make_dataset, make_text_dataset, text_preprocessor
from kerasft.models import BertClassifier, ConvNetwork, FeedforwardNetwork


def _images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3)))
    return x, y.astype("int64")


def _feedforward():
    return FeedforwardNetwork(hidden_units=(16,), num_classes=2)


def _conv():
    return ConvNetwork(filters=(4,), hidden_dim=8, num_classes=2)


def _bert():
    # dropout 0 everywhere: the XLA and graph runs must see the same math.
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=V, num_layers=1, num_heads=NUM_HEADS,
        hidden_dim=NUM_HEADS * HEAD_DIM, intermediate_dim=I,
        max_sequence_length=S, dropout=0.0)
    return BertClassifier(backbone, num_classes=2, dropout=0.0)


def _image_dataset():
    x, y = _images()
    # 40 examples, batches of 16: drop_remainder keeps the shape static.
    return make_dataset(x, y, batch_size=16, shuffle=False,
                        drop_remainder=True)


def _text_dataset():
    preprocessor = text_preprocessor(vocabulary=VOCAB, sequence_length=8)
    return make_text_dataset(TEXTS * 2, LABELS * 2, preprocessor,
                             batch_size=3, shuffle=False,
                             drop_remainder=True)


def _uses_xla(function, dataset):
    """Whether the traced multi-step function calls an XLA-compiled step."""
    concrete = function.get_concrete_function(iter(dataset),
                                              tf.constant(1))
    library = concrete.graph.as_graph_def().library.function
    return any(f.attr["_XlaMustCompile"].b for f in library)


@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # BERT pooler
@pytest.mark.parametrize(
    "build, dataset",
    [(_feedforward, _image_dataset), (_conv, _image_dataset),
     # ~15 s of CPU (XLA compiles BERT's forward and backward passes).
     pytest.param(_bert, _text_dataset, marks=pytest.mark.slow)],
    ids=["feedforward", "conv", "bert"],
)
def test_xla_steps_on_static_shapes_match_the_graph_steps(build, dataset):
    data = dataset()
    # Static shapes, as TPUs need: no None batch or sequence dimension.
    for spec in tf.nest.flatten(data.element_spec):
        assert None not in spec.shape.as_list(), spec
    runs = {}
    for jit_compile in (False, True):
        keras.utils.set_random_seed(0)
        trainer = kerasft.Trainer(
            build(), optimizer="adam", learning_rate=1e-2,
            metrics=["accuracy", "f1"], jit_compile=jit_compile,
            steps_per_execution=2)  # 2 batches per epoch: one call each
        history = trainer.fit(data, epochs=3, verbose=0)
        results = trainer.evaluate(data)
        assert trainer.trace_counts == {"train": 1, "test": 1, "predict": 0}
        assert _uses_xla(trainer._train_function, data) == jit_compile
        assert _uses_xla(trainer._test_function, data) == jit_compile
        runs[jit_compile] = (history.history["loss"], results,
                             [w.numpy() for w in trainer.model.weights])
    (loss, results, weights), (xla_loss, xla_results, xla_weights) = (
        runs[False], runs[True])
    assert xla_loss[-1] < xla_loss[0]
    np.testing.assert_allclose(xla_loss, loss, rtol=1e-3, atol=1e-4)
    for name in ("loss", "accuracy", "f1"):
        np.testing.assert_allclose(xla_results[name], results[name],
                                   rtol=1e-3, atol=1e-4)
    for got, expected in zip(xla_weights, weights):
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_steps_per_execution_with_xla_runs_each_step():
    x, y = _images(48)
    data = make_dataset(x, y, batch_size=8, shuffle=False,
                        drop_remainder=True)
    weights = []
    for steps_per_execution in (1, 4):  # 6 steps: calls of 4 then 2
        keras.utils.set_random_seed(0)
        trainer = kerasft.Trainer(_feedforward(), optimizer="sgd",
                                  learning_rate=0.1, jit_compile=True,
                                  steps_per_execution=steps_per_execution)
        trainer.fit(data, epochs=2, verbose=0)
        assert trainer.global_step == 12
        assert int(trainer.optimizer.iterations) == 12
        assert trainer.trace_counts["train"] == 1
        weights.append([w.numpy() for w in trainer.model.weights])
    for one, many in zip(*weights):
        np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-6)
