"""Image pretraining on scikit-learn's real 8x8 digits, with tiny models."""

import keras
import numpy as np
import pytest

import kerasft
from kerasft import data, pretraining
from kerasft.models import ConvAutoencoder, ConvNetwork


@pytest.fixture(scope="module")
def digits():
    images, labels = data.load_digits_arrays()  # (1797, 8, 8, 1), 0..16
    return data.scale(images, input_range=(0, 16)), labels


def _weights(layer):
    return [w.numpy().copy() for w in layer.weights]


def _assert_same(first, second):
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def _count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_autoencoder_pretraining_lowers_the_reconstruction_loss(digits):
    images, _ = digits
    keras.utils.set_random_seed(0)
    autoencoder = pretraining.pretrain_autoencoder(
        images[:1000], ConvAutoencoder(filters=(8, 16)), epochs=4,
        learning_rate=3e-3, noise_stddev=0.1,
        validation_images=images[1000:1300],
    )
    history = autoencoder.history.history
    assert len(history["loss"]) == 4
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    # Held-out digits are rebuilt better than by the training set's mean
    # image, the best input-independent guess.
    mean_image = images[:1000].mean(axis=0)
    baseline = np.mean((images[1000:1300] - mean_image) ** 2)
    assert history["val_loss"][-1] < baseline
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_autoencoder_to_frozen_then_unfrozen_classifier(digits, tmp_path):
    """Pretrain, save, load, copy the encoder, fine-tune frozen/unfrozen."""
    images, labels = digits
    keras.utils.set_random_seed(0)
    autoencoder = pretraining.pretrain_autoencoder(
        images[:256], ConvAutoencoder(filters=(4, 8)), epochs=1)
    path = tmp_path / "autoencoder.keras"
    autoencoder.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ConvAutoencoder)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images[:8], training=False)),
        keras.ops.convert_to_numpy(autoencoder(images[:8], training=False)),
        rtol=1e-6, atol=1e-6)

    classifier = pretraining.classifier_from_pretrained(
        path, num_classes=10, hidden_dim=6)
    pretrained = _weights(autoencoder.encoder)
    _assert_same(_weights(classifier.feature_extractor), pretrained)

    # By hand: conv_0 3*3*1*4 + 4 = 40, conv_1 3*3*4*8 + 8 = 296; head
    # hidden 8*6 + 6 = 54, logits 6*10 + 10 = 70.
    extractor_params, head_params = 40 + 296, 54 + 70
    head_before = _weights(classifier.head)
    stages = []  # per stage: trainable extractor scalars, weights at end

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            stages.append(
                [_count(classifier.feature_extractor.trainable_weights)])

        def on_train_end(self, logs=None):
            stages[-1] += [_weights(classifier.feature_extractor),
                           _weights(classifier.head)]

    result = pretraining.finetune_classifier(
        classifier, images[:200], labels[:200], frozen_epochs=1,
        unfrozen_epochs=1, learning_rate=1e-3, unfrozen_learning_rate=2e-4,
        callbacks=[Record()])
    assert result.frozen_trainable_params == head_params
    assert result.unfrozen_trainable_params == head_params + extractor_params
    (frozen_count, frozen_extractor, frozen_head), unfrozen = stages
    # Frozen stage: 0 trainable extractor scalars; the head moved, the
    # extractor did not.
    assert frozen_count == 0
    _assert_same(frozen_extractor, pretrained)
    assert not np.allclose(frozen_head[0], head_before[0])
    # Unfrozen stage: every extractor weight trained, at the lower rate.
    assert unfrozen[0] == extractor_params
    assert all(not np.array_equal(a, b)
               for a, b in zip(unfrozen[1], pretrained))
    assert result.unfrozen_history["learning_rate"] == [pytest.approx(2e-4)]
    assert result.frozen_history["learning_rate"] == [pytest.approx(1e-3)]
    assert classifier.feature_extractor.trainable  # left unfrozen


def test_supervised_pretraining_transfers_to_a_new_task(digits, tmp_path):
    images, labels = digits
    source = labels < 5
    keras.utils.set_random_seed(0)
    model = pretraining.pretrain_classifier(
        images[source], labels[source],
        ConvNetwork(filters=(8, 16), hidden_dim=16, num_classes=5),
        epochs=6, learning_rate=1e-2, batch_size=32)
    assert model.history.history["accuracy"][-1] > 0.8  # chance: 0.2
    path = tmp_path / "digits_0_4.keras"
    model.save(path)

    classifier = pretraining.classifier_from_pretrained(path, num_classes=5)
    assert classifier.hidden_dim == 16  # kept from the pretrained model
    _assert_same(_weights(classifier.feature_extractor),
                 _weights(model.feature_extractor))
    target = ~source
    result = pretraining.finetune_classifier(
        classifier, images[target][:400], labels[target][:400] - 5,
        frozen_epochs=4, unfrozen_epochs=2, learning_rate=1e-2)
    accuracy = result.trainer.evaluate(
        images[target][400:], labels[target][400:] - 5)["accuracy"]
    assert accuracy > 0.7  # digits 5-9, held out; chance: 0.2


def test_pretrain_classifier_defaults_to_the_label_count(digits):
    images, labels = digits
    model = pretraining.pretrain_classifier(
        images[:64], labels[:64] % 3, epochs=1)
    assert isinstance(model, ConvNetwork) and model.num_classes == 3


# --- Bad input ---------------------------------------------------------------


def test_unscaled_images_are_refused_for_a_sigmoid_output(digits):
    images, _ = digits
    with pytest.raises(ValueError, match=r"`images` must lie in \[0, 1\].*"
                       r"output_activation='sigmoid'.*Received: images with "
                       r"values in \[0, 16\].*kerasft.data.scale"):
        pretraining.pretrain_autoencoder(
            images * 16, ConvAutoencoder(output_activation="sigmoid"))


def test_wrong_channel_count_is_refused_before_training():
    autoencoder = ConvAutoencoder(filters=(2,))
    autoencoder.build((None, 8, 8, 1))
    rgb = np.zeros((4, 8, 8, 3), "float32")
    with pytest.raises(ValueError, match=r"`images` must have 1 channel.*"
                       r"Received: images with shape \(4, 8, 8, 3\)"):
        pretraining.pretrain_autoencoder(rgb, autoencoder)
    classifier = autoencoder.to_classifier(num_classes=2)
    with pytest.raises(ValueError, match="`images` must have 1 channel"):
        pretraining.finetune_classifier(classifier, rgb, [0, 1, 0, 1])


def test_other_image_sizes_are_refused_for_a_global_code():
    autoencoder = ConvAutoencoder(filters=(2,))  # bottleneck="global"
    autoencoder.build((None, 8, 8, 1))
    with pytest.raises(ValueError, match=r"`images` must be 8x8 images.*"
                       r"Received: images with shape \(4, 28, 28, 1\)"):
        pretraining.pretrain_autoencoder(np.zeros((4, 28, 28, 1)),
                                         autoencoder)


def test_images_without_a_channel_axis_are_refused():
    with pytest.raises(ValueError, match=r"x\[..., None\]. Received: images "
                       r"with shape \(4, 8, 8\)"):
        pretraining.pretrain_autoencoder(np.zeros((4, 8, 8), "float32"))


@pytest.mark.parametrize("num_classes", [1, 0, 2.5])
def test_num_classes_below_two_is_refused(num_classes):
    autoencoder = ConvAutoencoder(filters=(2,))
    autoencoder.build((None, 8, 8, 1))
    with pytest.raises(ValueError, match=r"`num_classes` must be an int "
                       rf">= 2. Received: num_classes={num_classes}"):
        pretraining.classifier_from_pretrained(autoencoder, num_classes)


def test_bad_pretrained_models_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.keras' .no such"):
        pretraining.classifier_from_pretrained(tmp_path / "missing.keras", 3)
    with pytest.raises(TypeError, match="Received: pretrained of type "
                       "FeedforwardNetwork"):
        pretraining.classifier_from_pretrained(
            kerasft.FeedforwardNetwork(), 3)


def test_bad_finetuning_arguments_are_refused():
    classifier = ConvNetwork(filters=(2,), num_classes=3)
    images = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match=r"`labels` must be class ids in "
                       r"\[0, num_classes\). Received: labels with min=0, "
                       r"max=3 and num_classes=3"):
        pretraining.finetune_classifier(classifier, images, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="`frozen_epochs` \\+ "
                       "`unfrozen_epochs` must be at least 1"):
        pretraining.finetune_classifier(classifier, images, [0, 1, 2, 0],
                                        frozen_epochs=0, unfrozen_epochs=0)
    with pytest.raises(ValueError, match="`unfrozen_learning_rate` must be "
                       "a positive number or a keras LearningRateSchedule. "
                       "Received: unfrozen_learning_rate=0"):
        pretraining.finetune_classifier(classifier, images, [0, 1, 2, 0],
                                        unfrozen_learning_rate=0)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, 10)
    with pytest.raises(ValueError, match="`unfrozen_learning_rate` is needed "
                       "when `learning_rate` is a schedule"):
        pretraining.finetune_classifier(classifier, images, [0, 1, 2, 0],
                                        learning_rate=schedule)
    with pytest.raises(ValueError, match="`noise_stddev` must be a number "
                       ">= 0. Received: noise_stddev=-0.1"):
        pretraining.pretrain_autoencoder(images, noise_stddev=-0.1)
