"""The `kerasft` command line end to end.

The happy paths run `python -m kerasft.cli` in a subprocess, as a user
would (exit code, printed figures, files written). Each subprocess pays
TensorFlow's start-up (~5 s), so `train` runs once for the module and most
bad-input cases call `kerasft.cli.main(argv)` in this process; one of them
also goes through a subprocess, to check the exit code reaches the shell.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kerasft import cli

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd):
    """Runs `python -m kerasft.cli ARGS`; returns the CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])
    )
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # keep TensorFlow's C++ logs out
    return subprocess.run(
        [sys.executable, "-m", "kerasft.cli", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


def _float_after(label, text):
    match = re.search(re.escape(label) + r"\s*([0-9.]+)", text)
    assert match, f"{label!r} not in the output:\n{text}"
    return float(match.group(1))


@pytest.mark.slow
def test_quickstart_trains_saves_and_fine_tunes(tmp_path):
    result = run_cli(
        "quickstart", "--output-dir", "run", "--pretrain-epochs", "3",
        "--finetune-epochs", "3", "--verbose", "2", cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    pretrain = _float_after("Pretrain (digits 0-4) test accuracy:", out)
    finetune = _float_after("Fine-tune (digits 5-9) test accuracy:", out)
    # The parameter table: the frozen extractor has no trainable weights.
    assert "total trainable" in out
    assert re.search(r"feature_extractor\s+[\d,]+\s+0\n", out), out

    output_dir = tmp_path / "run"
    for name in ("pretrained.keras", "finetuned.keras", "results.json"):
        assert (output_dir / name).is_file(), name
    for stage in ("pretrain", "finetune"):
        for split in ("train", "validation"):
            events = list((output_dir / "logs" / stage / split).glob(
                "events.out.tfevents.*"))
            assert events, f"no TensorBoard events in logs/{stage}/{split}"
        # The run's settings (hparams, config text) beside train/.
        assert list((output_dir / "logs" / stage).glob(
            "events.out.tfevents.*")), f"no config events in logs/{stage}"
    assert "TensorBoard logs: run/logs" in out, out[-500:]
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["pretrain_test_accuracy"] == pytest.approx(pretrain,
                                                            abs=1e-4)
    assert saved["finetune_test_accuracy"] == pytest.approx(finetune,
                                                            abs=1e-4)
    # 3 epochs each: well above chance (0.2 for 5 classes), not converged.
    assert pretrain > 0.5
    assert finetune > 0.25


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """`kerasft train` on digits with the conv model, run once."""
    cwd = tmp_path_factory.mktemp("cli_train")
    result = run_cli(
        "train", "--dataset", "digits", "--model", "conv", "--epochs", "2",
        "--steps-per-execution", "4", "--output-dir", "run", "--verbose",
        "0", cwd=cwd,
    )
    return cwd, result


def test_train_then_evaluate_digits(trained_run):
    cwd, trained = trained_run
    assert trained.returncode == 0, trained.stderr[-3000:]
    train_accuracy = _float_after('"accuracy":', trained.stdout)
    assert "Confusion matrix" in trained.stdout
    output_dir = cwd / "run"
    for name in ("model.keras", "history.csv", "results.json"):
        assert (output_dir / name).is_file(), name
    assert list((output_dir / "logs").rglob("events.out.tfevents.*"))
    saved = json.loads((output_dir / "results.json").read_text())
    assert saved["results"]["accuracy"] == pytest.approx(train_accuracy,
                                                         abs=1e-4)

    evaluated = run_cli("evaluate", "run/model.keras", "--dataset", "digits",
                        cwd=cwd)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    accuracy = _float_after('"accuracy":', evaluated.stdout)
    # Same seed, same test split, same weights: the same accuracy.
    assert accuracy == pytest.approx(train_accuracy, abs=1e-4)
    assert 0.0 <= accuracy <= 1.0


def test_evaluate_a_missing_model_exits_2_naming_it(tmp_path):
    result = run_cli("evaluate", "missing.keras", cwd=tmp_path)
    assert result.returncode == 2
    assert "missing.keras" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_with_zero_epochs_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "--epochs" in capsys.readouterr().err


def test_train_on_an_unknown_dataset_exits_2_naming_it(tmp_path, capsys):
    code = cli.main(["train", "--dataset", "nope", "--output-dir",
                     str(tmp_path / "run"), "--verbose", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'nope'" in err
    assert "digits" in err  # and lists the names it knows
