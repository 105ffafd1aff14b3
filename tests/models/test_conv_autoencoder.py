import keras
import numpy as np
import pytest
from model_test_helper import run_model_test, run_training_step

import kerasft
from kerasft.models import ConvAutoencoder, ConvNetwork

RNG = np.random.default_rng(0)


def random(*shape):
    return RNG.uniform(size=shape).astype("float32")


@pytest.mark.parametrize(
    "init_kwargs, input_shape",
    [
        # 8x8 digits, two blocks: 8 -> 4 -> 2 -> 4 -> 8.
        ({"filters": (4, 8), "batch_norm": True, "bottleneck": "spatial"},
         (4, 8, 8, 1)),
        # 28x28 MNIST, three blocks: 28 -> 14 -> 7 -> 4 -> 32, cropped to 28.
        ({"filters": (4, 4, 8), "pooling": "avg", "bottleneck": "spatial",
          "output_activation": "sigmoid"}, (2, 28, 28, 1)),
        # Odd sizes and RGB: 9x7 -> 5x4 -> 10x8, cropped to 9x7.
        ({"filters": [4], "kernel_size": 5, "bottleneck": "spatial",
          "output_activation": "tanh"}, (2, 9, 7, 3)),
        # A global code (the default): 9 -> 5 -> 3, (2, 8) -> Dense ->
        # (2, 3, 3, 8) -> 12, cropped to 9.
        ({"filters": (4, 8), "batch_norm": True}, (2, 9, 9, 1)),
        ({"filters": (4,), "kernel_size": 5, "output_activation": "tanh"},
         (2, 9, 7, 3)),
    ],
)
def test_model_basics(init_kwargs, input_shape):
    # The output has the input's shape, whatever the pooling rounded.
    run_model_test(ConvAutoencoder, init_kwargs, random(*input_shape),
                   input_shape)


def test_parameter_counts_by_hand():
    model = ConvAutoencoder(filters=(4, 8), kernel_size=3,
                            bottleneck="spatial")
    model.build((None, 8, 8, 1))
    counts = {layer.name: layer.count_params()
              for part in (model.encoder, model.decoder)
              for layer in part.layers}
    assert counts["conv_0"] == 3 * 3 * 1 * 4 + 4  # 40
    assert counts["conv_1"] == 3 * 3 * 4 * 8 + 8  # 296
    assert counts["deconv_0"] == 3 * 3 * 8 * 8 + 8  # 584: 8 -> 8 filters
    assert counts["deconv_1"] == 3 * 3 * 8 * 4 + 4  # 292: 8 -> 4 filters
    assert counts["reconstruction"] == 3 * 3 * 4 * 1 + 1  # 37: 4 -> 1
    assert model.count_params() == 40 + 296 + 584 + 292 + 37

    # A global code adds Dense(8 -> 2 * 2 * 8) before the decoder.
    model = ConvAutoencoder(filters=(4, 8))  # bottleneck="global"
    model.build((None, 8, 8, 1))
    assert model.decoder.get_layer("expand").count_params() == 8 * 32 + 32
    assert model.count_params() == 40 + 296 + 288 + 584 + 292 + 37


def test_encoder_output_shape_rounds_up_odd_sizes():
    model = ConvAutoencoder(filters=(2, 2, 4), bottleneck="spatial")
    x = random(1, 7, 9, 1)
    assert tuple(model(x).shape) == (1, 7, 9, 1)
    # 7 -> 4 -> 2 -> 1 and 9 -> 5 -> 3 -> 2 ("same" pooling rounds up).
    assert tuple(model.encoder(x).shape) == (1, 1, 2, 4)
    assert tuple(model.decoder(model.encoder(x)).shape) == (1, 8, 16, 1)


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("bottleneck", ["spatial", "global"])
def test_encoder_matches_a_conv_network_extractor(batch_norm, bottleneck):
    """Same layer names and weight shapes, so the weights copy over."""
    kwargs = {"filters": (4, 8), "kernel_size": 3, "pooling": "max",
              "batch_norm": batch_norm}
    autoencoder = ConvAutoencoder(**kwargs, bottleneck=bottleneck)
    autoencoder.build((None, 8, 8, 1))
    network = ConvNetwork(**kwargs, num_classes=3)
    network.build((None, 8, 8, 1))
    extractor_layers = [layer.name for layer in
                        network.feature_extractor.layers]
    assert extractor_layers[-1] == "global_pool"  # no weights
    if bottleneck == "spatial":
        extractor_layers = extractor_layers[:-1]
    assert [layer.name for layer in autoencoder.encoder.layers] == (
        extractor_layers)
    assert [tuple(w.shape) for w in autoencoder.encoder.weights] == [
        tuple(w.shape) for w in network.feature_extractor.weights]


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("bottleneck", ["spatial", "global"])
def test_to_classifier_copies_the_encoder(batch_norm, bottleneck):
    autoencoder = ConvAutoencoder(filters=(4, 8), batch_norm=batch_norm,
                                  bottleneck=bottleneck)
    x = random(6, 8, 8, 1)
    autoencoder(x)
    # A training step moves every weight (and BatchNorm's statistics), so
    # the copy is checked against trained values, not initial ones.
    run_training_step(autoencoder, x)
    classifier = autoencoder.to_classifier(num_classes=3, hidden_dim=5)
    assert isinstance(classifier, ConvNetwork)
    assert classifier.num_classes == 3 and classifier.hidden_dim == 5
    assert classifier.trainable
    for mine, theirs in zip(autoencoder.encoder.weights,
                            classifier.feature_extractor.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    codes = keras.ops.convert_to_numpy(autoencoder.encoder(x, training=False))
    features = keras.ops.convert_to_numpy(
        classifier.feature_extractor(x, training=False))
    if bottleneck == "spatial":
        # The extractor's features are the global average of the
        # encoder's map: (6, 2, 2, 8) -> (6, 8).
        codes = codes.mean(axis=(1, 2))
    assert codes.shape == features.shape == (6, 8)
    np.testing.assert_allclose(features, codes, rtol=1e-5, atol=1e-6)
    assert tuple(classifier(x).shape) == (6, 3)


def test_trainer_loss_and_mae_on_image_outputs_by_hand():
    """The Trainer's regression path averages over (batch, H, W, C)."""
    model = ConvAutoencoder(filters=(2,), output_activation="linear")
    x = random(5, 6, 6, 1)
    trainer = kerasft.Trainer(model, loss="mse", metrics=["mae", "rmse"])
    results = trainer.evaluate(x, x, batch_size=2)  # 3 batches: 2, 2, 1
    error = keras.ops.convert_to_numpy(model(x, training=False)) - x
    assert results["loss"] == pytest.approx(np.mean(error ** 2), rel=1e-5)
    assert results["mae"] == pytest.approx(np.mean(np.abs(error)), rel=1e-5)
    assert results["rmse"] == pytest.approx(
        np.sqrt(np.mean(error ** 2)), rel=1e-5)
    assert "confusion_matrix" not in results
    assert trainer.predict(x, batch_size=2).shape == x.shape


def test_wrong_channel_count_is_refused():
    model = ConvAutoencoder(filters=(2,), bottleneck="spatial")
    model(random(1, 8, 8, 1))
    with pytest.raises(ValueError, match=r"built for input shape \(None, 8, "
                       r"8, 1\) and takes images with that number of "
                       r"channels.*Received: inputs.shape=\(1, 8, 8, 3\)"):
        model(random(1, 8, 8, 3))
    model(random(1, 12, 6, 1))  # other sizes are fine


def test_a_global_code_needs_the_built_image_size():
    model = ConvAutoencoder(filters=(2,))  # bottleneck="global"
    model(random(1, 8, 8, 1))
    with pytest.raises(ValueError, match=r"takes images of exactly that "
                       r"height, width.*Received: inputs.shape=\(1, 8, 9, "
                       r"1\)"):
        model(random(1, 8, 9, 1))
    with pytest.raises(ValueError, match=r"needs the height, width and "
                       r"channels.*Received: input_shape=\(None, None, 8, "
                       r"1\)"):
        ConvAutoencoder(filters=(2,), bottleneck="global").build(
            (None, None, 8, 1))


def test_images_without_a_channel_axis_are_refused():
    with pytest.raises(ValueError, match=r"add a channels axis.*"
                       r"Received: inputs.shape=\(2, 8, 8\)"):
        ConvAutoencoder(filters=(2,))(random(2, 8, 8))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"filters": ()}, "`filters` must contain at least one value"),
        ({"filters": (4, 0)}, "`filters` must contain only positive"),
        ({"kernel_size": 0}, "`kernel_size` must be an int >= 1"),
        ({"pooling": "min"}, "`pooling` must be one of 'max', 'avg'"),
        ({"batch_norm": "yes"}, "`batch_norm` must be True or False"),
        ({"bottleneck": "mean"}, "`bottleneck` must be one of 'global', "
         "'spatial'. Received: bottleneck='mean'"),
        ({"output_activation": "relu"},
         "`output_activation` must be one of 'linear', 'sigmoid', 'tanh'. "
         "Received: output_activation='relu'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvAutoencoder(**kwargs)


def test_to_classifier_needs_a_built_model_and_two_classes():
    model = ConvAutoencoder(filters=(2,))
    with pytest.raises(ValueError, match="must be built first"):
        model.to_classifier(num_classes=3)
    model.build((None, 8, 8, 1))
    with pytest.raises(ValueError, match=r"`num_classes` must be an int "
                       r">= 2. Received: num_classes=1"):
        model.to_classifier(num_classes=1)
