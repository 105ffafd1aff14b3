"""Names to Keras objects: which metric each name builds for each task, the
errors for names that do not fit, and the new names end to end through the
Trainer."""

import warnings

import keras
import numpy as np
import pytest
from scipy import stats
from seqeval import metrics as seqeval
from sklearn import metrics as skm

from kerasft.training import (
    EntityF1,
    ExactMatch,
    MultiLabelF1,
    MultiLabelPrecision,
    MultiLabelRecall,
    PearsonCorrelation,
    SpearmanCorrelation,
    Trainer,
    classification_metrics,
    components,
)


def _built(names, task, num_outputs, average=None):
    return components.get_metrics(names, task, num_outputs, average)


def test_huber_loss_is_a_regression_loss():
    loss, task = components.get_loss("huber")
    assert isinstance(loss, keras.losses.Huber) and task == "regression"


def test_multi_label_names_build_multi_label_metrics():
    names = ["accuracy", "precision", "recall", "f1", "micro_f1",
             "macro_f1", "exact_match"]
    built = _built(names, "binary", 4)
    assert [m.name for m in built] == names
    assert [type(m) for m in built] == [
        keras.metrics.BinaryAccuracy, MultiLabelPrecision, MultiLabelRecall,
        MultiLabelF1, MultiLabelF1, MultiLabelF1, ExactMatch]
    assert [getattr(m, "average", None) for m in built] == [
        None, "macro", "macro", "macro", "micro", "macro", None]
    assert all(m.num_labels == 4 for m in built[1:])
    micro = _built(["precision", "f1"], "binary", 4, average="micro")
    assert [m.average for m in micro] == ["micro", "micro"]
    with pytest.raises(ValueError, match=r"multi-label model \(4 sigmoid "
                                         r"outputs\) takes 'micro' or "
                                         r"'macro'. Received: "
                                         r"average='binary'"):
        _built(["f1"], "binary", 4, average="binary")


def test_one_output_binary_keeps_the_confusion_matrix_metrics():
    f1, micro, exact = _built(["f1", "micro_f1", "exact_match"], "binary", 1)
    assert type(f1) is classification_metrics.F1Score
    assert (f1.num_classes, f1.average) == (2, "binary")
    # micro / macro F1 and exact match read the one output as one label.
    assert type(micro) is MultiLabelF1 and micro.num_labels == 1
    y_true, probabilities = [1, 0, 1, 1, 0], [0.9, 0.6, 0.4, 0.7, 0.2]
    for metric in (f1, micro, exact):
        metric.update_state(np.array(y_true, "float32")[:, None],
                            np.array(probabilities, "float32")[:, None])
    predicted = (np.array(probabilities) > 0.5).astype(int)
    assert float(micro.result()) == pytest.approx(
        skm.f1_score(y_true, predicted))
    assert float(f1.result()) == pytest.approx(float(micro.result()))
    assert float(exact.result()) == pytest.approx(
        skm.accuracy_score(y_true, predicted))


def test_single_label_classes_get_micro_and_macro_f1():
    micro, macro = _built(["micro_f1", "Macro_F1"], "sparse", 3)
    assert type(micro) is classification_metrics.F1Score
    assert (micro.num_classes, micro.average, macro.average) == (
        3, "micro", "macro")
    assert macro.name == "macro_f1"
    with pytest.raises(ValueError, match=r"'exact_match' .* equals "
                                         r"'accuracy'. Received: task "
                                         r"'categorical'"):
        _built(["exact_match"], "categorical", 3)


def test_regression_names():
    built = _built(["mae", "rmse", "pearson", "spearman"], "regression", 2)
    assert [type(m) for m in built] == [
        keras.metrics.MeanAbsoluteError, keras.metrics.RootMeanSquaredError,
        PearsonCorrelation, SpearmanCorrelation]
    assert built[2].num_outputs == built[3].num_outputs == 2
    assert built[3].capacity == 65536


@pytest.mark.parametrize(
    "name, task, pattern",
    [
        ("pearson", "sparse", r"'pearson' needs a regression loss .* "
                              r"Received: a classification loss \(task "
                              r"'sparse'\)"),
        ("spearman", "binary", r"'spearman' needs a regression loss"),
        ("f1", "regression", r"'f1' needs a classification loss. Received: "
                             r"a regression loss. Use one of \['mae', "
                             r"'mse', 'rmse', 'pearson', 'spearman'\]"),
        ("exact_match", "regression", r"'exact_match' needs a "
                                      r"classification loss"),
    ],
)
def test_a_name_that_does_not_fit_the_task_is_refused(name, task, pattern):
    with pytest.raises(ValueError, match=pattern):
        _built([name], task, 2)


def test_check_metric_names_knows_every_name():
    components.check_metric_names(list(components.METRIC_NAMES))
    with pytest.raises(ValueError, match=r"Received: metrics=\[\.\.\., "
                                         r"'entity_f1', \.\.\.\]\. Expected "
                                         r"names from \[.*'exact_match', "
                                         r".*'spearman'\]"):
        components.check_metric_names(["f1", "entity_f1"])
    instance = EntityF1(["O", "B-PER"])
    assert _built([instance], "sparse", 2) == [instance]


# ----------------------------------------------- through the Trainer
def _dense(num_outputs, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)),
                             keras.layers.Dense(num_outputs)])


def test_trainer_regression_pearson_and_spearman_over_the_whole_set():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 4)).astype("float32")
    y = np.stack([x[:, 0] + 0.3 * rng.normal(size=90), x[:, 1] ** 2], -1)
    trainer = Trainer(_dense(2), loss="huber",
                      metrics=["pearson", "spearman", "mae"])
    trainer.fit(x, y.astype("float32"), epochs=1, batch_size=16, verbose=0)
    results = trainer.evaluate(x, y.astype("float32"), batch_size=16)
    predictions = trainer.predict(x)
    for name, function in (("pearson", stats.pearsonr),
                           ("spearman", stats.spearmanr)):
        expected = np.mean([function(y[:, j], predictions[:, j])[0]
                            for j in range(2)])
        assert results[name] == pytest.approx(expected, abs=1e-5)


def test_trainer_multi_label_scores_match_sklearn():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 4)).astype("float32")
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0.5, x[:, 0] + x[:, 2] > 0],
                 -1).astype("float32")
    trainer = Trainer(_dense(3), loss="binary_crossentropy",
                      metrics=["accuracy", "f1", "micro_f1", "exact_match"])
    trainer.fit(x, y, epochs=2, batch_size=16, verbose=0)
    results = trainer.evaluate(x, y, batch_size=16)
    predicted = (trainer.predict(x) > 0).astype(int)  # sigmoid > 0.5
    assert "confusion_matrix" not in results
    assert results["f1"] == pytest.approx(skm.f1_score(
        y, predicted, average="macro", zero_division=0), abs=1e-6)
    assert results["micro_f1"] == pytest.approx(skm.f1_score(
        y, predicted, average="micro", zero_division=0), abs=1e-6)
    assert results["exact_match"] == pytest.approx(
        skm.accuracy_score(y, predicted), abs=1e-6)
    assert results["accuracy"] == pytest.approx(np.mean(predicted == y),
                                                abs=1e-6)


def test_trainer_evaluates_an_entity_metric_instance():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    rng = np.random.default_rng(2)
    ids = rng.integers(1, 20, (24, 6))
    # Tags follow the ids, but not always: the model cannot be perfect.
    labels = np.where(rng.uniform(size=ids.shape) < 0.7, ids % len(tags),
                      rng.integers(0, len(tags), ids.shape))
    labels[:, 0] = labels[:, -1] = -100  # [CLS], [SEP]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,), dtype="int32"),
                              keras.layers.Embedding(20, 8),
                              keras.layers.Dense(len(tags))])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                      ignore_class=-100)
    trainer = Trainer(model, loss=loss, optimizer="adam",
                      learning_rate=0.05, metrics=[EntityF1(tags)])
    trainer.fit(ids, labels, epochs=3, batch_size=8, verbose=0)
    results = trainer.evaluate(ids, labels, batch_size=8)
    predicted = trainer.predict(ids).argmax(-1)
    kept = labels != -100
    true_lists = [[tags[t] for t in row[k]] for row, k in zip(labels, kept)]
    pred_lists = [[tags[t] for t in row[k]] for row, k in zip(predicted,
                                                              kept)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = seqeval.f1_score(true_lists, pred_lists)
    assert 0 < expected < 1
    assert results["entity_f1"] == pytest.approx(expected, abs=1e-6)
