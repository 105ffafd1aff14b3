"""Hardening of the `kerasft` command line and the loaders behind it.

- `kerasft --help`, `kerasft CMD --help` and every flag error answer without
  importing TensorFlow (checked in a fresh interpreter's `sys.modules`, not
  by the clock), and `import kerasft` stays light while its API still loads.
- TensorFlow's C++ log lines are hidden unless `--tf-logs` or the user's own
  TF_CPP_MIN_LOG_LEVEL asks for them.
- Integer, fraction and list flags are argparse errors naming the flag.
- An unknown tfds name is one line, not tfds' list of ~450 data sets.
- A broken `.keras` file is one line naming it, not Keras' "File not found".
"""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kerasft import cli

REPO_ROOT = Path(__file__).resolve().parents[1]

# Runs the CLI as the console script does, then reports what got imported.
CLI_PROBE = """
import json, os, runpy, sys
sys.argv = ["kerasft", *json.loads(sys.argv[1])]
try:
    runpy.run_module("kerasft.cli", run_name="__main__")
    code = 0
except SystemExit as exit:
    code = exit.code
print(json.dumps({
    "code": code,
    "tensorflow": "tensorflow" in sys.modules,
    "keras": "keras" in sys.modules,
    "level": os.environ.get("TF_CPP_MIN_LOG_LEVEL"),
}))
"""


def run_probe(code, *args, cwd=None, **env):
    """Runs `python -c code args` in a fresh interpreter; (result, report)."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=environment,
        capture_output=True, text=True, timeout=300,
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    return result, json.loads(result.stdout.strip().splitlines()[-1])


def run_cli(*args, cwd=None, **env):
    return run_probe(CLI_PROBE, json.dumps(list(args)), cwd=cwd, **env)


def write_truncated_keras(path):
    """A zip laid out like a `.keras` file, cut in half."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "X"}))
        archive.writestr("model.weights.h5", b"\0" * 4096)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


# --- No TensorFlow before the flags are parsed -------------------------------


@pytest.mark.parametrize("args, code, printed", [
    (["--help"], 0, "--tf-logs"),
    (["train", "--help"], 0, "--hidden-units"),
    (["pretrain", "--help"], 0, "--num-layers"),
    (["train", "--hidden-units", "abc"], 2, "argument --hidden-units"),
    (["finetune", "--preset", "p", "--test-fraction", "1.5"], 2,
     "argument --test-fraction"),
    (["pretrain", "--num-layers", "0"], 2, "argument --num-layers"),
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
])
def test_help_and_flag_errors_start_no_tensorflow(args, code, printed):
    result, report = run_cli(*args)
    assert report["code"] == code, result.stderr[-2000:]
    assert printed in result.stdout + result.stderr
    assert not report["tensorflow"], "the CLI imported TensorFlow"
    assert not report["keras"], "the CLI imported Keras"
    # Nothing of TensorFlow's start-up either.
    assert "I0000" not in result.stderr and "oneDNN" not in result.stderr


def test_bad_keras_file_is_refused_before_tensorflow_starts(tmp_path):
    write_truncated_keras(tmp_path / "broken.keras")
    result, report = run_cli("evaluate", "broken.keras", cwd=tmp_path)
    assert report["code"] == 2
    assert not report["tensorflow"]
    size = (tmp_path / "broken.keras").stat().st_size
    assert result.stderr.splitlines() == [
        "kerasft evaluate: error: `model_path` exists but is not a valid "
        ".keras archive (not a zip file, or one cut short): a truncated "
        "download or copy, or not a .keras file. Received: "
        f"model_path='broken.keras' ({size:,} bytes)"
    ]


def test_import_kerasft_is_light_and_its_api_loads_on_use():
    code = """
import json, sys
import kerasft
light = "tensorflow" not in sys.modules
listed = {"Trainer", "data", "TextClassifier", "freeze"} <= set(dir(kerasft))
from kerasft import Trainer
import keras
print(json.dumps({
    "light": light,
    "listed": listed,
    "trainer": Trainer is kerasft.training.Trainer,
    "data": callable(kerasft.data.load_tfds),
    # Keras finds kerasft's classes in a .keras file after `import keras`.
    "registered": keras.saving.get_registered_object(
        "kerasft>FeedforwardNetwork") is kerasft.FeedforwardNetwork,
    "backend": keras.backend.backend(),
}))
"""
    result, report = run_probe(code)
    assert report == {"light": True, "listed": True, "trainer": True,
                      "data": True, "registered": True,
                      "backend": "tensorflow"}, result.stderr[-2000:]


def test_bare_import_kerasft_then_keras_registers_its_classes():
    # The order a user script has: kerasft's classes are not imported by
    # name, yet a saved kerasft model must load.
    code = """
import json
import kerasft, keras
names = ["kerasft>TextClassifier", "kerasft>LayerwiseAdamW", "kerasft>F1Score"]
print(json.dumps([keras.saving.get_registered_object(n) is not None
                  for n in names]))
"""
    result, report = run_probe(code)
    assert report == [True, True, True], result.stderr[-2000:]


# --- TensorFlow's C++ logs ----------------------------------------------------


def test_tensorflow_start_up_lines_are_hidden_by_default(tmp_path):
    # `--dataset nope` is refused after TensorFlow has started.
    result, report = run_cli("train", "--dataset", "nope", "--output-dir",
                             str(tmp_path / "run"), "--verbose", "0")
    assert report["code"] == 2
    assert report["tensorflow"]
    assert report["level"] == "3"
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("kerasft train: error: Unknown dataset.")


def test_tf_logs_and_a_users_level_are_kept(tmp_path):
    result, report = run_cli("train", "--tf-logs", "--dataset", "nope",
                             "--output-dir", str(tmp_path / "run"))
    assert report["code"] == 2
    assert report["level"] == "0"  # TensorFlow's own default: all lines
    assert result.stderr.splitlines()[-1].startswith("kerasft train: error:")
    # A level the user set is theirs: kept, and the start-up lines below
    # it hidden too (TensorFlow prints those before reading the level).
    result, report = run_cli("train", "--dataset", "nope", "--output-dir",
                             str(tmp_path / "run"), TF_CPP_MIN_LOG_LEVEL="1")
    assert report["code"] == 2
    assert report["level"] == "1"
    assert not [line for line in result.stderr.splitlines()
                if cli._hidden_log_line(line, 1)], result.stderr[-3000:]


@pytest.mark.parametrize("line, level, hidden", [
    ("I0000 00:00:1796194208.924037    3015 cudart_stub.cc:31] Could not "
     "find cuda drivers on your machine, GPU will not be used.", 3, True),
    ("I0000 00:00:1796194210.558511    3015 port.cc:153] oneDNN custom "
     "operations are on.", 1, True),
    ("E0000 00:00:1796194249.385697    3494 cuda_platform.cc:52] failed "
     "call to cuInit: UNKNOWN ERROR (303)", 3, True),
    ("E0000 00:00:1796194249.385697    3494 cuda_platform.cc:52] failed "
     "call to cuInit: UNKNOWN ERROR (303)", 2, False),
    ("W1114 09:32:22.280168   13509 gpu_device.cc:2344] Cannot dlopen some "
     "GPU libraries.", 2, True),
    ("2019-08-26 11:45:17.907378: I tensorflow/stream_executor/platform/"
     "default/dso_loader.cc:44] Successfully opened dynamic library", 1,
     True),
    ("WARNING: All log messages before absl::InitializeLog() is called are "
     "written to STDERR", 1, True),
    # Python's own stderr is never TensorFlow's log.
    ("/x/y.py:3: UserWarning: something the user must see", 3, False),
    ("Traceback (most recent call last):", 3, False),
    ("F0000 00:00:1.0 1 check.cc:1] Check failed: fatal", 3, False),
])
def test_which_stderr_lines_are_tensorflow_logs(line, level, hidden):
    assert cli._hidden_log_line(line, level) is hidden


# --- Flags: argparse errors naming the flag -----------------------------------


@pytest.mark.parametrize("args, message", [
    (["train", "--hidden-units", "abc"],
     "argument --hidden-units: must be comma-separated integers >= 1, the "
     "hidden layer sizes, e.g. 256,128 ('' for none). Received: 'abc'"),
    (["train", "--hidden-units", "64,,x"],
     "argument --hidden-units: must be comma-separated integers >= 1, the "
     "hidden layer sizes, e.g. 256,128 ('' for none). Received: '64,,x'"),
    (["train", "--hidden-units", "64,0"], "Received: '64,0'"),
    (["train", "--hidden-units", "64,-8"], "Received: '64,-8'"),
    (["train", "--epochs", "0"],
     "argument --epochs: must be an integer >= 1. Received: '0'"),
    (["train", "--epochs", "1.5"],
     "argument --epochs: must be an integer >= 1. Received: '1.5'"),
    (["train", "--batch-size", "-3"],
     "argument --batch-size: must be an integer >= 1. Received: '-3'"),
    (["train", "--learning-rate", "0"],
     "argument --learning-rate: must be a number > 0. Received: '0'"),
    (["train", "--learning-rate", "nan"],
     "argument --learning-rate: must be a number > 0. Received: 'nan'"),
    (["train", "--dropout", "1"],
     "argument --dropout: must be a number in [0, 1). Received: '1'"),
    (["train", "--seed", "-1"],
     "argument --seed: must be an integer in [0, 4294967295]. "
     "Received: '-1'"),
    (["train", "--steps-per-execution", "0"], "argument --steps-per-"
     "execution: must be an integer >= 1"),
    (["evaluate", "m.keras", "--batch-size", "0"],
     "argument --batch-size: must be an integer >= 1. Received: '0'"),
    (["quickstart", "--pretrain-epochs", "0"],
     "argument --pretrain-epochs: must be an integer >= 1"),
    (["quickstart", "--seed", "x"],
     "argument --seed: must be an integer in [0, 4294967295]. "
     "Received: 'x'"),
    (["finetune", "--preset", "p", "--test-fraction", "1.5"],
     "argument --test-fraction: must be a number in [0, 1). "
     "Received: '1.5'"),
    (["finetune", "--preset", "p", "--test-fraction", "1"],
     "argument --test-fraction: must be a number in [0, 1). Received: '1'"),
    (["finetune", "--preset", "p", "--validation-fraction", "-0.1"],
     "argument --validation-fraction: must be a number in [0, 1). "
     "Received: '-0.1'"),
    (["finetune", "--preset", "p", "--layer-decay", "0"],
     "argument --layer-decay: must be a number in (0, 1]. Received: '0'"),
    (["finetune", "--preset", "p", "--layer-decay", "1.5"],
     "argument --layer-decay: must be a number in (0, 1]."),
    (["finetune", "--preset", "p", "--top-k", "0"],
     "argument --top-k: must be an integer >= 1. Received: '0'"),
    (["finetune", "--preset", "p", "--max-train-examples", "0"],
     "argument --max-train-examples: must be an integer >= 1"),
    (["params", "p", "--lora-rank", "x"],
     "argument --lora-rank: must be an integer >= 1. Received: 'x'"),
    (["pretrain", "--num-layers", "0"],
     "argument --num-layers: must be an integer >= 1. Received: '0'"),
    (["pretrain", "--hidden-dim", "-8"],
     "argument --hidden-dim: must be an integer >= 1. Received: '-8'"),
    (["pretrain", "--sequence-length", "2"],
     "argument --sequence-length: must be an integer >= 3. Received: '2'"),
    (["pretrain", "--vocabulary-size", "abc"],
     "argument --vocabulary-size: must be an integer >= 1. "
     "Received: 'abc'"),
    (["pretrain", "--max-steps", "0"],
     "argument --max-steps: must be an integer >= 1"),
    (["pretrain", "--checkpoint-steps", "0"],
     "argument --checkpoint-steps: must be an integer >= 1"),
    (["pretrain", "--warmup-fraction", "1"],
     "argument --warmup-fraction: must be a number in [0, 1)."),
    (["pretrain", "--weight-decay", "-0.1"],
     "argument --weight-decay: must be a number >= 0. Received: '-0.1'"),
    (["pretrain", "--dropout", "1.0"],
     "argument --dropout: must be a number in [0, 1). Received: '1.0'"),
    (["pretrain", "--learning-rate", "inf"],
     "argument --learning-rate: must be a number > 0. Received: 'inf'"),
])
def test_bad_flag_values_are_argparse_errors_naming_the_flag(
        args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"kerasft {args[0]}: error: " in err
    assert message in err


@pytest.mark.parametrize("text, units", [
    ("256,128", (256, 128)),
    (" 64 , 32 ", (64, 32)),
    ("8", (8,)),
    ("", ()),  # no hidden layer: a linear model
])
def test_hidden_units_parse(text, units):
    args = cli._parser().parse_args(["train", "--hidden-units", text])
    assert args.hidden_units == units


def test_good_flag_values_parse_to_numbers():
    args = cli._parser().parse_args([
        "finetune", "--preset", "p", "--test-fraction", "0",
        "--validation-fraction", "0.25", "--layer-decay", "1", "--seed",
        "4294967295", "--tf-logs",
    ])
    assert (args.test_fraction, args.validation_fraction,
            args.layer_decay, args.seed) == (0.0, 0.25, 1.0, 4294967295)
    assert args.tf_logs is True
    assert cli._parser().parse_args(["--tf-logs", "train"]).tf_logs is True
    assert cli._parser().parse_args(["train"]).tf_logs is False


# --- tfds: one line for an unknown name --------------------------------------


def test_unknown_tfds_name_is_one_line_from_the_cli(tmp_path, capsys):
    code = cli.main(["train", "--dataset", "tfds:nosuchname",
                     "--output-dir", str(tmp_path / "run"), "--verbose", "0"])
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "kerasft train: error: `name` is not a tfds data set, registered or "
        "in `data_dir`. Received: name='nosuchname', data_dir=None. See "
        "https://www.tensorflow.org/datasets/catalog/overview for the names."
    ]
    assert not (tmp_path / "run").exists()


def test_a_misspelt_tfds_name_gets_close_names():
    from kerasft import recipes

    with pytest.raises(ValueError) as info:
        recipes.load_named_dataset("tfds:mnsit")
    message = str(info.value)
    assert "\n" not in message
    assert "Received: name='mnsit'" in message
    assert "Did you mean 'mnist'" in message


def test_unknown_tfds_name_for_finetune_is_one_line():
    from kerasft.recipes import finetune

    config = finetune.FinetuneConfig(preset="unused", dataset="tfds:nosuch")
    with pytest.raises(ValueError) as info:
        finetune.load_finetune_splits(config)
    assert "\n" not in str(info.value)
    assert "Received: name='nosuch'" in str(info.value)


def test_tfds_version_it_lacks_is_a_value_error_not_unprepared_data():
    from kerasft.data.tfds_loader import load_tfds

    with pytest.raises(ValueError, match=r"cannot be loaded at version "
                       r"9\.9\.9.*Received: name='mnist:9\.9\.9'"):
        load_tfds("mnist:9.9.9")


def test_tfds_set_not_prepared_in_data_dir_names_the_folder(tmp_path):
    from kerasft import recipes

    with pytest.raises(FileNotFoundError) as info:
        recipes.load_named_dataset("tfds:mnist", data_dir=tmp_path)
    assert str(info.value) == (
        "tfds data set 'mnist' is not prepared in `data_dir`; pass "
        f"download=True to fetch it. Received: data_dir='{tmp_path}'"
    )


def test_tfds_class_names_come_from_the_description():
    from kerasft.data.tfds_loader import load_tfds_class_names

    # The builder's description ships with tfds: no data, no network.
    assert load_tfds_class_names("mnist") == [str(i) for i in range(10)]


# --- .keras files and batch sizes in the recipes -----------------------------


def test_run_evaluate_refuses_a_truncated_file(tmp_path):
    from kerasft import recipes

    path = write_truncated_keras(tmp_path / "model.keras")
    with pytest.raises(ValueError, match=r"not a valid \.keras archive.*"
                       r"model_path='.*model\.keras' \([\d,]+ bytes\)"):
        recipes.run_evaluate(path)


def test_run_evaluate_checks_the_batch_size_before_loading(tmp_path):
    from kerasft import recipes

    # A valid-looking archive that Keras could not load: the batch size
    # error comes first, so nothing was loaded.
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"`batch_size` must be an int >= 1 "
                       r"\(examples per batch\)\. Received: batch_size=0"):
        recipes.run_evaluate(path, batch_size=0)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_load_named_dataset_checks_the_batch_size_first(batch_size, tmp_path):
    from kerasft import recipes

    # Before the data: the missing .npz file is not what is reported.
    with pytest.raises(ValueError, match=rf"`batch_size` must be an int >= 1"
                       rf".*Received: batch_size={batch_size!r}"):
        recipes.load_named_dataset(f"npz:{tmp_path / 'nope.npz'}",
                                   batch_size=batch_size)


def test_params_and_image_pretraining_refuse_a_text_file(tmp_path):
    from kerasft import pretraining
    from kerasft.recipes import params

    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"Received: model='.*notes\.keras' "
                       r"\(5 bytes\)"):
        params.load_classifier(text)
    with pytest.raises(ValueError, match=r"Received: pretrained='.*notes\."
                       r"keras' \(5 bytes\)"):
        pretraining.classifier_from_pretrained(text, num_classes=2)


def test_a_model_keras_saved_passes_the_check(tmp_path):
    import keras

    import kerasft
    from kerasft.checks import check_keras_file

    model = kerasft.FeedforwardNetwork(hidden_units=(4,), num_classes=2)
    model(keras.ops.zeros((1, 3)))
    model.save(tmp_path / "ffn.keras")
    assert check_keras_file("model", tmp_path / "ffn.keras").is_file()


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """Two tiny tfds data sets generated locally (no network): an image set
    for `kerasft train`, a text set for `kerasft finetune`."""
    import numpy as np
    import tensorflow_datasets as tfds

    class KerasftHardeningDigits(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Tensor(shape=(4, 4, 1),
                                                  dtype=np.uint8),
                    "label": tfds.features.ClassLabel(
                        names=["a", "b", "c"]),
                }),
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(10),
                    "test": self._generate_examples(3)}

        def _generate_examples(self, count):
            for i in range(count):
                yield i, {"image": np.full((4, 4, 1), 25 * i, np.uint8),
                          "label": i % 3}

    class KerasftHardeningReviews(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict({
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(names=["neg", "pos"]),
                }),
                supervised_keys=("text", "label"),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(6),
                    "test": self._generate_examples(2)}

        def _generate_examples(self, count):
            for i in range(count):
                yield i, {"text": f"review {i}", "label": i % 2}

    data_dir = tmp_path_factory.mktemp("tfds")
    for builder in (KerasftHardeningDigits, KerasftHardeningReviews):
        builder(data_dir=str(data_dir)).download_and_prepare()
    return data_dir


def test_train_loads_a_prepared_tfds_set(tfds_dir):
    from kerasft import recipes

    splits = recipes.load_named_dataset("tfds:kerasft_hardening_digits",
                                        data_dir=tfds_dir, batch_size=4)
    assert splits.num_classes == 3
    images, labels = next(iter(splits.test))
    assert images.shape[1:] == (4, 4, 1)
    assert float(images.numpy().max()) <= 1.0  # scaled to [0, 1]
    assert sum(int(y.shape[0]) for _, y in splits.test) == 3


def test_finetune_loads_a_prepared_tfds_set_with_its_label_names(tfds_dir):
    from kerasft.recipes import finetune

    config = finetune.FinetuneConfig(
        preset="unused", dataset="tfds:kerasft_hardening_reviews",
        data_dir=str(tfds_dir))
    splits = finetune.load_finetune_splits(config)
    assert splits.num_classes == 2
    assert list(splits.label_map.names) == ["neg", "pos"]
    texts = sorted(t.decode() for t, _ in splits.test.as_numpy_iterator())
    assert texts == ["review 0", "review 1"]
