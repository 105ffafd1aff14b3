"""
Title: Linear regression by gradient descent, checked against least squares
What it shows: linear regression as a `FeedforwardNetwork` with no hidden
    layer and one output (a single Dense layer), trained by full-batch
    gradient descent (SGD on the mean squared error) with the kerasft
    `Trainer`, and checked against the closed-form least-squares solution
    from `numpy.linalg.lstsq`: the learned weights and bias match it.
Data: scikit-learn's bundled diabetes data set (442 patients, 10 features,
    target: disease progression after one year, in its own units, mean 152,
    std 77). Features are standardized with kerasft's `Standardizer`; all
    442 rows are used, since the point is the optimum of the training loss.
Time on CPU: about 5 s (plus TensorFlow's start-up).
Result: max |weight difference| to the closed form about 4e-4 (in target
    units; the weights range from -38 to 36) after 4,000 steps.

    python examples/linear_regression.py
    python examples/linear_regression.py --steps 10000
"""

# ## Setup
import argparse
import time

import kerasft  # first: selects the TensorFlow backend for Keras

# isort: split
import keras
import numpy as np

from kerasft import data


# ## Data
def load_diabetes():
    """Returns standardized features (442, 10), targets (442,), names."""
    # Imported here: scikit-learn takes a second to import.
    from sklearn.datasets import load_diabetes as sklearn_load_diabetes

    diabetes = sklearn_load_diabetes()
    standardizer = data.Standardizer().adapt(diabetes.data)
    features = standardizer(diabetes.data)  # float32, mean 0, std 1
    targets = diabetes.target.astype("float32")
    return features, targets, list(diabetes.feature_names)


# ## Model
def build_model():
    # One Dense layer, 10 inputs -> 1 output: y = x @ kernel + bias.
    return kerasft.FeedforwardNetwork(hidden_units=(), num_classes=1)


# ## Train
def fit_by_gradient_descent(model, features, targets, steps, learning_rate):
    """Full-batch gradient descent on the mean squared error.

    Every step sees all rows, so each update follows the exact gradient of
    the training loss. With standardized features the loss's curvature is
    at most 2 x 4.0 (twice the largest eigenvalue of the features'
    correlation matrix), so a learning rate below 2 / 8 converges; the
    smallest eigenvalue, 0.009, sets how many steps it takes.
    """
    trainer = kerasft.Trainer(
        model,
        optimizer="sgd",  # plain gradient descent: no momentum
        loss="mse",
        metrics=["mse"],
        learning_rate=learning_rate,
        steps_per_execution=500,  # 500 steps per tf.function call
    )
    # One batch of all rows, repeated: `steps` updates in one "epoch".
    dataset = data.make_dataset(
        features, targets, batch_size=len(features), shuffle=False
    ).repeat()
    trainer.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    kernel = keras.ops.convert_to_numpy(model.logits.kernel)[:, 0]  # (10,)
    bias = float(keras.ops.convert_to_numpy(model.logits.bias)[0])
    return kernel, bias


def least_squares(features, targets):
    """The closed-form solution: `lstsq` on [features, 1], in float64."""
    design = np.c_[features.astype("float64"), np.ones(len(features))]
    solution, *_ = np.linalg.lstsq(design, targets.astype("float64"),
                                   rcond=None)
    return solution[:-1], float(solution[-1])  # kernel (10,), bias


# ## Evaluate
def compare(features, targets, names, learned, closed_form):
    (kernel, bias), (kernel_ls, bias_ls) = learned, closed_form
    print(f"{'feature':>10}  {'gradient descent':>16}  {'least squares':>13}")
    for name, w, w_ls in zip(names, kernel, kernel_ls):
        print(f"{name:>10}  {w:16.4f}  {w_ls:13.4f}")
    print(f"{'bias':>10}  {bias:16.4f}  {bias_ls:13.4f}")
    max_abs_diff = float(
        np.max(np.abs(np.r_[kernel - kernel_ls, bias - bias_ls]))
    )

    def mse(w, b):
        return float(np.mean((features @ w + b - targets) ** 2))

    results = {
        "max_abs_diff": max_abs_diff,
        "mse": mse(kernel, bias),
        "mse_least_squares": mse(kernel_ls, bias_ls),
    }
    print(f"Max |weight difference|: {max_abs_diff:.2e} (target units; the "
          f"target's std is {targets.std():.1f})")
    print(f"Training MSE: gradient descent {results['mse']:.4f}, "
          f"least squares {results['mse_least_squares']:.4f}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--steps", type=int, default=4000,
                        help="gradient descent steps (full batch)")
    parser.add_argument("--learning-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.time()
    keras.utils.set_random_seed(args.seed)  # the initial weights
    features, targets, names = load_diabetes()
    model = build_model()
    learned = fit_by_gradient_descent(model, features, targets, args.steps,
                                      args.learning_rate)
    closed_form = least_squares(features, targets)
    results = compare(features, targets, names, learned, closed_form)
    print(f"Done in {time.time() - start:.0f} s.")
    return results


if __name__ == "__main__":
    main()
