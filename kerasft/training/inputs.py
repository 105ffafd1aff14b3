"""What the Trainer takes in: arrays or datasets, and the checks on them.

`as_dataset` turns arrays (or a dict of them: named model inputs) into a
batched `tf.data.Dataset` and checks a dataset the user built; `LabelCheck`
knows which label values a model's loss accepts and checks them twice:
the first batch on the host before anything is traced (clear errors for
the usual mistakes: 1-based labels, a `num_classes` too small, multi-label
targets of the wrong width), and then every batch inside the compiled step
(`LabelCheck.in_step`), where a bad label makes the step a no-op that the
host reports, naming the value and the batch. Without the second check a
bad label in a later batch reaches `sparse_categorical_crossentropy`,
which fails on the CPU with a graph error thousands of characters long
(and silently yields NaN on a GPU).
"""

import weakref

import keras
import numpy as np
import tensorflow as tf

from kerasft.checks import check_optional_batch_size


class InvalidLabelError(ValueError):
    """Raised when a batch holds a label the model's loss cannot take."""


def unpack(data):
    """Splits a batch into `(x, y, sample_weight)`, Keras' convention.

    Args:
        data: a batch: `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`.

    Example:
    >>> unpack((1, 2))
    (1, 2, None)
    """
    if isinstance(data, tuple):
        if len(data) == 1:
            return data[0], None, None
        if len(data) == 2:
            return data[0], data[1], None
        if len(data) == 3:
            return data
    return data, None, None


def as_dataset(x, y, batch_size, shuffle, role, labels_required=True):
    """A batched dataset of `(features, labels)` from arrays or a dataset.

    Args:
        x: a `tf.data.Dataset` of batches, an array, or a dict of arrays.
        y: labels for array `x`; None for a dataset.
        batch_size: int. Batch size for arrays (not for a dataset, which is
            batched already).
        shuffle: bool. Shuffle arrays (seeded, every epoch anew).
        role: str. The argument's name, for messages (`"x"`,
            `"validation_data"`).
        labels_required: bool. Whether array `x` needs `y`.
    """
    if isinstance(x, tf.data.Dataset):
        return _check_dataset(x, y, batch_size, role)
    if x is None:
        raise ValueError(f"`{role}` is required. Received: {role}=None")
    if isinstance(x, (str, bytes)):
        raise TypeError(
            f"`{role}` must be a tf.data.Dataset, an array or a dict of "
            f"arrays. Received: {role}={x!r}"
        )
    batch_size = check_optional_batch_size(batch_size)
    features = as_array(x, role)
    num_examples = len(next(iter(features.values()), ())) if isinstance(
        features, dict) else len(features)
    if num_examples == 0:
        raise ValueError(
            f"`{role}` is empty. Received: {role} with "
            f"{num_examples} examples"
        )
    if y is None:
        if labels_required:
            raise ValueError(
                "`y` is required when `x` is an array. Received: y=None"
            )
        return tf.data.Dataset.from_tensor_slices(features).batch(
            batch_size)
    labels = np.asarray(y)
    if labels.ndim == 0:
        raise ValueError(
            "`y` must hold one label per example of `x`. Received: the "
            f"scalar y={labels.item()!r}"
        )
    if len(labels) != num_examples:
        raise ValueError(
            "`x` and `y` must have the same number of examples. "
            f"Received: len(x)={num_examples}, len(y)={len(labels)}"
        )
    if labels.dtype == object:
        raise TypeError(
            "`y` must be numeric. Received: y with dtype object (e.g. "
            "strings or rows of different lengths)"
        )
    dataset = tf.data.Dataset.from_tensor_slices((features, labels))
    if shuffle:
        dataset = dataset.shuffle(num_examples, seed=0,
                                  reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def as_validation_dataset(validation_data, batch_size):
    """`as_dataset` for `fit(validation_data=...)`: a dataset or `(x, y)`."""
    if isinstance(validation_data, tf.data.Dataset):
        return as_dataset(validation_data, None, batch_size, shuffle=False,
                          role="validation_data")
    if isinstance(validation_data, (tuple, list)) and len(
            validation_data) == 2:
        return as_dataset(*validation_data, batch_size, shuffle=False,
                          role="validation_data")
    raise TypeError(
        "`validation_data` must be a tf.data.Dataset or an (x, y) "
        f"tuple. Received: validation_data of type "
        f"{type(validation_data).__name__}"
        + (f" with {len(validation_data)} items"
           if isinstance(validation_data, (tuple, list)) else "")
    )


def _check_dataset(dataset, y, batch_size, role):
    if y is not None:
        raise ValueError(
            "`y` must be None when `x` is a tf.data.Dataset (the "
            "dataset yields the labels). Received: y of type "
            f"{type(y).__name__}"
        )
    if batch_size is not None:
        # The dataset's own batching decides; a batch_size given too would
        # be ignored, as the user may not expect.
        raise ValueError(
            f"`batch_size` must be None when `{role}` is a tf.data.Dataset "
            "(it is batched already: call dataset.rebatch(n) to change "
            f"it). Received: batch_size={batch_size!r}"
        )
    if dataset.cardinality() == 0:
        raise ValueError(
            f"The dataset passed as `{role}` is empty. Received: "
            f"{role}=<Dataset with 0 batches>"
        )
    spec = dataset.element_spec
    batched = all(
        s.shape.rank is None or s.shape.rank >= 1
        for s in keras.tree.flatten(spec)
    )
    if not batched:
        raise ValueError(
            f"The dataset passed as `{role}` is not batched (its "
            f"elements are scalars). Received: element_spec={spec}. "
            "Call dataset.batch(batch_size) first."
        )
    return dataset


def as_array(x, role):
    """`x` as a NumPy array, or a dict of them (named model inputs, e.g.
    a text preprocessor's `token_ids` / `padding_mask`)."""
    if isinstance(x, dict):
        if not x:
            raise ValueError(
                f"`{role}` is an empty dict. Received: {role}={{}}")
        features = {k: as_array(v, f"{role}[{k!r}]") for k, v in x.items()}
        sizes = {len(v) for v in features.values()}
        if len(sizes) > 1:
            raise ValueError(
                f"Every input of `{role}` must have the same number of "
                "examples. Received: "
                + ", ".join(f"{k}: {len(v)}" for k, v in features.items())
            )
        return features
    try:
        features = np.asarray(x)
    except ValueError as error:  # ragged rows
        raise ValueError(
            f"`{role}` must be a rectangular array (every row the same "
            f"length). Received: {type(x).__name__} that NumPy cannot "
            f"stack ({error})"
        ) from None
    if not np.issubdtype(features.dtype, np.number) and features.dtype != bool:
        raise TypeError(
            f"`{role}` must be numeric. Received: {role} with dtype "
            f"{features.dtype} (e.g. strings); convert or encode it first."
        )
    if features.ndim == 0:
        raise ValueError(
            f"`{role}` must be an array of examples (batch, ...). "
            f"Received: the scalar {role}={features.item()!r}"
        )
    if features.dtype == np.float64:
        features = features.astype("float32")
    return features


def check_numeric(x_spec):
    """Refuses string features: they need tokenizing or encoding first."""
    for spec in keras.tree.flatten(x_spec):
        if spec.dtype == tf.string:
            raise TypeError(
                "Model inputs must be numeric tensors. Received: a feature "
                f"of dtype string (spec {spec}). Tokenize or encode text in "
                "the tf.data pipeline first."
            )


def describe_features(x_spec):
    """A short description of what a dataset yields as features."""
    def one(spec):
        shape = ", ".join("batch" if i == 0 else str(d)
                          for i, d in enumerate(spec.shape.as_list()))
        return f"{spec.dtype.name} ({shape})"

    if isinstance(x_spec, dict):
        return "a dict {" + ", ".join(
            f"{k!r}: {one(v)}" for k, v in sorted(x_spec.items())) + "}"
    if isinstance(x_spec, (tuple, list)):
        return f"a {type(x_spec).__name__} of " + ", ".join(
            one(s) for s in keras.tree.flatten(x_spec))
    return "one tensor " + one(x_spec)


def call_on_spec(model, x_spec):
    """Calls `model` on one zero example shaped like `x_spec`.

    This creates a subclassed model's weights and gives the output size.
    A model that cannot take those features (a dict for a model that takes
    one tensor, a wrong feature size) fails inside Keras with a message
    about the layer, not the data: this says what the data yields.
    Unknown sizes (bucketed sequence lengths) become 1.
    """
    dummy = keras.tree.map_structure(
        lambda s: tf.zeros([1] + [d or 1 for d in s.shape[1:]], s.dtype),
        x_spec,
    )
    try:
        return model(dummy, training=False)
    except (ValueError, TypeError, KeyError, IndexError,
            tf.errors.InvalidArgumentError) as error:
        reason = str(error).strip().splitlines()[0][:300]
        raise ValueError(
            f"The model {model.name!r} ({type(model).__name__}) cannot take "
            "the features the data yields. Received: "
            f"{describe_features(x_spec)}. Keras said: {reason} . Give "
            "the model what it was built for (kerasft's Feedforward / Conv "
            "networks take one tensor; text models take the "
            "preprocessor's dict of 'token_ids' and 'padding_mask')."
        ) from error


def check_same_features(built_spec, x_spec, model, role):
    """Refuses features of another structure than the model was built on.

    A model built on one tensor and later given a dict (or other dict
    keys, or another rank) would fail while the step is traced, with an
    error about a layer. Sizes are not compared: sequence lengths may vary
    between batches, and Keras names a wrong feature size clearly itself.
    """
    def signature(spec):
        if isinstance(spec, dict):
            return {k: signature(v) for k, v in spec.items()}
        if isinstance(spec, (tuple, list)):
            return [signature(v) for v in spec]
        return spec.shape.rank

    if signature(built_spec) != signature(x_spec):
        raise ValueError(
            f"`{role}` yields other features than the model "
            f"{model.name!r} was built on. Received: "
            f"{describe_features(x_spec)}; the model takes "
            f"{describe_features(built_spec)}."
        )


class LabelCheck:
    """Which label values a model's loss takes, checked on host and graph.

    Sparse classification: integers in `[0, num_classes)` (or the loss's
    `ignore_class`, e.g. -100 for tokens that carry no tag); binary with
    one output: targets in [0, 1]; multi-label: multi-hot rows of 0 and 1
    with one column per output; categorical: rows in [0, 1]. Regression
    targets are not range-checked: a NaN target makes the loss NaN, which
    the step's guard reports (naming the labels as the cause).

    Args:
        task: the Trainer's task (`"sparse"`, `"categorical"`, `"binary"`,
            `"regression"`).
        num_outputs: int. The size of the model's last output axis.
        ignore_class: int or None. A label value the loss skips.
    """

    def __init__(self, task, num_outputs, ignore_class=None):
        self.task = task
        self.num_outputs = num_outputs
        self.ignore_class = ignore_class
        self.multi_output = num_outputs > 1 and task != "sparse"
        # Creating an iterator can cost a second (tf.data rewrites a graph
        # that embeds in-memory arrays), so each dataset is checked once.
        self._checked = weakref.WeakSet()

    # ------------------------------------------------------- the rule
    def expected(self):
        """What the labels must be, in words."""
        if self.task == "sparse":
            text = f"integers in [0, {self.num_outputs})"
            if self.ignore_class is not None:
                text += f" or {self.ignore_class} (ignored)"
            return text
        if self.task == "binary" and self.multi_output:
            return (f"multi-hot rows of {self.num_outputs} values, each 0 "
                    "or 1")
        if self.task == "binary":
            return "targets in [0, 1]"
        if self.task == "categorical":
            return f"rows of {self.num_outputs} probabilities in [0, 1]"
        return "finite numbers"

    def invalid(self, y):
        """A boolean tensor, True where a label breaks the rule. Graph-safe
        (XLA too): elementwise ops only."""
        if self.task == "regression":
            return tf.zeros_like(y, dtype=tf.bool)
        y = tf.convert_to_tensor(y)
        values = tf.cast(y, "float32")
        if self.task == "sparse":
            bad = (values < 0) | (values >= self.num_outputs)
            if y.dtype.is_floating:
                bad |= tf.not_equal(values, tf.floor(values))
            if self.ignore_class is not None:
                bad &= tf.not_equal(values, float(self.ignore_class))
            return bad
        if self.task == "binary" and self.multi_output:
            return tf.not_equal(values, 0.0) & tf.not_equal(values, 1.0)
        # Binary with one output, categorical rows: soft targets are fine.
        return ~((values >= 0.0) & (values <= 1.0))

    def error(self, value, role, where):
        """The `InvalidLabelError` for a bad label `value`."""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        hint = (" (check num_classes, or labels that start at 1)"
                if self.task == "sparse" else "")
        kind = ("multi-label targets" if self.task == "binary"
                and self.multi_output else "labels")
        return InvalidLabelError(
            f"The {kind} in `{role}` are out of range for a model with "
            f"{self.num_outputs} output(s): expected {self.expected()}. "
            f"Received: label={value!r} in {where}{hint}."
        )

    # ------------------------------------------------------ host check
    def check_dataset(self, dataset, role):
        """Checks label dtype, shape and values of the first batch.

        A full pass would cost an epoch; the compiled step checks every
        later batch. Run before tracing: shape mistakes would fail deep
        inside the loss otherwise.
        """
        if dataset in self._checked:
            return
        self._checked.add(dataset)
        _, y_spec, _ = unpack(dataset.element_spec)
        if y_spec is not None and y_spec.dtype == tf.string:
            raise TypeError(
                f"Labels in `{role}` are strings; the Trainer needs numbers "
                "(class ids, 0/1 targets or values). Map names to ids "
                "first, e.g. with kerasft.data.LabelMap."
            )
        if self.task not in ("sparse", "binary", "regression"):
            return
        for batch in dataset.take(1):
            _, y, _ = unpack(batch)
            if y is None:
                raise ValueError(
                    f"The dataset passed as `{role}` yields no labels. "
                    "Expected (features, labels) batches."
                )
            labels = np.asarray(y)
            if labels.size == 0:
                raise ValueError(f"The dataset passed as `{role}` is empty.")
            self.check_values(labels, role)
            return
        raise ValueError(
            f"The dataset passed as `{role}` is empty: it yielded no "
            "batches."
        )

    def check_values(self, labels, role, where="its first batch"):
        """Checks one batch of labels (a NumPy array) on the host."""
        if self.multi_output and (labels.ndim != 2
                                  or labels.shape[-1] != self.num_outputs):
            kind = "multi-label" if self.task == "binary" else "regression"
            raise ValueError(
                f"Labels in `{role}` do not fit a {kind} model with "
                f"{self.num_outputs} outputs: expected (batch, "
                f"{self.num_outputs}) targets. Received: labels of shape "
                f"{labels.shape}"
            )
        if self.task == "binary" and self.multi_output:
            bad = labels[np.asarray(self.invalid(labels))]
            if bad.size:
                # The message earlier versions gave; tests match it.
                raise InvalidLabelError(
                    f"Multi-label targets in `{role}` must be 0 or 1 (a "
                    "multi-hot row per example). Received: "
                    f"target={bad.flat[0].item()!r} in {where}"
                )
            return
        bad = labels[np.asarray(self.invalid(labels))]
        if bad.size:
            raise self.error(bad.flat[0].item(), role, where)

    # ------------------------------------------------------ graph check
    def in_step(self, y):
        """Returns `(safe_y, labels_ok, bad_value)` inside a step.

        `safe_y` has bad labels replaced by 0 so that the loss and the
        metrics compute (and raise nothing) on this step, which the guard
        then does not apply; `bad_value` is the first bad label (float32),
        0 when all are fine. Shapes: `y` any, scalars out.
        """
        if y is None or self.task == "regression":
            return y, tf.constant(True), tf.constant(0.0)
        bad = self.invalid(y)
        flat_bad = tf.reshape(bad, [-1])
        # The first bad position by a min, not tf.argmax (which XLA's CPU
        # backend runs very slowly, see step_guard); size when none.
        size = tf.size(flat_bad, out_type=tf.int32)
        first = tf.reduce_min(tf.concat([tf.where(
            flat_bad, tf.range(size, dtype="int32"), size), [size]], 0))
        labels_ok = tf.equal(first, size)
        # A 0 appended, read when no label is bad (an empty batch too).
        values = tf.concat([tf.cast(tf.reshape(y, [-1]), "float32"),
                            tf.zeros([1])], axis=0)
        bad_value = values[first]
        safe_y = tf.where(bad, tf.zeros_like(y), y)
        return safe_y, labels_ok, bad_value
