"""Loads a folder of images, one subfolder per class."""

import keras
import tensorflow as tf

from kerasft.checks import (
    check_bool,
    check_choice,
    check_int_sequence,
    check_path,
    check_seed,
)
from kerasft.data.checks import check_folder_kwargs

COLOR_MODES = ("grayscale", "rgb", "rgba")


def load_image_folder(
    directory,
    image_size=(256, 256),
    color_mode="rgb",
    shuffle=False,
    seed=None,
    **kwargs,
):
    """Loads `directory/<class_name>/<image>` files as an unbatched dataset.

    A thin wrapper over `keras.utils.image_dataset_from_directory` with
    `batch_size=None`, so it composes with `make_dataset` like every other
    loader, and labels cast to int64 like the other loaders. Class ids follow
    the alphabetical order of the subfolder names, kept in
    `dataset.class_names`.

    Args:
        directory: str or path-like. One subfolder per class.
        image_size: tuple `(height, width)`. Images are resized to it.
            Defaults to `(256, 256)`.
        color_mode: str. `"grayscale"`, `"rgb"` or `"rgba"`. Defaults to
            `"rgb"`.
        shuffle: bool. Shuffle the file order once. Defaults to `False`:
            `make_dataset` shuffles each epoch.
        seed: int or None. Seed for `shuffle` and `validation_split`.
        **kwargs: passed on to `keras.utils.image_dataset_from_directory`,
            e.g. `validation_split=0.2, subset="both"` (returns a pair).

    Returns:
        A `tf.data.Dataset` of `(image, label)`: float32
        `(height, width, channels)` with values 0..255 and int64 `()`, with
        a `class_names` attribute (a pair of them for `subset="both"`).

    Example:

    ```python
    dataset = load_image_folder("flowers/", image_size=(64, 64))
    dataset.class_names  # ['daisy', 'rose', ...]
    ```
    """
    directory = check_path("directory", directory, kind="directory")
    image_size = _check_image_size(image_size)
    check_choice("color_mode", color_mode, COLOR_MODES)
    check_bool("shuffle", shuffle)
    check_seed(seed)
    check_folder_kwargs(kwargs, {
        "batch_size": "it loads unbatched images; batch them with "
                      "make_dataset(..., batch_size=...)",
    }, "load_image_folder")
    datasets = keras.utils.image_dataset_from_directory(
        str(directory),
        image_size=image_size,
        color_mode=color_mode,
        batch_size=None,
        shuffle=shuffle,
        seed=seed,
        **kwargs,
    )
    if isinstance(datasets, (list, tuple)):
        return tuple(_with_int64_labels(dataset) for dataset in datasets)
    return _with_int64_labels(datasets)


def _check_image_size(image_size):
    """`(height, width)` as a pair of positive ints, or raises."""
    try:
        size = check_int_sequence("image_size", image_size, allow_empty=False)
    except ValueError:
        size = ()
    if len(size) != 2:
        raise ValueError(
            "`image_size` must be a pair of positive ints (height, width). "
            f"Received: image_size={image_size!r}"
        )
    return size


def _with_int64_labels(dataset):
    class_names = dataset.class_names
    if dataset.element_spec[1].dtype.is_integer:
        dataset = dataset.map(
            lambda image, label: (image, tf.cast(label, tf.int64)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    # `map` returns a new dataset without the attribute Keras set.
    dataset.class_names = class_names
    return dataset
