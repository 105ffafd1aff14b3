"""Random image augmentation from Keras preprocessing layers."""

import keras

from kerasft.checks import check_choice, check_seed

FLIP_MODES = (None, "horizontal", "vertical", "horizontal_and_vertical")
# What keras' RandomRotation and RandomZoom take.
FILL_MODES = ("constant", "reflect", "wrap", "nearest")


def image_augmentation(
    rotation_factor=0.05,
    zoom_factor=0.1,
    flip_mode=None,
    noise_stddev=0.0,
    fill_mode="constant",
    seed=None,
):
    """Builds a `keras.Sequential` of random image transforms.

    The layers only transform when called with `training=True` and are the
    identity otherwise, so the same object can sit at the front of a model
    or be passed as `make_dataset(..., augment=...)` for the training split
    only. Apply it to images already scaled (the noise is in those units).
    A factor of 0 (or `flip_mode=None`) leaves that layer out.

    Args:
        rotation_factor: float. Maximum rotation as a fraction of a full
            turn (`0.05` is +/-18 degrees). Defaults to `0.05`.
        zoom_factor: float. Maximum zoom in or out, as a fraction of the
            height and width. Defaults to `0.1`.
        flip_mode: str or None. `"horizontal"`, `"vertical"`,
            `"horizontal_and_vertical"`, or None for no flip. Defaults to
            None, since flipping a digit can change its class.
        noise_stddev: float. Std of additive Gaussian noise. Defaults to
            `0.0` (no noise).
        fill_mode: str. How rotation and zoom fill new pixels; `"constant"`
            fills with 0 (a black background, right for digits). Defaults to
            `"constant"`.
        seed: int or None. Base seed; each layer gets `seed + i`.

    Returns:
        A `keras.Sequential` named `"image_augmentation"`.

    Example:

    ```python
    images = np.random.rand(2, 28, 28, 1).astype("float32")  # (b, h, w, c)
    augment = image_augmentation(rotation_factor=0.1, seed=0)
    augment(images, training=True)   # rotated and zoomed, same shape
    augment(images, training=False)  # unchanged
    ```
    """
    for name, value in (
        ("rotation_factor", rotation_factor),
        ("zoom_factor", zoom_factor),
        ("noise_stddev", noise_stddev),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(
                f"`{name}` must be a number. Received: {name}={value!r}"
            )
        if value < 0 or (name != "noise_stddev" and value >= 1):
            upper = "" if name == "noise_stddev" else " < 1"
            raise ValueError(
                f"`{name}` is out of range. Received: {name}={value!r} "
                f"(expected 0 <= {name}{upper})"
            )
    if flip_mode not in FLIP_MODES:
        raise ValueError(
            f"`flip_mode` must be one of {FLIP_MODES}. Received: "
            f"flip_mode={flip_mode!r}"
        )
    check_choice("fill_mode", fill_mode, FILL_MODES)
    check_seed(seed)

    def layer_seed(index):
        return None if seed is None else seed + index

    layers = []
    if flip_mode is not None:
        layers.append(
            keras.layers.RandomFlip(flip_mode, seed=layer_seed(0), name="flip")
        )
    if rotation_factor > 0:
        layers.append(
            keras.layers.RandomRotation(
                rotation_factor,
                fill_mode=fill_mode,
                seed=layer_seed(1),
                name="rotation",
            )
        )
    if zoom_factor > 0:
        layers.append(
            keras.layers.RandomZoom(
                zoom_factor,
                fill_mode=fill_mode,
                seed=layer_seed(2),
                name="zoom",
            )
        )
    if noise_stddev > 0:
        layers.append(
            keras.layers.GaussianNoise(
                noise_stddev, seed=layer_seed(3), name="noise"
            )
        )
    return keras.Sequential(layers, name="image_augmentation")
