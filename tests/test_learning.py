"""The Trainer learns real data: kerasft's acceptance bars.

- MNIST: the t10k IDX files in ../shared/data/mnist (10,000 real digits),
  fixed split: the first 8,000 images train, the last 2,000 test. Bars:
  FeedforwardNetwork >= 95%, ConvNetwork >= 97% test accuracy.
- digits: scikit-learn's bundled 8x8 digits, split with
  `train_val_test_split(images, labels, 0.1, 0.2, seed=0, stratify=True)`:
  1,258 train / 180 validation (unused) / 359 test. Bar: >= 93% for both.
- linear regression on scikit-learn's diabetes data: gradient descent
  reaches the closed-form least-squares weights.

Everything is seeded (weights, shuffling). Pixels are scaled to [0, 1];
Adam's learning rate decays along a cosine to 0 over the run, so the final
weights do not depend on where the last epoch happened to stop.
"""

import keras
import numpy as np
import pytest

import kerasft
from kerasft import data

NUM_MNIST_TRAIN = 8000  # first 8,000 t10k images train, last 2,000 test


def _train_and_test(build_model, train, test, epochs, batch_size,
                    learning_rate, seed=0):
    """Trains a fresh model on `train`, returns `evaluate()` on `test`."""
    keras.utils.set_random_seed(seed)
    model = build_model()
    train_ds = data.make_dataset(*train, batch_size=batch_size, seed=seed)
    test_ds = data.make_dataset(*test, batch_size=512, shuffle=False)
    steps = epochs * int(train_ds.cardinality())
    trainer = kerasft.Trainer(
        model,
        optimizer="adam",
        metrics=["accuracy", "f1"],
        learning_rate=keras.optimizers.schedules.CosineDecay(learning_rate,
                                                             steps),
        steps_per_execution=8,
    )
    trainer.fit(train_ds, epochs=epochs, verbose=0)
    return trainer.evaluate(test_ds)


def _report(name, results, bar):
    accuracy = results["accuracy"]
    print(f"{name}: test accuracy {accuracy:.4f}, macro F1 "
          f"{results['f1']:.4f} (bar {bar})")
    # The confusion matrix counts every test example once.
    assert results["confusion_matrix"].trace() / results[
        "confusion_matrix"].sum() == pytest.approx(accuracy, abs=1e-6)
    return accuracy


# --- MNIST: 8,000 train / 2,000 test ------------------------------------------


@pytest.fixture
def mnist_split(mnist_dir):
    images, labels = data.load_mnist_arrays(mnist_dir)  # (10000, 28, 28, 1)
    images = data.scale(images)  # 0..255 -> [0, 1]
    train = (images[:NUM_MNIST_TRAIN], labels[:NUM_MNIST_TRAIN])
    test = (images[NUM_MNIST_TRAIN:], labels[NUM_MNIST_TRAIN:])
    return train, test


@pytest.mark.slow
@pytest.mark.shared
def test_feedforward_network_reaches_95_percent_on_mnist(mnist_split):
    train, test = mnist_split
    results = _train_and_test(
        lambda: kerasft.FeedforwardNetwork(hidden_units=(256, 128),
                                           dropout=0.2),
        train, test, epochs=12, batch_size=128, learning_rate=2e-3,
    )
    accuracy = _report("FeedforwardNetwork, MNIST", results, 0.95)
    assert accuracy >= 0.95, f"test accuracy {accuracy:.4f} < 0.95"


@pytest.mark.slow
@pytest.mark.shared
def test_conv_network_reaches_97_percent_on_mnist(mnist_split):
    train, test = mnist_split
    # Three blocks: with two, global pooling of 7x7 maps learns slowly.
    results = _train_and_test(
        lambda: kerasft.ConvNetwork(filters=(16, 32, 64), hidden_dim=128),
        train, test, epochs=12, batch_size=64, learning_rate=3e-3,
    )
    accuracy = _report("ConvNetwork, MNIST", results, 0.97)
    assert accuracy >= 0.97, f"test accuracy {accuracy:.4f} < 0.97"


# --- digits: 70 / 10 / 20, stratified, seed 0 ---------------------------------


@pytest.fixture(scope="module")
def digits_split():
    images, labels = data.load_digits_arrays()  # (1797, 8, 8, 1), 0..16
    images = data.scale(images, input_range=(0, 16))
    train, _, test = data.train_val_test_split(
        images, labels, 0.1, 0.2, seed=0, stratify=True
    )
    return train, test


def test_feedforward_network_reaches_93_percent_on_digits(digits_split):
    train, test = digits_split
    assert (len(train[0]), len(test[0])) == (1258, 359)
    results = _train_and_test(
        lambda: kerasft.FeedforwardNetwork(hidden_units=(256, 128)),
        train, test, epochs=20, batch_size=64, learning_rate=2e-3,
    )
    accuracy = _report("FeedforwardNetwork, digits", results, 0.93)
    assert accuracy >= 0.93, f"test accuracy {accuracy:.4f} < 0.93"


def test_conv_network_reaches_93_percent_on_digits(digits_split):
    train, test = digits_split
    results = _train_and_test(
        lambda: kerasft.ConvNetwork(filters=(32, 64), hidden_dim=128),
        train, test, epochs=20, batch_size=64, learning_rate=3e-3,
    )
    accuracy = _report("ConvNetwork, digits", results, 0.93)
    assert accuracy >= 0.93, f"test accuracy {accuracy:.4f} < 0.93"


# --- linear regression: gradient descent vs. least squares --------------------


def test_linear_regression_reaches_the_least_squares_solution():
    """Full-batch gradient descent on the MSE of scikit-learn's diabetes
    data (442 rows, 10 standardized features, raw targets with std 77)
    converges to `numpy.linalg.lstsq`'s weights and bias."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    features = data.Standardizer().adapt(x)(x)  # float32, mean 0, std 1
    targets = y.astype("float32")

    keras.utils.set_random_seed(0)
    model = kerasft.FeedforwardNetwork(hidden_units=(), num_classes=1)
    trainer = kerasft.Trainer(model, optimizer="sgd", loss="mse",
                              learning_rate=0.2, steps_per_execution=500)
    full_batch = data.make_dataset(features, targets,
                                   batch_size=len(features),
                                   shuffle=False).repeat()
    trainer.fit(full_batch, epochs=1, steps_per_epoch=4000, verbose=0)
    learned = np.r_[keras.ops.convert_to_numpy(model.logits.kernel)[:, 0],
                    keras.ops.convert_to_numpy(model.logits.bias)]

    design = np.c_[features.astype("float64"), np.ones(len(features))]
    closed_form, *_ = np.linalg.lstsq(design, targets.astype("float64"),
                                      rcond=None)
    max_abs_diff = np.max(np.abs(learned - closed_form))
    print(f"linear regression: max |w - w_lstsq| = {max_abs_diff:.2e} "
          f"(weights span {closed_form[:-1].min():.1f} to "
          f"{closed_form[:-1].max():.1f}, bias {closed_form[-1]:.1f})")
    assert max_abs_diff < 1e-2
