"""Bad inputs a new user passes get a clear error, raised up front.

Each case used to be accepted silently (a str as a bool, a typo'd keyword,
NaN targets, a batched dataset batched again), or to fail deep inside
TensorFlow, Keras, keras-hub or scikit-learn with a message that did not
name the argument. Each test asserts the message that names it now.
"""

import re

import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from bert_test_helper import (
    LABELS,
    TEXTS,
    VOCAB,
    tiny_backbone,
    tiny_classifier,
    tiny_dataset,
)

import kerasft
from kerasft import data, finetuning, pretraining
from kerasft.inference import predict_texts
from kerasft.inference.predict_entities import predict_entities
from kerasft.models import (
    FeedforwardNetwork,
    TextClassifier,
    TokenClassifier,
)
from kerasft.recipes.finetune import FinetuneConfig
from kerasft.recipes.pretrain import PretrainConfig

TAG_NAMES = ["O", "B-x", "I-x"]


def preprocessor(sequence_length=8):
    return data.text_preprocessor(vocabulary=VOCAB,
                                  sequence_length=sequence_length)


def token_inputs(dtype="int32"):
    ids = np.full((2, 8), 5, dtype)
    return {"token_ids": ids, "padding_mask": np.ones((2, 8), "int32"),
            "segment_ids": np.zeros((2, 8), "int32")}


def raises(error, message):
    return pytest.raises(error, match=re.escape(message))


# --- Seeds and flags: one message for every function -------------------------

X = np.zeros((4, 3), "float32")
Y = np.array([0, 1, 0, 1])

FLAG_CALLS = {
    "make_dataset": lambda **kw: data.make_dataset(X, Y, **kw),
    "make_text_dataset": lambda **kw: data.make_text_dataset(
        TEXTS, LABELS, preprocessor(), **kw),
}


@pytest.mark.parametrize("function", sorted(FLAG_CALLS))
@pytest.mark.parametrize("flag", ["shuffle", "cache", "drop_remainder"])
@pytest.mark.parametrize("value", ["no", None, 1])
def test_dataset_flags_must_be_bools(function, flag, value):
    # "no" was truthy (so shuffle="no" shuffled); drop_remainder=1 failed in
    # tf.data ("Cannot convert 1 to EagerTensor of dtype bool").
    with raises(TypeError, f"`{flag}` must be True or False. Received: "
                f"{flag}={value!r}"):
        FLAG_CALLS[function](**{flag: value})


@pytest.mark.parametrize("function", sorted(FLAG_CALLS))
@pytest.mark.parametrize("seed", ["0", -1, 1.5])
def test_dataset_seeds_must_be_ints_from_zero(function, seed):
    # "0" failed in TF's random_seed ("not all arguments converted during
    # string formatting"), 1.5 as an EagerTensor conversion, -1 passed.
    with raises(ValueError, "`seed` must be an int >= 0 or None. "
                f"Received: seed={seed!r}"):
        FLAG_CALLS[function](seed=seed)


def test_image_augmentation_checks_seed_and_fill_mode():
    # A str seed raised "can only concatenate str (not "int") to str"; an
    # unknown fill_mode a NotImplementedError from inside Keras.
    with raises(ValueError, "`seed` must be an int >= 0 or None. Received: "
                "seed='x'"):
        data.image_augmentation(seed="x")
    with raises(ValueError, "`fill_mode` must be one of 'constant', "
                "'reflect', 'wrap', 'nearest'. Received: fill_mode='x'"):
        data.image_augmentation(fill_mode="x")


def test_split_checks_seed_stratify_and_labels(tmp_path):
    x, y = np.zeros((20, 2)), np.arange(20) % 2
    with raises(ValueError, "`seed` must be an int >= 0. Received: seed=-1"):
        data.train_val_test_split(x, y, seed=-1)
    with raises(TypeError, "`stratify` must be True or False. Received: "
                "stratify='yes'"):
        data.train_val_test_split(x, y, stratify="yes")
    # Float targets: scikit-learn saw 20 classes of one sample each.
    with raises(TypeError, "`labels` must be class ids, one per sample, "
                "with stratify=True. Received: labels of dtype float64"):
        data.train_val_test_split(x, np.linspace(0, 1, 20), stratify=True)
    # A class of one sample: scikit-learn's error, now with the counts.
    with raises(ValueError, "Cannot cut a stratified part of 2 from 20 "
                "samples in 2 classes (per class [19, 1])"):
        data.train_val_test_split(x, np.r_[np.zeros(19, int), 1],
                                  stratify=True)

    # load_text_splits quotes scikit-learn's reason once, not the message
    # above inside its own.
    path = tmp_path / "train.csv"
    path.write_text("text,label\na,pos\nb,neg\nc,pos\nd,neg\n")
    with pytest.raises(ValueError) as error:
        data.load_text_splits(path, "text", "label")
    assert str(error.value).count("Cannot cut") == 1, str(error.value)


# --- Arrays and datasets -----------------------------------------------------


def test_nan_features_and_labels_are_named_with_their_row():
    features = np.zeros((4, 3), "float32")
    features[2, 1] = np.nan
    with raises(ValueError, "`features` must hold finite numbers (a NaN or "
                "inf makes every loss NaN). Received: features[2][1]=nan in "
                "row 2"):
        data.make_dataset(features, Y)
    with raises(ValueError, "`labels` must hold finite numbers (a NaN or inf "
                "makes every loss NaN). Received: labels[1]=inf in row 1"):
        data.make_dataset(X, [0.5, np.inf, 0.0, 1.0])
    # Float targets with the task inferred (not only task="regression").
    with raises(ValueError, "Received: labels[1]=nan in row 1"):
        data.make_text_dataset(TEXTS[:2], [0.5, np.nan], preprocessor())


def test_make_dataset_refuses_a_batched_dataset():
    # It batched the batches: (32, 2, 3) features, silently.
    batched = tf.data.Dataset.from_tensor_slices((X, Y)).batch(2)
    with raises(ValueError, "`features` must be an unbatched dataset of "
                "(features, label) pairs: it is batched here."):
        data.make_dataset(batched)
    # Unbatched datasets (known shapes) still work.
    features, labels = next(iter(data.make_dataset(batched.unbatch(),
                                                   batch_size=4)))
    assert features.shape == (4, 3)


def test_make_text_dataset_refuses_a_dict_of_texts():
    # Its keys were read as the texts.
    with raises(TypeError, "`texts` must be a list of strings, not a dict"):
        data.make_text_dataset({"a good film": 1}, None, preprocessor())


def test_label_map_encode_refuses_one_str():
    # "ab" was encoded character by character.
    label_map = data.LabelMap(["a", "b"])
    with raises(TypeError, "`values` must be a list of labels, not one str. "
                "Received: values='ab'"):
        label_map.encode("ab")
    assert label_map.encode(["b"]).tolist() == [1]


def test_entity_spans_refuses_one_str_and_non_tags():
    # "B-x" was read as the tags "B", "-", "x": no entity, no error.
    with raises(TypeError, "`tags` must be a list of tag strings, not one "
                "str. Received: tags='B-x'"):
        data.entity_spans("B-x")
    with raises(TypeError, "Received: a tag None of type NoneType"):
        data.entity_spans(["O", None])
    assert data.entity_spans(["B-x"]) == [("x", 0, 0)]


def test_standardizer_checks_axis():
    with raises(ValueError, "`axis` must be an int, a tuple of ints or None "
                "(the axes with their own statistics). Received: axis='x'"):
        data.Standardizer(axis="x")


# --- Text preprocessing ------------------------------------------------------


def test_vocabulary_is_checked_before_keras_hub_sees_it(tmp_path):
    with raises(ValueError, "`vocabulary` must hold the special tokens "
                "['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']. Received: "
                "vocabulary=['[PAD]', '[UNK]', 'a'], without ['[CLS]', "
                "'[SEP]', '[MASK]']"):
        data.text_preprocessor(vocabulary=["[PAD]", "[UNK]", "a"])
    with raises(TypeError, "`vocabulary` must be a list of str (word "
                "pieces). Received: vocabulary holding 1 of type int"):
        data.text_preprocessor(vocabulary=[1, 2, 3])
    with raises(TypeError, "Received: vocabulary holding None of type "
                "NoneType"):
        data.text_preprocessor(vocabulary=[None, *VOCAB])
    with raises(FileNotFoundError, "`vocabulary` must be an existing file."):
        data.text_preprocessor(vocabulary=tmp_path / "vocab.txt")
    vocab_file = tmp_path / "vocab.txt"
    vocab_file.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n")
    with raises(ValueError, "without ['[MASK]']"):
        data.text_preprocessor(vocabulary=vocab_file)
    vocab_file.write_text("\n".join(VOCAB) + "\n")
    packed = data.text_preprocessor(vocabulary=vocab_file,
                                    sequence_length=4)(["good"])
    assert packed["token_ids"].shape == (1, 4)


@pytest.mark.parametrize("sequence_length", [1, 2])
def test_sequence_length_leaves_room_for_text(sequence_length):
    # 1 gave rows of 2 ([CLS] [SEP]) and 2 no text at all: every example
    # identical.
    message = ("`sequence_length` must be an int >= 3 (room for the start "
               f"and end tokens and one of text). Received: "
               f"sequence_length={sequence_length}")
    with raises(ValueError, message):
        preprocessor(sequence_length)
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=VOCAB)
    with raises(ValueError, message):
        data.make_text_dataset(TEXTS, LABELS, tokenizer,
                               sequence_length=sequence_length)


def test_lowercase_must_be_a_bool():
    with raises(TypeError, "`lowercase` must be True or False. Received: "
                "lowercase='yes'"):
        data.text_preprocessor(vocabulary=VOCAB, lowercase="yes")


def test_text_file_columns_must_differ(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("text,label\ngood,pos\nbad,neg\n")
    with raises(ValueError, "`text_column` and `label_column` must be "
                "different columns (a model would read its labels from its "
                "inputs). Received: text_column='text', label_column='text'"):
        data.load_text_file(path, "text", "text")


# --- Folder loaders ----------------------------------------------------------


@pytest.fixture
def class_folder(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    return tmp_path


@pytest.mark.parametrize("image_size", [8, (0, 0), (8.5, 8), (8, 8, 3)])
def test_image_folder_checks_image_size(class_folder, image_size):
    # (0, 0) failed when iterated (ResizeBilinear), (8.5, 8) with "'size'
    # must be a 1-D int32 Tensor".
    with raises(ValueError, "`image_size` must be a pair of positive ints "
                f"(height, width). Received: image_size={image_size!r}"):
        data.load_image_folder(class_folder, image_size=image_size)


def test_image_folder_checks_its_other_arguments(class_folder):
    with raises(ValueError, "`color_mode` must be one of 'grayscale', "
                "'rgb', 'rgba'. Received: color_mode='bw'"):
        data.load_image_folder(class_folder, color_mode="bw")
    with raises(ValueError, "`seed` must be an int >= 0 or None. Received: "
                "seed='x'"):
        data.load_image_folder(class_folder, seed="x", shuffle=True)
    # Was "image_dataset_from_directory() got multiple values for keyword
    # argument 'batch_size'".
    with raises(ValueError, "`batch_size` is set by load_image_folder: it "
                "loads unbatched images; batch them with make_dataset(..., "
                "batch_size=...). Received: batch_size=8"):
        data.load_image_folder(class_folder, batch_size=8)


def test_text_folder_refuses_the_arguments_it_sets(class_folder):
    with raises(ValueError, "`batch_size` is set by load_text_folder: it "
                "loads unbatched examples; batch them with "
                "make_text_dataset(..., batch_size=...). Received: "
                "batch_size=8"):
        data.load_text_folder(class_folder, batch_size=8)
    with raises(ValueError, "`verbose` is set by load_text_folder"):
        data.load_text_folder(class_folder, verbose=True)


# --- Text models -------------------------------------------------------------


def test_from_preset_checks_load_weights_and_names_typos():
    # Both raise before the preset is looked at.
    with raises(TypeError, "`load_weights` must be True or False. Received: "
                "load_weights='no'"):
        TextClassifier.from_preset("any_preset", load_weights="no")
    # Was "TextClassifier.check_head_arguments() got an unexpected keyword
    # argument 'num_class'".
    with raises(TypeError, "TextClassifier.from_preset() got unknown "
                "arguments ['num_class']; it takes load_weights, num_classes, "
                "class_names, pooling, dropout, name, trainable. Received: "
                "num_class=3"):
        TextClassifier.from_preset("any_preset", num_class=3)
    with raises(TypeError, "TokenClassifier.from_preset() got unknown "
                "arguments ['tag_name']"):
        TokenClassifier.from_preset("any_preset", tag_name=TAG_NAMES)


def test_float_token_ids_are_refused():
    # Floats were cast to ids silently: 5.7 read as token 5.
    model = tiny_classifier()
    with raises(TypeError, "`token_ids` must be integer token ids (int32 or "
                "int64). Received: token_ids.dtype=float32"):
        model(token_inputs("float32"))
    assert model(token_inputs()).shape == (2, 2)


@pytest.mark.parametrize("inputs", [
    ["a good film"], np.array(["a good film"]), (["a"], ["b"]), "a film",
], ids=["list", "array", "pair", "str"])
def test_text_models_refuse_raw_strings(inputs):
    # Keras said "Only input tensors may be passed as positional arguments".
    model = tiny_classifier()
    with raises(TypeError, "BertClassifier takes token ids, not strings: "
                "tokenize them first (kerasft.data.make_text_dataset), or "
                "call `model.predict_texts(texts, preprocessor)`."):
        model(inputs)
    # Keras said "Unrecognized data type: x=['a good film']".
    with raises(TypeError, "Received: x="):
        model.predict(inputs, verbose=0)


# --- Prediction --------------------------------------------------------------


@pytest.mark.parametrize("model", [None, FeedforwardNetwork((4,), 2)],
                         ids=["None", "FeedforwardNetwork"])
def test_predict_texts_checks_the_model(model):
    # Both failed inside the traced tf.function.
    with raises(TypeError, "`model` must be a kerasft text head "
                "(TextClassifier, MultiLabelClassifier, TextRegressor, "
                f"TokenClassifier) or a keras.Model taking token-id dicts. "
                f"Received: model of type {type(model).__name__}"):
        predict_texts(model, TEXTS, preprocessor())


def test_predict_texts_refuses_a_preprocessor_of_a_larger_vocabulary():
    # Ids past the embedding: an InvalidArgumentError from GatherV2 on a
    # CPU, zeros without a word on a GPU.
    larger = data.text_preprocessor(
        vocabulary=VOCAB + [f"w{i}" for i in range(20)], sequence_length=8)
    message = ("`preprocessor` does not match the model: its tokenizer has "
               "38 tokens, the model's embedding 18")
    with raises(ValueError, message):
        predict_texts(tiny_classifier(), TEXTS, larger)
    tagger = TokenClassifier(tiny_backbone(), tag_names=TAG_NAMES)
    with raises(ValueError, message):
        predict_texts(tagger, ["the good movie"], larger)


def test_predict_entities_checks_model_and_reads_any_iterable():
    with raises(TypeError, "`model` must be a kerasft.TokenClassifier. "
                "Received: model of type BertClassifier"):
        predict_entities(tiny_classifier(), ["a film"], preprocessor())
    tagger = TokenClassifier(tiny_backbone(), tag_names=TAG_NAMES)
    # A generator was used up by the type check: no result at all.
    results = predict_entities(tagger, iter(["the good movie", "a film"]),
                               preprocessor())
    assert len(results) == 2


# --- Fine-tuning -------------------------------------------------------------


def test_lora_rank_is_at_most_the_hidden_dim():
    # Accepted: factors of (16, 2, 1000) for kernels of (16, 2, 8).
    with raises(ValueError, "`rank` must be at most the backbone's "
                "hidden_dim=16: a higher rank makes the factors larger than "
                "the kernels they stand for. Received: rank=1000"):
        finetuning.enable_lora(tiny_classifier(), rank=1000)
    with raises(ValueError, "`lora_rank` must be at most the backbone's "
                "hidden_dim=16"):
        finetuning.apply_strategy(tiny_classifier(), "lora", lora_rank=17)


def test_finetuning_callbacks_and_optimizer_check_their_arguments():
    with raises(TypeError, "`unfreeze_embeddings` must be True or False. "
                "Received: unfreeze_embeddings='x'"):
        finetuning.GradualUnfreezing(unfreeze_embeddings="x")
    # Was "dictionary update sequence element #0 has length 1".
    with raises(TypeError, "`layer_factors` must be a dict mapping variable "
                "paths to factors > 0"):
        finetuning.LayerwiseAdamW(layer_factors="x")


@pytest.mark.parametrize("dataset", ["list", "unbatched", "features_only"])
def test_cache_features_checks_the_batches(dataset):
    classifier = tiny_classifier(pooling="cls")
    kerasft.freeze_backbone(classifier)
    batches = {
        "list": [1, 2],  # "'int' object is not subscriptable"
        "unbatched": tiny_dataset().unbatch(),  # failed inside the backbone
        "features_only": tiny_dataset().map(lambda x, y: x),  # KeyError '0'
    }[dataset]
    with raises(ValueError, "`dataset` must give batches of (inputs, "
                "labels), inputs a dict of"):
        finetuning.cache_features(classifier, batches)


def test_fit_head_checks_validation_data_before_caching():
    classifier = tiny_classifier(pooling="cls")
    kerasft.freeze_backbone(classifier)
    with raises(ValueError, "Received: batch 0 of type int"):
        finetuning.fit_head_on_cached_features(
            classifier, tiny_dataset(), validation_data=[1], verbose=0)


# --- Pretraining -------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the movie was good .\na dull film\n" * 4)
    return path


def masked_lm_dataset(corpus, **kwargs):
    tokenizer = keras_hub.tokenizers.BertTokenizer(vocabulary=VOCAB)
    return pretraining.make_masked_lm_dataset(
        corpus, tokenizer, sequence_length=8, batch_size=2, **kwargs)


@pytest.mark.parametrize("kwargs, error, message", [
    # The two rates failed when iterated, in the masker's tf.Assert.
    (dict(mask_token_rate=1.5), ValueError,
     "`mask_token_rate` must be a number in [0, 1]. Received: "
     "mask_token_rate=1.5"),
    (dict(mask_token_rate=0.8, random_token_rate=0.5), ValueError,
     "`mask_token_rate + random_token_rate` must be at most 1"),
    (dict(mask_selection_length=100), ValueError,
     "`mask_selection_length` must be an int from 1 to 6 (the real tokens "
     "of a sequence of sequence_length=8, [CLS] and [SEP] aside). Received: "
     "mask_selection_length=100"),
    (dict(pack_lines="x"), TypeError, "`pack_lines` must be True or False."),
    (dict(shuffle="no"), TypeError, "`shuffle` must be True or False."),
    (dict(drop_remainder="x"), TypeError,
     "`drop_remainder` must be True or False."),
    (dict(seed="x"), ValueError, "`seed` must be an int >= 0 or None."),
], ids=lambda value: str(value)[:30] if isinstance(value, dict) else "")
def test_masked_lm_dataset_checks_its_arguments(corpus, kwargs, error,
                                                message):
    with raises(error, message):
        masked_lm_dataset(corpus, **kwargs)


def test_train_bert_tokenizer_checks_its_flags(corpus):
    with raises(TypeError, "`lowercase` must be True or False. Received: "
                "lowercase='x'"):
        pretraining.train_bert_tokenizer(corpus, 50, lowercase="x")
    with raises(TypeError, "`strip_accents` must be True or False."):
        pretraining.train_bert_tokenizer(corpus, 50, strip_accents=1)


# --- Recipe configs ----------------------------------------------------------


@pytest.mark.parametrize("field, value, error, message", [
    ("preset", None, TypeError, "`preset` must be a preset name, folder or "
     "handle (a non-empty str or path). Received: preset=None"),
    ("top_k", 0, ValueError, "`top_k` must be an int >= 1. Received: top_k=0"),
    ("lora_rank", 0, ValueError, "`lora_rank` must be an int >= 1."),
    ("learning_rate", -1, ValueError,
     "`learning_rate` must be a number > 0. Received: learning_rate=-1"),
    ("warmup_fraction", 2, ValueError,
     "`warmup_fraction` must be a number in [0, 1]."),
    ("layer_decay", 0, ValueError, "`layer_decay` must be a number in (0, 1]."),
    ("pooling", "max", ValueError, "`pooling` must be one of 'cls', "
     "'pooled', 'mean'. Received: pooling='max'"),
])
def test_finetune_config_checks_its_fields(field, value, error, message):
    # All were accepted, to fail after the data and the model had loaded.
    arguments = {"preset": "bert_tiny_en_uncased", field: value}
    with raises(error, message):
        FinetuneConfig(**arguments)


@pytest.mark.parametrize("field, value, error, message", [
    ("dropout", 1, ValueError, "`dropout` is the fraction of units dropped"),
    ("lowercase", "x", TypeError, "`lowercase` must be True or False."),
    ("seed", -1, ValueError, "`seed` must be an int >= 0. Received: seed=-1"),
    ("weight_decay", -1.0, ValueError,
     "`weight_decay` must be a number >= 0."),
])
def test_pretrain_config_checks_its_fields(corpus, field, value, error,
                                           message):
    with raises(error, message):
        PretrainConfig(corpus=str(corpus), **{field: value})

