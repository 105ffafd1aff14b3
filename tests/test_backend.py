"""Importing kerasft selects TensorFlow, or says clearly why it cannot."""

import os
import subprocess
import sys


def _run(code, **env):
    environment = {k: v for k, v in os.environ.items()
                   if k != "KERAS_BACKEND"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], env=environment,
                          capture_output=True, text=True, timeout=120)


def test_import_selects_the_tensorflow_backend():
    result = _run("import kerasft, keras; print(keras.backend.backend())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "tensorflow"


def test_keras_already_on_another_backend_fails_with_what_to_set():
    # Another real backend (jax, torch) is not installed here, so Keras'
    # answer is stubbed after a real import; the check reads only that.
    code = (
        "import keras; keras.backend.backend = lambda: 'jax'\n"
        "from kerasft.backend import select_tensorflow_backend\n"
        "select_tensorflow_backend()"
    )
    result = _run(code)
    assert result.returncode != 0
    assert "BackendError" in result.stderr
    assert "backend='jax'" in result.stderr
    assert "KERAS_BACKEND=tensorflow" in result.stderr


def test_environment_asking_for_another_backend_fails_before_import():
    result = _run("import kerasft", KERAS_BACKEND="jax")
    assert result.returncode != 0
    assert "KERAS_BACKEND='jax'" in result.stderr
