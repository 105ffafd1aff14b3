"""String labels <-> class ids, stored with a model so both ends agree."""

import re

import numpy as np

from kerasft.checks import is_int

# "0", "17", "-1": labels that sort as numbers, so "10" comes after "9".
_INT_PATTERN = re.compile(r"[+-]?\d+")
# At most this many names are quoted in an error message.
_MAX_NAMES_SHOWN = 20


class LabelMap:
    """Maps label names (the strings in a data file) to class ids and back.

    Class id `i` is `names[i]`. Build it from the labels of a training file
    with `LabelMap.from_labels`, then encode the validation and test labels
    with the same map, so an id means the same class in every split (and in
    the model, whose config can store `get_config()`).

    Args:
        names: list of str. The label names, unique, in class-id order; at
            least one.

    Example:
    ```python
    label_map = LabelMap.from_labels(["pos", "neg", "pos"])
    label_map.names  # ("neg", "pos")
    label_map.encode(["pos", "neg"])  # array([1, 0])
    label_map.decode([0, 1])  # ["neg", "pos"]
    LabelMap.from_config(label_map.get_config()) == label_map  # True
    ```
    """

    def __init__(self, names):
        if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
            raise TypeError(
                "`names` must be a list of str. Received: "
                f"names={names!r} of type {type(names).__name__}"
            )
        names = tuple(names)
        if not names:
            raise ValueError(
                "`names` must hold at least one label. Received: names=[]"
            )
        for name in names:
            if not isinstance(name, str):
                raise TypeError(
                    "`names` must hold only str. Received: names holding "
                    f"{name!r} of type {type(name).__name__}"
                )
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(
                f"`names` must be unique. Received: {repeated} more than "
                "once"
            )
        self.names = names
        self._ids = {name: i for i, name in enumerate(names)}

    @classmethod
    def from_labels(cls, values):
        """Makes the map of the distinct labels in `values`, sorted.

        If every label looks like an integer (`"0"`, `"10"`, `"-1"`) they
        sort as numbers, so `"0"`, `"1"`, ..., `"10"` get ids in that order
        (and a file labelled 0..N-1 keeps its ids); otherwise as strings.

        Args:
            values: iterable of str (or int). The labels, repeats allowed.
        """
        names = {_as_name(value) for value in values}
        if not names:
            raise ValueError(
                "`values` holds no labels. Received: an empty sequence"
            )
        if all(_INT_PATTERN.fullmatch(name) for name in names):
            # Ties ("1" and "01") fall back to the string order: stable.
            return cls(sorted(names, key=lambda name: (int(name), name)))
        return cls(sorted(names))

    @property
    def num_classes(self):
        return len(self.names)

    def encode(self, values, source=None):
        """Returns the class ids of `values` as an int64 array `(N,)`.

        Args:
            values: iterable of str (or int). Labels, each one of `names`.
            source: str, callable or None. Where the labels come from, for
                the error message: a str such as `"test.csv, column
                'label'"`, or a function of the label's position returning
                one (a loader uses it to name the file line).

        Raises:
            ValueError: for a label that is not in `names`.
        """
        ids = []
        for index, value in enumerate(values):
            name = _as_name(value)
            class_id = self._ids.get(name)
            if class_id is None:
                where = source(index) if callable(source) else source
                raise ValueError(
                    f"{where + ': ' if where else ''}unknown label "
                    f"{name!r}; the label map knows {self._shown_names()}. "
                    f"Received: label={name!r}"
                )
            ids.append(class_id)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids):
        """Returns the names of class `ids` (ints in `[0, num_classes)`)."""
        names = []
        for class_id in np.asarray(ids).reshape(-1).tolist():
            if not is_int(class_id) or not 0 <= class_id < len(self.names):
                raise ValueError(
                    "`ids` must be class ids in [0, num_classes="
                    f"{len(self.names)}). Received: id={class_id!r}"
                )
            names.append(self.names[class_id])
        return names

    def get_config(self):
        return {"names": list(self.names)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        if not isinstance(other, LabelMap):
            return NotImplemented
        return self.names == other.names

    def __hash__(self):
        return hash(self.names)

    def __len__(self):
        return len(self.names)

    def __repr__(self):
        return f"LabelMap(names={list(self.names)!r})"

    def _shown_names(self):
        shown = ", ".join(repr(n) for n in self.names[:_MAX_NAMES_SHOWN])
        more = len(self.names) - _MAX_NAMES_SHOWN
        return f"[{shown}{f', ... ({more} more)' if more > 0 else ''}]"


def _as_name(value):
    """A label as its name: str as is, an int as its digits."""
    if isinstance(value, str):
        return str(value)  # np.str_ -> str, for clean reprs
    if is_int(value):
        return str(int(value))
    raise TypeError(
        "Labels must be str (or int). Received: "
        f"{value!r} of type {type(value).__name__}"
    )
