import json
import re

import keras_hub
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasft.data import (
    load_rt_polarity,
    load_text_folder,
    load_tfds_text,
    make_text_dataset,
    text_preprocessor,
)

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "movie",
    "film", "was", "is", "good", "bad", "great", "dull", "not", ".", ",",
]
ID = {token: i for i, token in enumerate(VOCAB)}
CLS, SEP, PAD, UNK = ID["[CLS]"], ID["[SEP]"], ID["[PAD]"], ID["[UNK]"]


def preprocessor(sequence_length=8):
    return text_preprocessor(vocabulary=VOCAB, sequence_length=sequence_length,
                             lowercase=True)


def ids(*words):
    return [ID[w] for w in words]


def first_batch(dataset):
    return next(iter(dataset))


def test_tokenizes_on_the_host_with_static_shapes():
    texts = ["The movie was good.", "a DULL film", "zzz"]
    dataset = make_text_dataset(texts, [1, 0, 1], preprocessor(8),
                                batch_size=3, shuffle=False)
    features, labels = first_batch(dataset)
    spec = dataset.element_spec[0]
    assert sorted(spec) == ["padding_mask", "segment_ids", "token_ids"]
    assert all(s.shape.as_list() == [None, 8] and s.dtype == tf.int32
               for s in spec.values())
    assert dataset.element_spec[1] == tf.TensorSpec((None,), tf.int64)
    np.testing.assert_array_equal(features["token_ids"], [
        [CLS, *ids("the", "movie", "was", "good", "."), SEP, PAD],
        [CLS, *ids("a", "dull", "film"), SEP, PAD, PAD, PAD],
        [CLS, UNK, SEP, PAD, PAD, PAD, PAD, PAD],
    ])
    np.testing.assert_array_equal(
        features["padding_mask"], features["token_ids"] != PAD
    )
    np.testing.assert_array_equal(features["segment_ids"], np.zeros((3, 8)))
    np.testing.assert_array_equal(labels, [1, 0, 1])


def test_long_texts_are_truncated_and_drop_remainder_gives_a_static_batch():
    dataset = make_text_dataset(
        ["the movie was not good , the film was dull ."] * 5, [0] * 5,
        preprocessor(6), batch_size=2, shuffle=False, drop_remainder=True,
    )
    assert dataset.element_spec[0]["token_ids"].shape.as_list() == [2, 6]
    batches = list(dataset)
    assert len(batches) == 2
    np.testing.assert_array_equal(
        batches[0][0]["token_ids"][0],
        [CLS, *ids("the", "movie", "was", "not"), SEP],
    )


def test_sentence_pairs():
    first = ["the movie", "a film"]
    second = ["was good", "bad"]
    dataset = make_text_dataset((first, second), [1, 0], preprocessor(8),
                                batch_size=2, shuffle=False)
    features, _ = first_batch(dataset)
    np.testing.assert_array_equal(features["token_ids"], [
        [CLS, *ids("the", "movie"), SEP, *ids("was", "good"), SEP, PAD],
        [CLS, *ids("a", "film"), SEP, ID["bad"], SEP, PAD, PAD],
    ])
    np.testing.assert_array_equal(features["segment_ids"], [
        [0, 0, 0, 0, 1, 1, 1, 0],
        [0, 0, 0, 0, 1, 1, 0, 0],
    ])


def test_unbatched_datasets_with_and_without_labels():
    pairs = tf.data.Dataset.from_tensor_slices(
        ((["the film", "a movie"], ["good", "bad"]), [1, 0])
    )
    features, labels = first_batch(
        make_text_dataset(pairs, preprocessor=preprocessor(), batch_size=2,
                          shuffle=False)
    )
    assert features["segment_ids"].numpy()[0].tolist() == [
        0, 0, 0, 0, 1, 1, 0, 0,
    ]
    assert labels.dtype == tf.int64

    texts = tf.data.Dataset.from_tensor_slices(["the film", "a movie"])
    features = first_batch(
        make_text_dataset(texts, preprocessor=preprocessor(), batch_size=2)
    )
    assert features["token_ids"].shape == (2, 8)

    # Lists without labels: features only, for prediction.
    dataset = make_text_dataset(["good", "bad"], None, preprocessor(),
                                batch_size=2, shuffle=False)
    assert isinstance(dataset.element_spec, dict)


def test_multi_hot_and_regression_targets_are_float32():
    # Multi-label: int 0/1 rows become float32 (batch, num_labels).
    dataset = make_text_dataset(
        ["the film", "a movie", "good"], [[1, 0, 1], [0, 0, 0], [0, 1, 0]],
        preprocessor(), batch_size=3, shuffle=False, task="multi_label",
        num_classes=3,
    )
    assert dataset.element_spec[1] == tf.TensorSpec((None, 3), tf.float32)
    _, labels = first_batch(dataset)
    np.testing.assert_array_equal(labels, [[1, 0, 1], [0, 0, 0], [0, 1, 0]])

    # Regression on a dataset of sentence pairs, two int targets each: cast.
    pairs = tf.data.Dataset.from_tensor_slices((
        (["the movie", "a film"], ["was good", "bad"]), [[5, 1], [0, 2]]
    ))
    dataset = make_text_dataset(pairs, preprocessor=preprocessor(),
                                batch_size=2, shuffle=False,
                                task="regression")
    assert dataset.element_spec[1] == tf.TensorSpec((None, 2), tf.float32)
    features, labels = first_batch(dataset)
    np.testing.assert_array_equal(labels, [[5.0, 1.0], [0.0, 2.0]])
    assert features["segment_ids"].numpy()[1].tolist() == [
        0, 0, 0, 0, 1, 1, 0, 0,
    ]


def test_bucketing_pads_each_batch_to_its_bucket():
    rng = np.random.default_rng(0)
    words = VOCAB[5:]
    # 40 texts of 1..9 words: 3..11 tokens with [CLS] and [SEP].
    lengths = rng.integers(1, 10, size=40)
    texts = [" ".join(rng.choice(words, size=n)) for n in lengths]
    dataset = make_text_dataset(
        texts, list(range(40)), preprocessor(10), batch_size=4,
        bucket_boundaries=(4, 8, 16), seed=1,
    )
    seen = []
    for features, labels in dataset:
        width = features["token_ids"].shape[1]
        assert width in (4, 8, 10)  # 16 is above sequence_length: dropped
        real = features["padding_mask"].numpy().sum(axis=1)
        low = {4: 0, 8: 4, 10: 8}[width]
        assert np.all((real > low) & (real <= width)), (width, real)
        for row, label in zip(features["token_ids"].numpy(), labels.numpy()):
            tokens = min(lengths[label] + 2, 10)
            assert row[tokens - 1] == SEP and row[0] == CLS
            seen.append(int(label))
    assert sorted(seen) == list(range(40))  # every example, once


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    texts = [f"{w} film" for w in VOCAB[5:]]
    labels = list(range(len(texts)))

    def orders(seed):
        dataset = make_text_dataset(texts, labels, preprocessor(),
                                    batch_size=len(texts), seed=seed)
        return [tuple(y.numpy()) for _ in range(2) for _, y in dataset]

    first, second = orders(0)
    assert first != second  # a new order each epoch
    assert orders(0) == [first, second]  # the same orders for a seed


def test_preset_folder_and_tokenizer_as_preprocessor(tmp_path):
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=12,
    )
    backbone.save_to_preset(str(tmp_path))
    preprocessor(12).save_to_preset(str(tmp_path))

    features, _ = first_batch(make_text_dataset(
        ["the film"], [1], str(tmp_path), sequence_length=6
    ))
    assert features["token_ids"].numpy().tolist() == [
        [CLS, *ids("the", "film"), SEP, PAD, PAD]
    ]
    with pytest.raises(
        ValueError,
        match=re.escape("preset's max_sequence_length=12 (its position "
                        "embeddings stop there). Received: "
                        "sequence_length=32"),
    ):
        text_preprocessor(tmp_path, sequence_length=32)

    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=VOCAB)
    features, _ = first_batch(make_text_dataset(["the film"], [1], tokenizer,
                                                sequence_length=5))
    assert features["token_ids"].shape == (1, 5)


def test_load_text_folder(tmp_path):
    for label, texts in (("neg", ["dull .", "bad film"]), ("pos", ["good"])):
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(text)
    dataset = load_text_folder(tmp_path)
    assert dataset.class_names == ["neg", "pos"]
    assert dataset.element_spec == (
        tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.int64),
    )
    assert sorted(
        (t.decode(), int(y)) for t, y in dataset.as_numpy_iterator()
    ) == [("bad film", 0), ("dull .", 0), ("good", 1)]
    features, labels = first_batch(make_text_dataset(
        dataset, preprocessor=preprocessor(), batch_size=3
    ))
    assert features["token_ids"].shape == (3, 8)
    with pytest.raises(FileNotFoundError, match="Received: directory="):
        load_text_folder(tmp_path / "missing")


class KerasftTinyReviews(tfds.core.GeneratorBasedBuilder):
    """Four reviews generated locally, so `tfds.load` runs offline."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "text": tfds.features.Text(),
                "label": tfds.features.ClassLabel(names=["neg", "pos"]),
            }),
            supervised_keys=("text", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        for i, text in enumerate(["good", "bad", "great film", "dull"]):
            label = int(text in ("good", "great film"))
            yield i, {"text": text, "label": label}


def test_load_tfds_text(tmp_path):
    KerasftTinyReviews(data_dir=str(tmp_path)).download_and_prepare()
    dataset = load_tfds_text("kerasft_tiny_reviews", data_dir=tmp_path)
    assert dataset.element_spec == (
        tf.TensorSpec((), tf.string), tf.TensorSpec((), tf.int64),
    )
    assert sorted(
        (t.decode(), int(y)) for t, y in dataset.as_numpy_iterator()
    ) == [("bad", 0), ("dull", 0), ("good", 1), ("great film", 1)]


@pytest.mark.parametrize(
    "texts, labels, kwargs, error, match",
    [
        ([], [], {}, ValueError, "Received: texts=[]"),
        ("one string", [1], {}, TypeError,
         "not one string. Received: texts='one string'"),
        (["good", 3], [1, 0], {}, TypeError,
         "Received: texts[1]=3 of type int"),
        (["good", "bad"], [1], {}, ValueError,
         "Received: len(features)=2, len(labels)=1"),
        (["good", "bad"], [1, 2], {"num_classes": 2}, ValueError,
         "Received: labels with min=1, max=2 and num_classes=2"),
        (["good", "bad"], [1, -1], {}, ValueError,
         "class ids >= 0. Received: labels with min=-1"),
        ((["a"], ["b", "c"]), [1], {}, ValueError,
         "Received: len(texts[0])=1, len(texts[1])=2"),
        (["good"], [1], {"preprocessor": None}, TypeError,
         "Received: preprocessor=None"),
        (["good"], [1], {"sequence_length": 9}, ValueError,
         "Received: sequence_length=9, preprocessor.sequence_length=8"),
        (["good"], [1], {"bucket_boundaries": (8, 4)}, ValueError,
         "Received: bucket_boundaries=(8, 4)"),
        (["good"], [1], {"batch_size": 0}, ValueError,
         "Received: batch_size=0"),
        (["good"], None, {"num_classes": 2}, ValueError,
         "Received: labels=None, num_classes=2"),
        (["good"], [1], {"task": "multilabel"}, ValueError,
         "Received: task='multilabel'"),
        # multi_label: 0/1 rows of one width.
        (["a", "b"], [[1, 0], [0, 2]], {"task": "multi_label"}, ValueError,
         "multi-hot (each 0 or 1) for task='multi_label'. Received: "
         "labels[1][1]=2 in row 1"),
        (["a", "b"], [[1.0, 0.0], [0.5, 1.0]], {"task": "multi_label"},
         ValueError, "Received: labels[1][0]=0.5 in row 1"),
        (["a", "b", "c"], [[1, 0], [0, 1], [1]], {"task": "multi_label"},
         ValueError, "same width for task='multi_label' (one value per label "
         "name). Received: labels[0] has 2 values, labels[2] has 1 value"),
        (["a", "b"], [1, 0], {"task": "multi_label"}, ValueError,
         "shape (num_examples, num_labels). Received: labels with shape (2,)"),
        (["a", "b"], [[], []], {"task": "multi_label"}, ValueError,
         "Received: labels with shape (2, 0)"),
        (["a", "b"], [[1, 0], [0, 1]], {"task": "multi_label",
                                        "num_classes": 3}, ValueError,
         "Received: labels with shape (2, 2), num_classes=3"),
        (["a", "b"], [["joy"], ["love"]], {"task": "multi_label"}, TypeError,
         "must be numeric"),
        # regression: numbers, finite, one width.
        (["a", "b"], [0.5, "1.5"], {"task": "regression"}, TypeError,
         "numbers for task='regression'. Received: labels[1]='1.5' of type "
         "str"),
        (["a", "b"], [[0.5, 1], [1, None]], {"task": "regression"}, TypeError,
         "Received: labels[1][1]=None of type NoneType"),
        (["a", "b"], [0.5, float("nan")], {"task": "regression"}, ValueError,
         "finite numbers for task='regression' (NaN or inf would make every "
         "loss NaN). Received: labels[1]=nan in row 1"),
        (["a", "b"], [1.0, [2.0]], {"task": "regression"}, ValueError,
         "Received: labels[0] has a single value, labels[1] has 1 value"),
        (["a", "b"], [0.5, 1.0], {"task": "regression", "num_classes": 2},
         ValueError, "Received: num_classes=2, task='regression'"),
        # classification: integer ids only.
        (["a", "b"], [0.0, 1.0], {"task": "classification"}, TypeError,
         "integer class ids, one per text, for task='classification'. "
         "Received: labels.dtype=float64, shape=(2,)"),
    ],
)
def test_bad_inputs(texts, labels, kwargs, error, match):
    kwargs = {"preprocessor": preprocessor(8), **kwargs}
    with pytest.raises(error, match=re.escape(match)):
        make_text_dataset(texts, labels, **kwargs)


def test_bad_datasets():
    texts = tf.data.Dataset.from_tensor_slices(["good"])
    with pytest.raises(ValueError, match="Received: labels of type list"):
        make_text_dataset(texts, [1], preprocessor())
    numbers = tf.data.Dataset.from_tensor_slices(([1, 2], [0, 1]))
    with pytest.raises(ValueError, match=r"Received: a dataset with "
                       r"element_spec=\(TensorSpec\(shape=\(\), "
                       r"dtype=tf.int32"):
        make_text_dataset(numbers, preprocessor=preprocessor())
    with pytest.raises(ValueError, match="cardinality 0"):
        make_text_dataset(texts.take(0), preprocessor=preprocessor())
    scores = tf.data.Dataset.from_tensor_slices((["good"], [0.5]))
    with pytest.raises(
        TypeError,
        match=r"labels of multi-hot rows of numbers, shape \(num_labels,\) "
        r"for task='multi_label'. Received: a dataset with labels "
        r"TensorSpec\(shape=\(\), dtype=tf.float32",
    ):
        make_text_dataset(scores, preprocessor=preprocessor(),
                          task="multi_label")
    with pytest.raises(TypeError, match="integer class ids, shape"):
        make_text_dataset(scores, preprocessor=preprocessor(),
                          task="classification")
    named = tf.data.Dataset.from_tensor_slices(
        ((["good"], ["film"]), ["pos"])
    )
    with pytest.raises(TypeError, match=r"for task='regression'. Received: "
                       r"a dataset with labels .*dtype=tf.string"):
        make_text_dataset(named, preprocessor=preprocessor(),
                          task="regression")


def test_bad_preprocessor_arguments(tmp_path):
    with pytest.raises(ValueError, match="exactly one of `preset` and "):
        text_preprocessor()
    with pytest.raises(ValueError, match="Received: vocabulary=\\[\\]"):
        text_preprocessor(vocabulary=[])
    with pytest.raises(ValueError, match="Received: truncate='left'"):
        text_preprocessor(vocabulary=VOCAB, truncate="left")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(
        ValueError, match="'gpt2' model, not one of the encoder families"
    ):
        text_preprocessor(tmp_path)
    with pytest.raises(ValueError, match="Received: lowercase=True"):
        text_preprocessor(tmp_path, lowercase=True)
    with pytest.raises(ValueError, match=r"\(no such folder\)"):
        text_preprocessor(tmp_path / "missing")


@pytest.mark.slow
@pytest.mark.shared
def test_minilm_tokenizes_mr_sentences(minilm_dir, rt_polarity_dir):
    preprocessor = text_preprocessor(minilm_dir, sequence_length=64)
    dataset = make_text_dataset(
        load_rt_polarity(rt_polarity_dir, split="test"),
        preprocessor=preprocessor, batch_size=64, shuffle=False,
        bucket_boundaries=(16, 32),
    )
    count, widths = 0, set()
    for features, labels in dataset:
        token_ids = features["token_ids"].numpy()
        widths.add(token_ids.shape[1])
        assert np.all(token_ids[:, 0] == 101)  # [CLS]
        assert np.all((token_ids >= 0) & (token_ids < 30522))
        lengths = features["padding_mask"].numpy().sum(axis=1)
        assert np.all(token_ids[np.arange(len(lengths)), lengths - 1] == 102)
        count += len(labels)
    assert count == 1067
    assert widths == {16, 32, 64}

    vocab = (minilm_dir / "vocab.txt").read_text().split("\n")
    features = preprocessor(["a gripping , funny film"])
    tokens = [vocab[i] for i in features["token_ids"].numpy()[0][:7]]
    assert tokens == [
        "[CLS]", "a", "gripping", ",", "funny", "film", "[SEP]",
    ]
