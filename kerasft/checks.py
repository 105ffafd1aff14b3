"""Argument checks: one helper per check, one signature order.

Every helper takes `(name, value, ...)`, returns the value converted (an
int, a float, a `Path`) and raises a `ValueError` / `TypeError` whose message
names the argument and ends with what was received, Keras style:
`` `dropout` must be a number in [0, 1). Received: dropout=1.5``.

They run on plain Python values, before any expensive work starts.

Example:
```python
from kerasft.checks import check_int, check_real

epochs = check_int("epochs", 3)
rate = check_real("learning_rate", 5e-5, low=0, low_open=True)
```
"""

import json
import numbers
import os
import zipfile
from pathlib import Path


def is_int(value):
    """True for an int (NumPy ints included), False for bools."""
    # bool is an Integral, but `num_layers=True` is a bug, not a count.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value):
    """True for a real number (ints, floats, NumPy scalars), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name, value, minimum=1, maximum=None, why=None):
    """Returns `value` as an int in `[minimum, maximum]`, or raises.

    Args:
        name: str. The argument's name, quoted in the message.
        value: the value received.
        minimum: int. Smallest accepted value. Defaults to `1`.
        maximum: int or None. Largest accepted value; None for no bound.
        why: str or None. Where the bounds come from, for the message
            (e.g. "the backbone has 3 transformer layers").
    """
    if not is_int(value) or value < minimum or (
        maximum is not None and value > maximum
    ):
        bound = f">= {minimum}" if maximum is None else (
            f"from {minimum} to {maximum}"
        )
        reason = f" ({why})" if why else ""
        raise ValueError(
            f"`{name}` must be an int {bound}{reason}. "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_optional_int(name, value, minimum=1, maximum=None):
    """`check_int`, or None when `value` is None."""
    return None if value is None else check_int(name, value, minimum, maximum)


def check_batch_size(value, name="batch_size"):
    """Returns `value` as a batch size (an int >= 1), or raises.

    The one check for every function that takes a batch size: 0 is not
    "the default", and a negative or float size must not reach tf.data.
    """
    if not is_int(value) or value < 1:
        raise ValueError(
            f"`{name}` must be an int >= 1 (examples per batch). "
            f"Received: {name}={value!r}"
        )
    return int(value)


def check_optional_batch_size(value, name="batch_size"):
    """`check_batch_size`, or None when `value` is None (the default)."""
    return None if value is None else check_batch_size(value, name)


def check_int_sequence(name, value, allow_empty=True):
    """Returns `value` as a tuple of positive ints, or raises."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(
            f"`{name}` must be a list or tuple of positive integers. "
            f"Received: {name}={value!r}"
        )
    values = tuple(value)
    if not all(is_int(v) and v > 0 for v in values):
        raise ValueError(
            f"`{name}` must contain only positive integers. "
            f"Received: {name}={value!r}"
        )
    if not values and not allow_empty:
        raise ValueError(
            f"`{name}` must contain at least one value. "
            f"Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


def check_real(
    name, value, low=None, high=None, low_open=False, high_open=False
):
    """Returns `value` as a float in the interval given, or raises.

    Args:
        name: str. The argument's name.
        value: the value received.
        low, high: float or None. The bounds; None for no bound (NaN is
            refused either way).
        low_open, high_open: bool. Whether the bound itself is excluded.
    """
    ok = is_real(value) and value == value  # NaN != NaN
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if high is None and low is not None:
            expected = f"{'>' if low_open else '>='} {low}"
        elif low is None and high is not None:
            expected = f"{'<' if high_open else '<='} {high}"
        else:
            left = "(" if low_open or low is None else "["
            right = ")" if high_open or high is None else "]"
            expected = (
                f"in {left}{'-inf' if low is None else low}, "
                f"{'inf' if high is None else high}{right}"
            )
        raise ValueError(
            f"`{name}` must be a number {expected}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_dropout(value, name="dropout"):
    """Returns a dropout rate as a float in [0, 1), or raises."""
    if not is_real(value) or not 0 <= value < 1:
        raise ValueError(
            f"`{name}` is the fraction of units dropped during training. "
            f"Received: {name}={value!r} (expected 0 <= {name} < 1)"
        )
    return float(value)


def check_fraction(name, value):
    """Returns a fraction of the samples as a float in [0, 1), or raises."""
    if not is_real(value) or not 0 <= value < 1:
        raise ValueError(
            f"`{name}` must be a fraction of the samples. Received: "
            f"{name}={value!r} (expected 0 <= {name} < 1)"
        )
    return float(value)


def check_choice(name, value, choices):
    """Returns `value`, or raises listing the accepted `choices`."""
    if not isinstance(value, str) or value not in choices:
        accepted = ", ".join(repr(c) for c in choices)
        raise ValueError(
            f"`{name}` must be one of {accepted}. Received: {name}={value!r}"
        )
    return value


def check_bool(name, value):
    """Returns `value`, or raises unless it is a bool."""
    if not isinstance(value, bool):
        raise TypeError(
            f"`{name}` must be True or False. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    return value


def check_path(name, path, kind="file"):
    """Returns `path` as a `Path` that exists as a file or folder, or raises.

    Args:
        name: str. The argument's name.
        path: str or path-like.
        kind: `"file"`, `"directory"` or `"any"`.

    Raises:
        TypeError: if `path` is not a str or path-like.
        FileNotFoundError: if it does not exist, or is not of that kind.
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(
            f"`{name}` must be a path (a non-empty str or os.PathLike). "
            f"Received: {name}={path!r} of type {type(path).__name__}"
        )
    path = Path(path).expanduser()
    if kind == "any":
        is_right_kind = path.exists()
    else:
        is_right_kind = path.is_file() if kind == "file" else path.is_dir()
    if not is_right_kind:
        found = "not a " + kind if path.exists() else "does not exist"
        raise FileNotFoundError(
            f"`{name}` must be an existing {kind if kind != 'any' else 'path'}"
            f". Received: {name}='{path}' ({found})"
        )
    return path


def check_seed(value, name="seed", allow_none=True):
    """Returns a random seed (an int >= 0, or None), or raises.

    The one check for every seed: a str or float seed would otherwise fail
    deep inside TensorFlow, NumPy or scikit-learn, and a negative one in
    some of them but not others.
    """
    if value is None and allow_none:
        return None
    if not is_int(value) or value < 0:
        accepted = "an int >= 0" + (" or None" if allow_none else "")
        raise ValueError(
            f"`{name}` must be {accepted}. Received: {name}={value!r}"
        )
    return int(value)


def check_keras_file(name, path):
    """Returns `path` as a `Path` to a readable `.keras` archive, or raises.

    Keras reports a truncated or foreign file as "File not found"; this
    says what is wrong instead. Cheap: it reads the zip's directory and its
    small `config.json`, not the weights, and needs no TensorFlow.

    Args:
        name: str. The argument's name.
        path: str or path-like. The `.keras` file.

    Raises:
        TypeError: if `path` is not a str or path-like.
        FileNotFoundError: if nothing is at `path`.
        ValueError: if `path` is a folder, or a file that is not a zip
            holding a `config.json` (a `.keras` archive).
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(
            f"`{name}` must be the path of a .keras file (a non-empty str or "
            f"os.PathLike). Received: {name}={path!r} of type "
            f"{type(path).__name__}"
        )
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"No saved model at that path. Received: {name}='{path}' (no "
            "such file)"
        )
    if not path.is_file():
        raise ValueError(
            f"`{name}` must be a .keras file; that path is a folder. "
            f"Received: {name}='{path}'"
        )
    problem = "an empty file" if path.stat().st_size == 0 else None
    try:
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                problem = "a zip file without config.json"
            else:
                json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, EOFError):
        # No end-of-archive record (or a bad one): cut short, or no zip.
        problem = problem or "not a zip file, or one cut short"
    except (ValueError, UnicodeDecodeError):
        problem = "its config.json is not JSON"
    if problem:
        size = path.stat().st_size
        raise ValueError(
            f"`{name}` exists but is not a valid .keras archive ({problem}): "
            "a truncated download or copy, or not a .keras file. Received: "
            f"{name}='{path}' ({size:,} bytes)"
        )
    return path
