from pathlib import Path

import kerasft
from kerasft.data import shared_dir


def test_env_var_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("KERASFT_SHARED", str(tmp_path))
    assert shared_dir() == tmp_path.resolve()


def test_default_is_shared_beside_the_repository(monkeypatch):
    monkeypatch.delenv("KERASFT_SHARED", raising=False)
    repo = Path(kerasft.__file__).resolve().parents[1]
    expected = repo.parent / "shared"
    if not expected.is_dir():
        # Installed elsewhere: falls back to the working directory's.
        expected = Path.cwd().parent.resolve() / "shared"
    assert shared_dir() == expected
    assert shared_dir().is_absolute()
