"""Loads a TensorFlow Datasets data set by name, as (features, label)."""

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

    Example:

    ```python
    dataset = load_tfds("mnist", split="test", download=True)
    image, label = next(iter(dataset))  # uint8 (28, 28, 1), int64 ()
    ```
    """
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"`name` must be a non-empty data set name. Received: name={name!r}"
        )
    if data_dir is not None and not download:
        data_dir = check_path("data_dir", data_dir, kind="directory")
    # Imported here: tensorflow_datasets adds seconds to `import kerasft`
    # and only this loader needs it.
    import tensorflow_datasets as tfds

    data_dir = None if data_dir is None else str(data_dir)
    try:
        return tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            as_supervised=True,
            download=download,
        )
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(
            f"`name` is not a tfds data set, registered or in `data_dir`. "
            f"Received: name={name!r}, data_dir={data_dir!r}"
        ) from None
    except AssertionError as error:
        # tfds asserts when the data set is known but not prepared there.
        raise FileNotFoundError(
            f"tfds data set {name!r} is not prepared in `data_dir`; pass "
            f"download=True to fetch it. Received: data_dir={data_dir!r} "
            f"({error})"
        ) from None
