"""String labels <-> class ids, stored with a model so both ends agree.

One label per example (`encode`: class ids) or several (`encode_multi_hot`:
multi-hot rows); in a file the labels are written as names (`"joy"`) or as
ids into a known list of names (`"17"`, `from_ids=True`).
"""

import re

import numpy as np

from kerasft.checks import check_bool, check_path, check_real, is_int

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
    # Several labels per example: multi-hot rows (num_examples, 2).
    label_map.encode_multi_hot([["pos"], [], ["neg", "pos"]])
    # array([[0., 1.], [0., 0.], [1., 1.]], dtype=float32)
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

    @classmethod
    def from_file(cls, path):
        """Reads the names from a text file, one per line, in id order.

        Line `i + 1` is the name of class id `i` (as in GoEmotions'
        `emotions.txt`); spaces around a name and the final line break are
        ignored. A blank line in between would shift every later id, so it
        is an error naming the file and line.

        Args:
            path: str or path-like. The file of names.
        """
        path = check_path("path", path)
        lines = path.read_text(encoding="utf-8-sig").rstrip("\r\n")
        names = [line.strip() for line in lines.splitlines()]
        for number, name in enumerate(names, start=1):
            if not name:
                raise ValueError(
                    f"'{path}' line {number}: a blank line among the label "
                    "names (line i + 1 names class id i, so it would shift "
                    f"the ids after it). Received: path='{path}'"
                )
        return cls(names)

    @property
    def num_classes(self):
        return len(self.names)

    def encode(self, values, source=None, from_ids=False):
        """Returns the class ids of `values` as an int64 array `(N,)`.

        Args:
            values: iterable of str (or int). Labels, each one of `names`;
                with `from_ids`, class ids instead.
            source: str, callable or None. Where the labels come from, for
                the error message: a str such as `"test.csv, column
                'label'"`, or a function of the label's position returning
                one (a loader uses it to name the file line).
            from_ids: bool. The values are class ids into `names` (ints or
                their digits, `"17"`), not names. Defaults to `False`.

        Raises:
            ValueError: for a label that is not in `names` (or, with
                `from_ids`, not an int in `[0, num_classes)`).
        """
        check_bool("from_ids", from_ids)
        if isinstance(values, (str, bytes)):
            # Iterating a str would encode its characters one by one.
            raise TypeError(
                "`values` must be a list of labels, not one str. Received: "
                f"values={values!r} (pass [{values!r}] for one label)"
            )
        return np.array(
            [
                self._class_id(value, source, index, from_ids)
                for index, value in enumerate(values)
            ],
            dtype=np.int64,
        )

    def encode_multi_hot(self, rows, source=None, from_ids=False):
        """Returns the labels of each row as a float32 multi-hot array.

        Row `i` of the result `(N, num_classes)` is 1 at the class ids of
        `rows[i]` and 0 elsewhere; an empty row (no label) is all zeros, a
        label repeated in a row counts once.

        Args:
            rows: iterable of lists of str (or int). The labels of each
                example, each one of `names`; with `from_ids`, class ids.
            source: str, callable or None. As in `encode`; a callable gets
                the row's position.
            from_ids: bool. As in `encode`. Defaults to `False`.

        Raises:
            ValueError: for a label that is not in `names` (or not a class
                id, with `from_ids`).
        """
        check_bool("from_ids", from_ids)
        if isinstance(rows, (str, bytes)):
            raise TypeError(
                "`rows` must be a list of label lists, one per example. "
                f"Received: rows={rows!r}"
            )
        multi_hot = []
        for index, row in enumerate(rows):
            if isinstance(row, (str, bytes)) or not hasattr(row, "__iter__"):
                raise TypeError(
                    "`rows` must hold one list of labels per example. "
                    f"Received: rows[{index}]={row!r} of type "
                    f"{type(row).__name__}"
                )
            hot = np.zeros(len(self.names), dtype=np.float32)
            for value in row:
                hot[self._class_id(value, source, index, from_ids)] = 1.0
            multi_hot.append(hot)
        if not multi_hot:
            return np.zeros((0, len(self.names)), dtype=np.float32)
        return np.stack(multi_hot)

    def decode_multi_hot(self, multi_hot, threshold=0.5):
        """Returns the names in each row of `multi_hot` (scores >= threshold).

        Args:
            multi_hot: array-like `(N, num_classes)`: multi-hot targets or
                per-class probabilities.
            threshold: float. A class is in a row when its value is at least
                this. Defaults to `0.5`.
        """
        threshold = check_real("threshold", threshold)
        array = np.asarray(multi_hot)
        if array.ndim != 2 or array.shape[1] != len(self.names):
            raise ValueError(
                "`multi_hot` must have shape (num_examples, num_classes="
                f"{len(self.names)}). Received: multi_hot with shape "
                f"{array.shape}"
            )
        return [
            [self.names[i] for i in np.flatnonzero(row >= threshold)]
            for row in array
        ]

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

    def _class_id(self, value, source, index, from_ids):
        """The class id of one label, or a ValueError saying where."""
        name = _as_name(value)
        if from_ids:
            class_id = (
                int(name) if _INT_PATTERN.fullmatch(name) else None
            )
            if class_id is not None and 0 <= class_id < len(self.names):
                return class_id
            where = source(index) if callable(source) else source
            problem = (
                "not a label id" if class_id is None else "out of range"
            )
            raise ValueError(
                f"{where + ': ' if where else ''}label id {name!r} is "
                f"{problem}: ids index the {len(self.names)} label names, "
                f"so they are ints from 0 to {len(self.names) - 1}. "
                f"Received: label={name!r}"
            )
        class_id = self._ids.get(name)
        if class_id is None:
            where = source(index) if callable(source) else source
            raise ValueError(
                f"{where + ': ' if where else ''}unknown label "
                f"{name!r}; the label map knows {self._shown_names()}. "
                f"Received: label={name!r}"
            )
        return class_id

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
