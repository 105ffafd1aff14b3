"""Selects the TensorFlow backend for Keras before Keras is first imported.

kerasft's Trainer is a `tf.GradientTape` loop driven by `tf.distribute`, so
it only works when Keras runs on TensorFlow. Keras reads `KERAS_BACKEND` once,
on its first import; afterwards the backend cannot change in that process.
"""

import os
import sys

REQUIRED_BACKEND = "tensorflow"

# TF_CPP_MIN_LOG_LEVEL as the user's environment set it (None if unset),
# read before `select_tensorflow_backend` sets kerasft's default: the CLI
# honours a level the user chose and picks its own otherwise.
ENVIRONMENT_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")


class BackendError(RuntimeError):
    """Raised when Keras is already running on a backend other than TF."""


def select_tensorflow_backend():
    """Makes Keras use TensorFlow, or fails clearly if it is too late.

    If Keras has not been imported yet, sets `KERAS_BACKEND=tensorflow`.
    If it has, checks the backend it chose and raises `BackendError` when it
    is not TensorFlow, saying what to set.
    """
    if "keras" not in sys.modules:
        requested = os.environ.get("KERAS_BACKEND")
        if requested not in (None, "", REQUIRED_BACKEND):
            raise BackendError(
                "kerasft needs the TensorFlow backend for Keras, but the "
                f"environment asks for another. Received: KERAS_BACKEND="
                f"{requested!r}. Set KERAS_BACKEND=tensorflow (or unset it) "
                "before starting Python."
            )
        os.environ["KERAS_BACKEND"] = REQUIRED_BACKEND
        # TF's C++ start-up chatter (oneDNN, CUDA stubs) buries our output;
        # keep warnings and errors unless the user chose a level.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return
    import keras

    loaded = keras.backend.backend()
    if loaded != REQUIRED_BACKEND:
        raise BackendError(
            "kerasft needs the TensorFlow backend for Keras, but Keras was "
            f"already imported with another. Received: backend={loaded!r}. "
            "Set KERAS_BACKEND=tensorflow before the first `import keras` "
            "(or import kerasft first)."
        )
