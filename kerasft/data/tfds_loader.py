"""Loads a TensorFlow Datasets data set by name, as (features, label)."""

import contextlib
import difflib

from kerasft.checks import check_path


def load_tfds(name, split="train", data_dir=None, download=False):
    """Loads a `tensorflow_datasets` split as an unbatched dataset.

    Calls `tfds.load(name, split=..., data_dir=..., as_supervised=True)`, so
    the data set must declare `supervised_keys` (most classification sets
    do: `mnist`, `cifar10`, `imdb_reviews`, ...).

    Args:
        name: str. The registered name, optionally with config and version,
            e.g. `"mnist"` or `"mnist:3.*.*"`.
        split: str. A split or slice, e.g. `"train"`, `"test[:10%]"`.
            Defaults to `"train"`.
        data_dir: str, path-like or None. Where prepared data lives.
            Defaults to tfds' own (`~/tensorflow_datasets`).
        download: bool. Download and prepare the data if missing. Defaults to
            `False`: fail fast offline instead of trying the network.

    Returns:
        A `tf.data.Dataset` of `(features, label)` pairs.

    Raises:
        ValueError: `name` is no tfds data set (the message suggests close
            names, not tfds' list of all ~450), or a version or config
            tfds does not have.
        FileNotFoundError: `data_dir` does not exist, or the data set is not
            prepared there and `download` is False.

    Example:

    ```python
    dataset = load_tfds("mnist", split="test", download=True)
    image, label = next(iter(dataset))  # uint8 (28, 28, 1), int64 ()
    ```
    """
    data_dir = _check_arguments(name, data_dir, download)
    # Imported here: tensorflow_datasets adds seconds to `import kerasft`
    # and only this loader needs it.
    import tensorflow_datasets as tfds

    with _short_tfds_errors(tfds, name, data_dir):
        return tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            as_supervised=True,
            download=download,
        )


def load_tfds_info(name, data_dir=None):
    """The `tfds.core.DatasetInfo` of a data set: features, splits, labels.

    Reads the builder's description only (no data is read or downloaded),
    with the same one-line errors as `load_tfds`.

    Args:
        name: str. The registered name, as for `load_tfds`.
        data_dir: str, path-like or None. Where prepared data lives.

    Returns:
        The data set's `DatasetInfo`.

    Example:

    ```python
    info = load_tfds_info("mnist")
    info.features["label"].num_classes  # 10
    ```
    """
    data_dir = _check_arguments(name, data_dir, download=False)
    import tensorflow_datasets as tfds

    with _short_tfds_errors(tfds, name, data_dir):
        return tfds.builder(name, data_dir=data_dir).info


def load_tfds_class_names(name, data_dir=None):
    """The class names of a tfds data set's supervised label.

    Args:
        name: str. The registered name, as for `load_tfds`.
        data_dir: str, path-like or None. Where prepared data lives.

    Returns:
        A list of str, one per class id (tfds names them "0", "1", ... when
        the data set gives only a count).

    Raises:
        ValueError: as `load_tfds_info`, or when the data set has no
            `(features, label)` supervised keys with a class label.
    """
    info = load_tfds_info(name, data_dir=data_dir)
    keys = info.supervised_keys
    label = None
    if isinstance(keys, tuple) and len(keys) == 2 and isinstance(keys[1], str):
        label = info.features[keys[1]]
    if getattr(label, "names", None) is None:
        raise ValueError(
            "`name` must be a tfds classification data set: supervised keys "
            "(features, label) with a class label. Received: "
            f"name={name!r} with supervised_keys={keys!r}"
        )
    return list(label.names)


def _check_arguments(name, data_dir, download):
    """Checks `name` and `data_dir` (before importing tfds); `data_dir` as
    tfds takes it."""
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"`name` must be a non-empty data set name. Received: name={name!r}"
        )
    if data_dir is not None and not download:
        data_dir = check_path("data_dir", data_dir, kind="directory")
    return None if data_dir is None else str(data_dir)


@contextlib.contextmanager
def _short_tfds_errors(tfds, name, data_dir):
    """Turns tfds' long errors into one line each, naming what was asked."""
    try:
        yield
    except tfds.core.registered.DatasetNotFoundError:
        # tfds' own message lists every registered data set (~450 lines).
        known = tfds.list_builders(with_community_datasets=False)
        close = difflib.get_close_matches(name.split(":")[0].split("/")[0],
                                          known, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else (
            " See https://www.tensorflow.org/datasets/catalog/overview for "
            "the names."
        )
        raise ValueError(
            f"`name` is not a tfds data set, registered or in `data_dir`. "
            f"Received: name={name!r}, data_dir={data_dir!r}.{hint}"
        ) from None
    except AssertionError as error:
        if "could not find data" in str(error):
            # tfds knows the data set, but it is not prepared there.
            default = "" if data_dir is not None else (
                " (tfds' default folder, "
                f"{getattr(tfds.core.constants, 'DATA_DIR', '?')})"
            )
            raise FileNotFoundError(
                f"tfds data set {name!r} is not prepared in `data_dir`; pass "
                f"download=True to fetch it. Received: data_dir={data_dir!r}"
                f"{default}"
            ) from None
        # A version tfds does not have, an abstract builder...
        raise ValueError(
            f"tfds cannot load that data set: {str(error).splitlines()[0]} "
            f"Received: name={name!r}"
        ) from None
