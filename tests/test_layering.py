"""The house's layering: data never imports models, models never data.

Each check runs in a fresh interpreter that loads one package of kerasft
without running `kerasft/__init__.py` (which imports everything), then
reads `sys.modules`.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import importlib, json, os, sys, types
os.environ["KERAS_BACKEND"] = "tensorflow"
# A bare `kerasft` package: `import kerasft.X` runs X's imports only.
package = types.ModuleType("kerasft")
package.__path__ = [os.path.join(sys.argv[1], "kerasft")]
sys.modules["kerasft"] = package
importlib.import_module(sys.argv[2])
print(json.dumps(sorted(m for m in sys.modules if m.startswith("kerasft."))))
"""


def loaded_by(module):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT), module],
        capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_models_do_not_import_data_and_data_imports_no_model():
    models = loaded_by("kerasft.models")
    assert "kerasft.models.text_classifier" in models  # the probe works
    assert not [m for m in models if m.startswith("kerasft.data")], models
    data = loaded_by("kerasft.data")
    assert "kerasft.data.text_pipeline" in data
    assert not [m for m in data if m.startswith("kerasft.models")], data
    # Presets sit below both: they import neither.
    presets = loaded_by("kerasft.presets")
    assert not [
        m for m in presets
        if m.startswith(("kerasft.data", "kerasft.models"))
    ], presets
