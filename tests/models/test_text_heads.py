"""MultiLabelClassifier, TextRegressor and TokenClassifier on tiny random
encoders: shapes, losses computed by hand, masking, save / load in a fresh
process, predict_texts on raw strings, bad arguments."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from text_families import FAMILIES, SENTENCE_PAIR, SENTENCES, tiny_preset

import kerasft
from kerasft.data.token_pipeline import make_token_dataset, tokenize_words
from kerasft.models.token_classifier import IGNORE_INDEX

TAGS = ["O", "B-animal", "I-animal", "B-thing", "I-thing"]
WORDS = [sentence.split() for sentence in SENTENCES]


def word_tags(sentence):
    """Deterministic tags: animals and things, some two words long."""
    tags = []
    for i, word in enumerate(sentence):
        if word in ("fox", "dog", "cat", "child"):
            previous = sentence[i - 1] if i else ""
            tags.append("I-animal" if previous == "brown" else "B-animal")
        elif word in ("brown",):
            tags.append("B-animal")
        elif word in ("tree", "book", "river", "movie", "film"):
            tags.append("B-thing")
        else:
            tags.append("O")
    return tags


TAG_SEQUENCES = [word_tags(sentence) for sentence in WORDS]


def preprocessor_of(family, sequence_length=16):
    return kerasft.data.text_preprocessor(
        tiny_preset(family), sequence_length=sequence_length)


def encode(family, texts, sequence_length=16):
    return preprocessor_of(family, sequence_length)(texts)


# --- Multi-label --------------------------------------------------------------


def test_multi_label_loss_is_binary_cross_entropy_on_logits():
    tiny_preset("bert")  # built (and seeded) first
    keras.utils.set_random_seed(0)
    model = kerasft.MultiLabelClassifier.from_preset(
        tiny_preset("bert"), num_labels=3, label_names=["a", "b", "c"])
    assert model.default_loss == "binary_crossentropy"
    inputs = encode("bert", SENTENCES)
    targets = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0],
                        [1, 0, 0]], "float32")
    trainer = kerasft.Trainer(model, metrics=["micro_f1", "exact_match"])
    results = trainer.evaluate(dict(inputs), targets, batch_size=5)
    logits = np.asarray(model(inputs), "float64")
    expected = np.mean(
        np.maximum(logits, 0) - logits * targets
        + np.log1p(np.exp(-np.abs(logits))))
    np.testing.assert_allclose(results["loss"], expected, rtol=1e-5)
    assert "confusion_matrix" not in results
    predicted = (1 / (1 + np.exp(-logits)) >= 0.5)
    np.testing.assert_allclose(
        results["exact_match"],
        np.mean((predicted == targets.astype(bool)).all(axis=1)))


def test_multi_label_learns_and_predicts_label_sets_on_two_families():
    texts = SENTENCES * 8
    # Label 0: the text mentions an animal; label 1: it has "the".
    targets = np.array(
        [[any(w in t for w in ("dog", "cat", "fox", "child")),
          " the " in f" {t} "] for t in texts], "float32")
    for family in ("bert", "roberta"):
        tiny_preset(family)  # built (and seeded) first, see below
        keras.utils.set_random_seed(0)
        preprocessor = preprocessor_of(family)
        model = kerasft.MultiLabelClassifier.from_preset(
            tiny_preset(family), num_labels=2,
            label_names=["animal", "the"])
        dataset = kerasft.data.make_text_dataset(
            texts, targets, preprocessor=preprocessor, batch_size=8,
            shuffle=False)
        trainer = kerasft.Trainer(model, optimizer="adam",
                                  learning_rate=3e-3, metrics=["macro_f1"])
        trainer.fit(dataset, epochs=25, verbose=0)
        assert trainer.evaluate(dataset)["macro_f1"] > 0.9, family
        model.threshold = [0.5, 0.99999]
        labels, probabilities = kerasft.predict_texts(
            model, ["the quick brown fox sees a lazy dog"], preprocessor)
        assert probabilities.shape == (1, 2)
        assert [name for name, _ in labels[0]] == ["animal"]
        assert labels[0][0][1] == pytest.approx(float(probabilities[0, 0]))


def test_multi_label_thresholds_are_checked_and_saved(tmp_path):
    model = kerasft.MultiLabelClassifier.from_preset(
        tiny_preset("bert"), num_labels=2, threshold=[0.3, 0.7])
    assert model.thresholds() == [0.3, 0.7]
    with pytest.raises(ValueError, match=r"one per label \(num_labels=2\)"):
        model.threshold = [0.5]
    with pytest.raises(ValueError, match=r"`threshold` must be a number in "
                       r"\(0.0, 1.0\)"):
        model.threshold = 1.5
    path = tmp_path / "multi.keras"
    model.save(path)
    assert keras.models.load_model(path).thresholds() == [0.3, 0.7]
    with pytest.raises(ValueError, match="`num_labels` must be an int >= 1"):
        kerasft.MultiLabelClassifier.from_preset("no/such/preset",
                                                 num_labels=0)


def test_multi_label_targets_of_the_wrong_width_or_not_0_1():
    model = kerasft.MultiLabelClassifier.from_preset(
        tiny_preset("bert"), num_labels=3)
    trainer = kerasft.Trainer(model)
    inputs = dict(encode("bert", SENTENCES[:2]))
    with pytest.raises(ValueError, match=r"expected \(batch, 3\) targets. "
                       r"Received: labels of shape \(2, 2\)"):
        trainer.fit(inputs, np.ones((2, 2), "float32"), batch_size=2,
                    verbose=0)
    with pytest.raises(ValueError, match="must be 0 or 1.*target=0.5"):
        trainer.fit(inputs, np.full((2, 3), 0.5, "float32"), batch_size=2,
                    verbose=0)


# --- Regression ---------------------------------------------------------------


def test_regressor_starts_at_the_target_mean_and_scales_outputs():
    targets = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]], "float32")
    scaling = kerasft.TextRegressor.target_scaling(targets)
    np.testing.assert_allclose(scaling["target_mean"], [3.0, 30.0])
    np.testing.assert_allclose(scaling["target_std"],
                               targets.std(axis=0), rtol=1e-6)
    model = kerasft.TextRegressor.from_preset(
        tiny_preset("bert"), num_outputs=2, **scaling)
    kernel, bias = model.head.weights
    kernel.assign(np.zeros(kernel.shape))
    bias.assign([1.0, -2.0])
    outputs = np.asarray(model(encode("bert", SENTENCES[:2])))
    # head = (1, -2) everywhere: outputs = head * std + mean.
    np.testing.assert_allclose(
        outputs, [[3.0 + 1.0 * targets[:, 0].std(),
                   30.0 - 2.0 * targets[:, 1].std()]] * 2, rtol=1e-5)
    with pytest.raises(ValueError, match="`target_std` must be a number > "
                       "0.0"):
        kerasft.TextRegressor(model.backbone, target_std=0.0)
    with pytest.raises(TypeError, match="`targets` must be numbers"):
        kerasft.TextRegressor.target_scaling(np.array(["1.5", "2"]))


def test_regressor_fits_sentence_pairs_and_saves_its_scaling(tmp_path):
    tiny_preset("bert")  # built (and seeded) first
    keras.utils.set_random_seed(0)
    first, second = SENTENCE_PAIR
    first, second = first * 8, second * 8
    scores = np.array([4.0, 1.0] * 8, "float32")
    preprocessor = preprocessor_of("bert")
    model = kerasft.TextRegressor.from_preset(
        tiny_preset("bert"), dropout=0.0,
        **kerasft.TextRegressor.target_scaling(scores))
    assert model.default_loss == "mse"
    dataset = kerasft.data.make_text_dataset(
        (first, second), scores, preprocessor=preprocessor, batch_size=8,
        shuffle=False)
    trainer = kerasft.Trainer(model, loss="huber", learning_rate=3e-3,
                              metrics=["pearson", "mae"])
    trainer.fit(dataset, epochs=15, verbose=0)
    results = trainer.evaluate(dataset)
    assert results["mae"] < 0.5, results
    values = kerasft.predict_texts(model, (first[:2], second[:2]),
                                   preprocessor)
    assert values.shape == (2,)
    assert values[0] > values[1]
    path = tmp_path / "regressor.keras"
    model.save(path)
    code = (
        "import kerasft, keras, json, sys\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        "print(json.dumps([m.target_mean, m.target_std]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.strip().splitlines()
    assert json.loads(out[-1]) == [list(model.target_mean),
                                   list(model.target_std)]


def test_regression_targets_must_be_numbers():
    model = kerasft.TextRegressor.from_preset(tiny_preset("bert"))
    trainer = kerasft.Trainer(model)
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(
        (dict(encode("bert", SENTENCES[:2])), ["1.5", "x"])).batch(2)
    with pytest.raises(TypeError, match="Labels in `x` are strings"):
        trainer.fit(dataset, verbose=0)


# --- Token classification -----------------------------------------------------


def test_token_loss_skips_ignored_pieces():
    model = kerasft.TokenClassifier.from_preset(tiny_preset("bert"),
                                                tag_names=TAGS)
    windows = tokenize_words(WORDS, TAG_SEQUENCES, preprocessor_of("bert"),
                             tag_names=TAGS)
    labels = windows.labels
    assert (labels != IGNORE_INDEX).sum() == sum(map(len, WORDS))
    trainer = kerasft.Trainer(model)
    results = trainer.evaluate(windows.inputs, labels,
                               batch_size=len(labels))
    logits = np.asarray(model(windows.inputs), "float64")
    scored = labels != IGNORE_INDEX
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(
        log_probs, np.where(scored, labels, 0)[..., None], -1)[..., 0]
    # The mean over the scored positions only.
    np.testing.assert_allclose(results["loss"], -picked[scored].mean(),
                               rtol=1e-5)
    # Changing the logits at ignored positions changes nothing: only
    # labelled pieces count, whatever the head says elsewhere.
    assert model(windows.inputs).shape == (*labels.shape, len(TAGS))


@pytest.mark.parametrize("family", FAMILIES)
def test_token_classifier_learns_and_returns_entities(family, tmp_path):
    # The preset first: building it (once per process) reseeds, so seeding
    # before would give the head other weights depending on test order.
    preset = tiny_preset(family)
    keras.utils.set_random_seed(0)
    preprocessor = preprocessor_of(family, sequence_length=24)
    model = kerasft.TokenClassifier.from_preset(preset, tag_names=TAGS,
                                                dropout=0.0)
    dataset = make_token_dataset(WORDS * 8, TAG_SEQUENCES * 8, preprocessor,
                                 tag_names=TAGS, batch_size=10,
                                 shuffle=True, seed=0)
    trainer = kerasft.Trainer(model, optimizer="adam", learning_rate=5e-3,
                              metrics=[kerasft.training.EntityF1(TAGS)])
    trainer.fit(dataset, epochs=25, verbose=0)
    assert trainer.evaluate(dataset)["entity_f1"] > 0.9, family
    text = "the  quick brown fox sees a lazy dog near the river"
    (entities,) = kerasft.predict_texts(model, [text], preprocessor)
    found = [(e["type"], e["text"]) for e in entities]
    assert found == [("animal", "brown fox"), ("animal", "dog"),
                     ("thing", "river")], family
    for entity in entities:
        assert text[entity["start"]:entity["end"]] == entity["text"]
        assert 0 < entity["score"] <= 1
    path = tmp_path / "tagger.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.tag_names == tuple(TAGS)
    assert kerasft.predict_texts(loaded, [text], preprocessor) == [entities]


def test_token_classifier_bad_tags_and_labels():
    backbone = kerasft.TextClassifier.from_preset(
        tiny_preset("bert")).backbone
    with pytest.raises(ValueError, match=r"\('X-animal' is not a tag\)"):
        kerasft.TokenClassifier(backbone, tag_names=["O", "X-animal"])
    with pytest.raises(TypeError, match="`tag_names` must be a list of str"):
        kerasft.TokenClassifier(backbone, tag_names="O")
    model = kerasft.TokenClassifier(backbone, tag_names=TAGS)
    windows = tokenize_words(WORDS[:2], TAG_SEQUENCES[:2],
                             preprocessor_of("bert"), tag_names=TAGS)
    labels = windows.labels.copy()
    labels[0, 1] = 7
    with pytest.raises(ValueError, match=r"expected integers in \[0, 5\) or "
                       r"-100 \(ignored\). Received: label=7"):
        kerasft.Trainer(model).fit(windows.inputs, labels, batch_size=2,
                                   verbose=0)
    with pytest.raises(ValueError, match=r"Named metrics do not skip the "
                       r"ignored label -100 .* metrics=\['accuracy'\]"):
        kerasft.Trainer(model, metrics=["accuracy"]).evaluate(
            windows.inputs, windows.labels, batch_size=2)
    with pytest.raises(ValueError, match="Feature caching applies to heads"):
        kerasft.freeze_backbone(model)
        kerasft.finetuning.cache_features(
            model, windows.to_dataset(batch_size=2))


# --- The same freeze API, strategies and feature caching ----------------------


def _heads(preset):
    return {
        "classifier": kerasft.TextClassifier.from_preset(preset),
        "multi_label": kerasft.MultiLabelClassifier.from_preset(
            preset, num_labels=3),
        "regressor": kerasft.TextRegressor.from_preset(preset),
        "tagger": kerasft.TokenClassifier.from_preset(preset,
                                                      tag_names=TAGS),
    }


@pytest.mark.parametrize("strategy", kerasft.STRATEGIES)
def test_every_strategy_trains_the_same_backbone_part_under_every_head(
        strategy):
    trained = {}
    for name, model in _heads(tiny_preset("bert")).items():
        kerasft.prepare_finetuning(model, strategy, top_k=1, lora_rank=2)
        ids = {id(v) for v in model.trainable_variables}
        head = [v for v in model.head.weights]
        assert all(id(v) in ids for v in head), (name, strategy)
        # The pooler is unused under "cls" pooling and by the tagger.
        assert not ids & {id(v) for v in model.unused_weights}
        trained[name] = sorted(
            v.path for v in model.backbone.weights if id(v) in ids)
        report = kerasft.block_report(model)
        assert any(row.state == "unused" for row in report), name
    assert len({tuple(paths) for paths in trained.values()}) == 1, strategy


def test_feature_caching_trains_multi_label_and_regression_heads():
    from kerasft.finetuning import fit_head_on_cached_features

    tiny_preset("bert")  # built (and seeded) first
    keras.utils.set_random_seed(0)
    preprocessor = preprocessor_of("bert")
    texts = SENTENCES * 4
    for model, targets, metric in (
        (kerasft.MultiLabelClassifier.from_preset(
            tiny_preset("bert"), num_labels=2),
         np.array([[i % 2, (i // 2) % 2] for i in range(len(texts))],
                  "float32"), "macro_f1"),
        (kerasft.TextRegressor.from_preset(tiny_preset("bert")),
         np.arange(len(texts), dtype="float32") % 5, "mae"),
    ):
        kerasft.freeze_backbone(model)
        dataset = kerasft.data.make_text_dataset(
            texts, targets, preprocessor=preprocessor, batch_size=4,
            shuffle=False)
        trainer, history = fit_head_on_cached_features(
            model, dataset, epochs=5, learning_rate=1e-2, metrics=[metric],
            verbose=0)
        # The head trains with the model's own loss.
        assert type(trainer.loss).__name__ == {
            "binary_crossentropy": "BinaryCrossentropy",
            "mse": "MeanSquaredError"}[model.default_loss]
        assert history.history["loss"][-1] < history.history["loss"][0]
