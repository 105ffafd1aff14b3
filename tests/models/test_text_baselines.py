"""TextCNNClassifier, BiLSTMClassifier and the word ids that feed them."""

import keras
import numpy as np
import pytest
from model_test_helper import run_model_test

import kerasft
from kerasft.data import load_rt_polarity_arrays, word_id_arrays
from kerasft.models import BiLSTMClassifier, TextCNNClassifier

RNG = np.random.default_rng(0)

SMALL_CNN = {"vocabulary_size": 50, "embedding_dim": 8, "num_filters": 4,
             "num_classes": 3}
# Larger embeddings than the default U(-0.05, 0.05): with those, one SGD
# step moves the recurrent kernels by less than allclose can see.
SMALL_LSTM = {"vocabulary_size": 50, "embedding_dim": 8, "hidden_dim": 4,
              "num_classes": 3, "embeddings_initializer": "glorot_uniform"}


def word_ids(batch, seq_len, lengths=None):
    """Random ids in [2, 50), then 0 after each row's length."""
    ids = RNG.integers(2, 50, size=(batch, seq_len)).astype("int32")
    if lengths is not None:
        for row, length in enumerate(lengths):
            ids[row, length:] = 0
    return ids


# --- Shapes, config, save/load, a training step -------------------------------


@pytest.mark.parametrize(
    "init_kwargs",
    [
        SMALL_CNN,
        {**SMALL_CNN, "filter_widths": [2, 7], "dropout": 0.0,
         "logits_max_norm": 3.0, "embeddings_initializer": "glorot_uniform"},
    ],
)
def test_text_cnn_basics(init_kwargs):
    keras.utils.set_random_seed(0)
    # A row of length 1, shorter than every filter, and an empty one.
    ids = word_ids(4, 9, lengths=(9, 5, 1, 0))
    run_model_test(TextCNNClassifier, init_kwargs, ids, (4, 3))


@pytest.mark.parametrize(
    "init_kwargs", [SMALL_LSTM, {**SMALL_LSTM, "num_layers": 2,
                                 "dropout": 0.0}],
)
def test_bilstm_basics(init_kwargs):
    # Seeded: the helper's one SGD step moves a recurrent kernel by ~1e-6,
    # near allclose's tolerance; about 1 in 20 unseeded draws fails.
    keras.utils.set_random_seed(0)
    ids = word_ids(4, 9, lengths=(9, 5, 1, 0))
    run_model_test(BiLSTMClassifier, init_kwargs, ids, (4, 3))


def test_initializer_object_round_trips():
    initializer = keras.initializers.RandomUniform(-0.25, 0.25, seed=1)
    model = TextCNNClassifier(**SMALL_CNN, embeddings_initializer=initializer)
    config = model.get_config()
    assert isinstance(config["embeddings_initializer"], dict)
    restored = TextCNNClassifier.from_config(config)
    assert restored.get_config() == config
    restored.build((None, 6))
    embeddings = restored.get_layer("token_embedding").get_weights()[0]
    assert 0.2 < np.abs(embeddings).max() <= 0.25


def test_top_level_exports():
    assert kerasft.TextCNNClassifier is TextCNNClassifier
    assert kerasft.BiLSTMClassifier is BiLSTMClassifier
    assert kerasft.data.word_id_arrays is word_id_arrays


# --- Parameter counts, by hand ------------------------------------------------


def test_text_cnn_parameter_count_by_hand():
    v, d, f, c, widths = 50, 8, 4, 3, (3, 4, 5)
    model = TextCNNClassifier(vocabulary_size=v, embedding_dim=d,
                              filter_widths=widths, num_filters=f,
                              num_classes=c)
    model.build((None, 10))
    embedding = v * d
    convs = sum(w * d * f + f for w in widths)
    head = len(widths) * f * c + c
    assert model.count_params() == embedding + convs + head  # 400+396+39
    assert model.get_layer("conv_4").count_params() == 4 * d * f + f


def test_bilstm_parameter_count_by_hand():
    v, d, h, c = 50, 8, 4, 3
    model = BiLSTMClassifier(vocabulary_size=v, embedding_dim=d,
                             hidden_dim=h, num_layers=2, num_classes=c)
    model.build((None, 10))

    def lstm(inputs):  # four gates: kernel, recurrent kernel, bias
        return 4 * (h * (inputs + h) + h)

    layer_0 = 2 * lstm(d)  # two directions
    layer_1 = 2 * lstm(2 * h)  # reads both directions of layer 0
    head = 2 * h * c + c
    assert model.count_params() == v * d + layer_0 + layer_1 + head
    assert model.get_layer("bilstm_1").count_params() == layer_1


def test_parameter_report_reads_embeddings_body_head():
    model = TextCNNClassifier(**SMALL_CNN)
    model.build((None, 10))
    kerasft.freeze(model, "token_embedding")
    rows = {r.path: r for r in kerasft.parameter_report(model)}
    assert rows["token_embedding"].frozen
    assert rows["token_embedding"].non_trainable_params == 50 * 8
    assert not rows["conv_3"].frozen and not rows["logits"].frozen
    assert rows[""].non_trainable_params == 50 * 8
    assert "token_embedding" in kerasft.format_parameter_report(
        list(rows.values())
    )


# --- Padding never changes the logits -----------------------------------------


def test_text_cnn_padded_position_never_wins_the_max():
    model = TextCNNClassifier(**SMALL_CNN, dropout=0.0)
    model.build((None, 12))
    # Make padding tempting. Real words: positive vectors, negative conv
    # kernels, a bias of 10, so a real window outputs less than 10. An
    # all-padding window would output 10 if it were not masked, and a
    # window over padding would output far more if the padding vector
    # (-100) were not zeroed.
    embedding = model.get_layer("token_embedding")
    table = np.abs(embedding.get_weights()[0])
    table[0] = -100.0
    embedding.set_weights([table])
    for width in (3, 4, 5):
        conv = model.get_layer(f"conv_{width}")
        kernel, bias = conv.get_weights()
        conv.set_weights([-np.abs(kernel), bias + 10.0])
    sentence = np.array([[7, 12, 3, 44, 9]], "int32")
    right_padded = np.pad(sentence, [[0, 0], [0, 7]])
    left_padded = np.pad(sentence, [[0, 0], [7, 0]])
    expected = keras.ops.convert_to_numpy(model(sentence))
    for padded in (right_padded, left_padded):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(model(padded)), expected,
            rtol=1e-5, atol=1e-5,
        )


def test_bilstm_padding_does_not_change_logits():
    model = BiLSTMClassifier(**SMALL_LSTM, dropout=0.0)
    sentence = np.array([[7, 12, 3, 44, 9]], "int32")
    padded = np.pad(sentence, [[0, 0], [0, 7]])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(padded)),
        keras.ops.convert_to_numpy(model(sentence)),
        rtol=1e-5, atol=1e-5,
    )


# --- Argument checks ----------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, received",
    [
        (TextCNNClassifier, {"vocabulary_size": 2}, "vocabulary_size=2"),
        (TextCNNClassifier, {"filter_widths": ()}, "filter_widths=()"),
        (TextCNNClassifier, {"filter_widths": (3, 3)}, "filter_widths=(3, 3)"),
        (TextCNNClassifier, {"num_filters": 0}, "num_filters=0"),
        (TextCNNClassifier, {"dropout": 1.5}, "dropout=1.5"),
        (TextCNNClassifier, {"logits_max_norm": -3}, "logits_max_norm=-3"),
        (TextCNNClassifier, {"embeddings_initializer": "nope"},
         "embeddings_initializer='nope'"),
        (BiLSTMClassifier, {"hidden_dim": 0}, "hidden_dim=0"),
        (BiLSTMClassifier, {"num_layers": 1.5}, "num_layers=1.5"),
        (BiLSTMClassifier, {"embedding_dim": True}, "embedding_dim=True"),
        (BiLSTMClassifier, {"num_classes": 0}, "num_classes=0"),
        (BiLSTMClassifier, {"embeddings_initializer": 3},
         "embeddings_initializer=3"),
    ],
)
def test_bad_arguments_name_the_argument(cls, kwargs, received):
    with pytest.raises(ValueError) as error:
        cls(**kwargs)
    assert f"Received: {received}" in str(error.value)


@pytest.mark.parametrize("cls", [TextCNNClassifier, BiLSTMClassifier])
def test_inputs_must_be_ids_of_rank_2(cls):
    model = cls(vocabulary_size=50, embedding_dim=4, num_classes=2)
    with pytest.raises(ValueError, match=r"inputs.shape=\(2, 5, 3\)"):
        model(np.ones((2, 5, 3), "int32"))


# --- Training with the Trainer ------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs", [(TextCNNClassifier, SMALL_CNN),
                    (BiLSTMClassifier, SMALL_LSTM)],
)
def test_frozen_embedding_does_not_move_in_trainer_fit(cls, kwargs):
    keras.utils.set_random_seed(0)
    ids = word_ids(32, 10, lengths=RNG.integers(1, 11, size=32))
    labels = RNG.integers(0, 3, size=32)
    model = cls(**kwargs)
    model.build((None, 10))
    kerasft.freeze(model, "token_embedding")  # CNN-static
    embedding = model.get_layer("token_embedding").get_weights()[0]
    logits = model.get_layer("logits").get_weights()[0]
    trainer = kerasft.Trainer(model, optimizer="adam", metrics=["accuracy"])
    history = trainer.fit(ids, labels, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    np.testing.assert_array_equal(
        model.get_layer("token_embedding").get_weights()[0], embedding
    )
    assert not np.allclose(model.get_layer("logits").get_weights()[0], logits)


def test_logits_max_norm_holds_after_training():
    keras.utils.set_random_seed(0)
    ids = word_ids(32, 10)
    labels = RNG.integers(0, 3, size=32)
    model = TextCNNClassifier(**SMALL_CNN, logits_max_norm=0.05)
    trainer = kerasft.Trainer(model, optimizer="adam", learning_rate=0.1)
    trainer.fit(ids, labels, epochs=1, batch_size=8, verbose=0)
    kernel = model.get_layer("logits").get_weights()[0]  # (12, 3)
    assert np.linalg.norm(kernel, axis=0).max() <= 0.05 + 1e-5


# --- word_id_arrays -----------------------------------------------------------


def test_word_ids_vocabulary_comes_from_train_only():
    train = ["the film is good", "the film is bad", "good good fun"]
    test = ["the plot is dull", "GOOD fun"]
    (train_ids, test_ids), vocabulary = word_id_arrays(
        train, test, vocabulary_size=100, sequence_length=6
    )
    assert vocabulary[:2] == ["", "[UNK]"]
    assert vocabulary[2] == "good"  # the most frequent word (3 times)
    assert "plot" not in vocabulary and "dull" not in vocabulary
    assert all(isinstance(word, str) for word in vocabulary)
    ids = {word: i for i, word in enumerate(vocabulary)}
    assert train_ids.dtype == np.int32 and train_ids.shape == (3, 6)
    assert test_ids.shape == (2, 6)
    np.testing.assert_array_equal(
        test_ids[0], [ids["the"], 1, ids["is"], 1, 0, 0]  # test-only -> 1
    )
    np.testing.assert_array_equal(test_ids[1], [ids["good"], ids["fun"],
                                                0, 0, 0, 0])  # lower-cased


def test_word_ids_truncate_and_cap_the_vocabulary():
    train = ["a a a b b c d e f", "a b"]
    (ids,), vocabulary = word_id_arrays(train, vocabulary_size=4,
                                        sequence_length=3)
    assert vocabulary == ["", "[UNK]", "a", "b"]
    np.testing.assert_array_equal(ids, [[2, 2, 2], [2, 3, 0]])  # cut, padded
    (ids,), _ = word_id_arrays(train, vocabulary_size=4, sequence_length=8)
    np.testing.assert_array_equal(ids[0], [2, 2, 2, 3, 3, 1, 1, 1])


@pytest.mark.parametrize(
    "args, kwargs, error, received",
    [
        ((["a b"],), {"vocabulary_size": 2}, ValueError, "vocabulary_size=2"),
        ((["a b"],), {"sequence_length": 0}, ValueError, "sequence_length=0"),
        (("a b",), {}, TypeError, "train_texts of type str"),
        ((["a b"], ["ok", 3]), {}, TypeError, "other_texts[0][1]=3"),
        (([],), {}, ValueError, "train_texts=[]"),
    ],
)
def test_word_ids_bad_arguments(args, kwargs, error, received):
    with pytest.raises(error) as raised:
        word_id_arrays(*args, **kwargs)
    assert f"Received: {received}" in str(raised.value)


# --- Learning on MR -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.shared
def test_text_cnn_learns_mr_from_1000_sentences(rt_polarity_dir):
    # The fixed split; the first 1,000 train sentences (the split is
    # shuffled). Measured on 2 CPU cores: 0.655 test accuracy, about 7 s.
    train_texts, train_labels = load_rt_polarity_arrays(rt_polarity_dir)
    test_texts, test_labels = load_rt_polarity_arrays(rt_polarity_dir,
                                                      split="test")
    train_texts, train_labels = train_texts[:1000], train_labels[:1000]
    (x_train, x_test), vocabulary = word_id_arrays(
        train_texts, test_texts, vocabulary_size=30000, sequence_length=56
    )
    keras.utils.set_random_seed(0)
    model = TextCNNClassifier(vocabulary_size=len(vocabulary))
    trainer = kerasft.Trainer(model, optimizer="adam", metrics=["accuracy"])
    trainer.fit(x_train, train_labels, epochs=7, batch_size=50, verbose=0)
    accuracy = trainer.evaluate(x_test, test_labels)["accuracy"]
    assert accuracy > 0.60, f"test accuracy {accuracy:.4f} <= 0.60"
