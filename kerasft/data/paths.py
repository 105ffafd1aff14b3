"""Finds the shared assets folder (real data and models, never copied)."""

import os
from pathlib import Path


def shared_dir():
    """Returns the folder of shared assets (`../shared` by default).

    `$KERASFT_SHARED` when set; otherwise `<repo>/../shared` found from this
    package's location, or `<cwd>/../shared` when the package is installed
    elsewhere (e.g. into site-packages). The folder is not required to
    exist: loaders given paths inside it raise a clear error if it does not.

    Returns:
        An absolute `pathlib.Path`.

    Example:

    ```python
    images, labels = load_mnist_arrays(shared_dir() / "data" / "mnist")
    ```
    """
    from_env = os.environ.get("KERASFT_SHARED")
    if from_env:
        return Path(from_env).expanduser().resolve()
    # kerasft/data/paths.py -> parents[2] is the repository root.
    from_package = Path(__file__).resolve().parents[2].parent / "shared"
    if from_package.is_dir():
        return from_package
    return (Path.cwd().parent / "shared").resolve()
