"""The `kerasft` command line: thin wrappers over `kerasft.recipes`.

    kerasft quickstart [--output-dir DIR] [--pretrain-epochs N] ...
    kerasft train --model conv --dataset mnist --epochs 5 ...
    kerasft evaluate runs/train/model.keras --dataset mnist
    kerasft finetune --preset PRESET --dataset mr --strategy lora ...
    kerasft finetune --preset PRESET --data train.csv --text-column text \
        --label-column label [--test-data test.csv] ...
    kerasft finetune --task multi-label|regression --data train.csv ...
    kerasft finetune --task tag --data train.conll --test-data test.conll
    kerasft params PRESET_OR_MODEL.keras --compare head_only,top_k,full,lora
    kerasft pretrain --corpus DIR --output-dir DIR --num-layers 2 ...
    kerasft pretrain --config pretrain.toml [--preset PATH] ...

Flags are parsed before TensorFlow starts: `--help` and a bad value answer
at once. TensorFlow's C++ log lines are hidden unless `--tf-logs` (before or
after the command) or your own TF_CPP_MIN_LOG_LEVEL asks for them.
"""

import argparse
import contextlib
import dataclasses
import functools
import importlib
import json
import logging
import math
import os
import re
import sys
import tempfile

# Only the standard library above: this module is imported, and its flags
# parsed, before TensorFlow starts (`kerasft --help` answers at once).
from kerasft.backend import ENVIRONMENT_TF_LOG_LEVEL
from kerasft.checks import check_keras_file

# kerasft.presets.SUPPORTED, written out: importing kerasft.presets would
# load keras-hub and TensorFlow before parsing (tests check they agree).
_PRESET_HELP = (
    "A preset of any supported encoder family (bert, xlm_roberta, roberta, "
    "distil_bert, albert, deberta_v3, electra): a keras-hub preset name, a "
    "keras-hub or Hugging Face folder, or an hf:// handle"
)

_TF_LOGS_HELP = (
    "keep TensorFlow's C++ log lines (oneDNN notices, CUDA probing, absl "
    "warnings); by default they are hidden (see the end of `kerasft --help`)"
)

_EPILOG = (
    "TensorFlow's C++ log lines are hidden: kerasft sets "
    "TF_CPP_MIN_LOG_LEVEL=3 and hides the start-up lines TensorFlow prints "
    "before it reads that variable. A TF_CPP_MIN_LOG_LEVEL you set yourself "
    "is kept (only lines below your level are hidden), and --tf-logs (before "
    "or after the command) keeps them all. --verbose, per command, is the "
    "progress output: 0 none, 1 progress bars, 2 a line per epoch."
)


# --- Flag types: a bad value is an argparse error naming the flag ---------
# ("kerasft train: error: argument --epochs: must be an integer >= 1.
# Received: '0'"), before TensorFlow starts.


def _number(kind, low, high=None, low_open=False, high_open=False):
    """An argparse type: an int or float (finite) in the bounds given."""
    what = "an integer" if kind is int else "a number"
    if high is None:
        expected = f"{what} {'>' if low_open else '>='} {low}"
    else:
        expected = (f"{what} in {'(' if low_open else '['}{low}, {high}"
                    f"{')' if high_open else ']'}")

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value > low if low_open
                                       else value >= low)
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            raise argparse.ArgumentTypeError(
                f"must be {expected}. Received: {text!r}")
        return value

    return parse


_positive_int = _number(int, 1)
_positive_float = _number(float, 0, low_open=True)
_non_negative_float = _number(float, 0)
# A share of the examples, units or steps: 0 allowed, 1 not.
_fraction = _number(float, 0, 1, high_open=True)
_seed = _number(int, 0, 2**32 - 1)  # what NumPy's seeding accepts


def _hidden_units(text):
    """`"256,128"` -> `(256, 128)`; `""` -> `()` (no hidden layer)."""
    if not text.strip():
        return ()
    units = []
    for item in text.split(","):
        try:
            units.append(int(item))
        except ValueError:
            units.append(0)
    if min(units) < 1:
        raise argparse.ArgumentTypeError(
            "must be comma-separated integers >= 1, the hidden layer sizes, "
            f"e.g. 256,128 ('' for none). Received: {text!r}"
        )
    return tuple(units)


def _task_name(text):
    # "multi-label" on the command line, "multi_label" in Python.
    return text.replace("-", "_")


def _parser():
    parser = argparse.ArgumentParser(
        prog="kerasft",
        description="Build Keras networks from scratch and fine-tune them.",
        epilog=_EPILOG,
    )
    parser.add_argument("--tf-logs", action="store_true", help=_TF_LOGS_HELP)
    # Also after the command; SUPPRESS: absent there, the value above holds.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tf-logs", action="store_true",
                        default=argparse.SUPPRESS, help=_TF_LOGS_HELP)
    commands = parser.add_subparsers(dest="command", required=True)
    add_command = functools.partial(commands.add_parser, parents=[common])

    quick = add_command(
        "quickstart",
        help="offline demo: pretrain, save, load, freeze, fine-tune",
    )
    quick.add_argument("--output-dir", default="runs/quickstart")
    quick.add_argument("--pretrain-epochs", type=_positive_int, default=20)
    quick.add_argument("--finetune-epochs", type=_positive_int, default=20)
    quick.add_argument("--batch-size", type=_positive_int, default=32)
    quick.add_argument("--learning-rate", type=_positive_float, default=2e-3)
    quick.add_argument("--seed", type=_seed, default=0)
    _add_verbose(quick)

    train = add_command("train", help="train a model on a dataset")
    train.add_argument("--model", default="feedforward",
                       choices=("feedforward", "conv"))
    train.add_argument(
        "--dataset", default="digits",
        help="digits | mnist | npz:PATH | tfds:NAME | folder:PATH",
    )
    train.add_argument("--data-dir", default=None)
    train.add_argument("--epochs", type=_positive_int, default=10)
    train.add_argument("--batch-size", type=_positive_int, default=64)
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3)
    train.add_argument("--optimizer", default="adam",
                       choices=("adam", "adamw", "sgd", "rmsprop"))
    train.add_argument("--hidden-units", type=_hidden_units,
                       default="256,128",
                       help="comma-separated hidden layer sizes (feedforward)")
    train.add_argument("--dropout", type=_fraction, default=0.1)
    train.add_argument("--augment", action="store_true")
    train.add_argument("--steps-per-execution", type=_positive_int,
                       default=1)
    train.add_argument("--output-dir", default="runs/train")
    train.add_argument("--seed", type=_seed, default=0)
    _add_verbose(train)

    evaluate = add_command("evaluate", help="evaluate a saved .keras model")
    evaluate.add_argument("model_path")
    evaluate.add_argument("--dataset", default="digits")
    evaluate.add_argument("--data-dir", default=None)
    evaluate.add_argument("--batch-size", type=_positive_int, default=64)
    evaluate.add_argument("--seed", type=_seed, default=0)

    # Strategy names are checked by the library (one message for all
    # entry points), not by argparse choices.
    finetune = add_command(
        "finetune",
        help="fine-tune a text model (any supported encoder family) on a "
             "named dataset or your own CSV / TSV / JSONL / CoNLL file: "
             "classification, multi-label, regression or tagging (NER)",
    )
    finetune.add_argument("--preset", required=True, help=_PRESET_HELP)
    finetune.add_argument(
        "--task", default="classification", type=_task_name,
        help="classification (default) | multi-label (several labels per "
             "row, see --label-separator) | regression (numeric labels) | "
             "tag (token tagging / NER: --data and the other files are "
             "CoNLL column files, token<TAB>tag lines in IOB2)",
    )
    finetune.add_argument(
        "--dataset", default=None,
        help="mr (the default without --data) | folder:PATH | tfds:NAME",
    )
    finetune.add_argument("--data-dir", default=None)
    files = finetune.add_argument_group(
        "your own data",
        "a CSV, TSV or JSON Lines file (.gz ok) instead of --dataset; test "
        "and validation splits come from their files or are cut (seeded, "
        "stratified) from the --data rows",
    )
    files.add_argument("--data", default=None, metavar="FILE",
                       help="the train file")
    files.add_argument("--text-column", default=None, metavar="COL")
    files.add_argument("--label-column", default=None, metavar="COL",
                       help="labels: any strings (saved as class names)")
    files.add_argument("--label-separator", default=",", metavar="SEP",
                       help="between the labels of a row (multi-label)")
    files.add_argument("--text-pair-column", default=None, metavar="COL",
                       help="the second text of sentence pairs")
    files.add_argument("--test-data", default=None, metavar="FILE",
                       help="default: cut --test-fraction of --data")
    files.add_argument("--validation-data", default=None, metavar="FILE",
                       help="default: cut --validation-fraction of --data")
    files.add_argument("--test-fraction", type=_fraction, default=0.1,
                       help="in [0, 1)")
    files.add_argument("--validation-fraction", type=_fraction, default=0.1,
                       help="in [0, 1); 0 for no validation")
    files.add_argument("--clean-html", action="store_true",
                       help="<br /> -> space, unescape &amp; etc. (IMDB)")
    finetune.add_argument(
        "--strategy", default="top_k",
        help="head_only | top_k | full | gradual | layerwise_lr | lora",
    )
    finetune.add_argument("--epochs", type=_positive_int, default=3)
    finetune.add_argument("--batch-size", type=_positive_int, default=32)
    finetune.add_argument("--sequence-length", type=_positive_int,
                          default=128)
    finetune.add_argument("--learning-rate", type=_positive_float,
                          default=5e-5)
    finetune.add_argument("--top-k", type=_positive_int, default=2)
    finetune.add_argument("--lora-rank", type=_positive_int, default=4)
    finetune.add_argument("--layer-decay", default=0.8,
                          type=_number(float, 0, 1, low_open=True),
                          help="in (0, 1]: rate ratio between blocks")
    finetune.add_argument(
        "--pooling", default="cls", choices=("cls", "pooled", "mean"),
        help="pooled: BERT, ALBERT and ELECTRA only",
    )
    finetune.add_argument("--max-train-examples", type=_positive_int,
                          default=None,
                          help="a seeded sample of N train examples")
    finetune.add_argument("--max-eval-examples", type=_positive_int,
                          default=None,
                          help="seeded samples of at most N validation and "
                               "N test examples")
    finetune.add_argument("--output-dir", default="runs/finetune")
    finetune.add_argument("--seed", type=_seed, default=0)
    _add_verbose(finetune)

    params = add_command(
        "params",
        help="parameters per block of a text classifier, per strategy",
    )
    params.add_argument(
        "model",
        help="a .keras file, or " + _PRESET_HELP[0].lower()
             + _PRESET_HELP[1:],
    )
    params.add_argument("--compare", default=None,
                        help="comma-separated strategies, e.g. "
                             "head_only,top_k,full,lora")
    params.add_argument("--top-k", type=_positive_int, default=2)
    params.add_argument("--lora-rank", type=_positive_int, default=4)
    _add_pretrain_parser(add_command)
    return parser


def _add_verbose(command):
    command.add_argument(
        "--verbose", type=int, default=2, choices=(0, 1, 2),
        help="progress output: 0 none, 1 progress bars, 2 a line per epoch "
             "(TensorFlow's own logs: --tf-logs)",
    )


def _add_pretrain_parser(add_command):
    # Defaults are None: a flag given overrides the config file, which
    # overrides PretrainConfig's defaults (shown in its docstring).
    pretrain = add_command(
        "pretrain",
        help="masked-LM pretraining of a BERT on your text (from scratch "
             "or continued from a preset)",
    )
    pretrain.add_argument("--config", default=None,
                          help="a .json or .toml file of settings")
    pretrain.add_argument("--corpus", nargs="+", default=None,
                          help="text files or folders of .txt files")
    pretrain.add_argument("--output-dir", "--output", default=None)
    pretrain.add_argument("--preset", default=None,
                          help="continue pretraining this BERT preset")
    pretrain.add_argument("--vocabulary-size", type=_positive_int,
                          default=None)
    pretrain.add_argument("--cased", dest="lowercase", action="store_false",
                          default=None, help="keep upper case (scratch)")
    for flag in ("--num-layers", "--hidden-dim", "--num-heads",
                 "--intermediate-dim", "--max-sequence-length",
                 "--batch-size", "--epochs", "--max-steps",
                 "--steps-per-execution"):
        pretrain.add_argument(flag, type=_positive_int, default=None)
    # [CLS], one token, [SEP]: the shortest sequence with a token to mask.
    pretrain.add_argument("--sequence-length", type=_number(int, 3),
                          default=None)
    for flag, kind in (("--dropout", _fraction),
                       ("--learning-rate", _positive_float),
                       ("--warmup-fraction", _fraction),
                       ("--weight-decay", _non_negative_float)):
        pretrain.add_argument(flag, type=kind, default=None)
    # Its bounds, (0, 1), are PretrainConfig's to check: the same message
    # for a --config file's mask_rate as for the flag.
    pretrain.add_argument("--mask-rate", type=float, default=None,
                          help="share of the tokens masked, in (0, 1)")
    pretrain.add_argument("--seed", type=_seed, default=None)
    pretrain.add_argument("--log-dir", default=None,
                          help="TensorBoard logs (default OUTPUT_DIR/logs)")
    pretrain.add_argument("--checkpoint-dir", default=None,
                          help="checkpoints; run again to resume")
    pretrain.add_argument("--checkpoint-steps", type=_positive_int,
                          default=None,
                          help="save every N steps (default: each epoch)")
    _add_verbose(pretrain)


# The recipe each command runs: imported after parsing, TensorFlow with it.
_RECIPES = {
    "quickstart": "kerasft.recipes.quickstart",
    "train": "kerasft.recipes.train",
    "evaluate": "kerasft.recipes.train",
    "finetune": "kerasft.recipes.finetune",
    "params": "kerasft.recipes.params",
    "pretrain": "kerasft.recipes.pretrain",
}

# TensorFlow's C++ log lines, absl style ("I0000 00:00:1796194208.924037
# 3015 cudart_stub.cc:31] ...", a zero date before absl is set up) or TF's
# own ("2024-05-02 11:45:17.907378: I tensorflow/...cc:44] ..."). Severity
# I, W, E, F: levels 0 to 3.
_TF_LOG_LINE = re.compile(
    r"(?:(?P<absl>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+"
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: (?P<tf>[IWEF]))"
    r" \S+:\d+\] "
)
_ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog()"


def _hidden_log_line(line, level):
    """Whether a stderr line is a TensorFlow log line below `level`."""
    if line.startswith(_ABSL_BANNER):
        return True
    match = _TF_LOG_LINE.match(line)
    if not match:
        return False
    return "IWEF".index(match.group("absl") or match.group("tf")) < level


@contextlib.contextmanager
def _tensorflow_logs(keep):
    """Runs the block (the import of TensorFlow) with TF's C++ logs hidden.

    TF_CPP_MIN_LOG_LEVEL hides TensorFlow's log lines from its first read
    on, but recent TensorFlow (2.21 here) prints its start-up lines (oneDNN,
    CUDA stubs) through absl before that: those are read back from stderr
    and dropped if below the level. Python's own stderr passes through.

    Args:
        keep: bool. `--tf-logs`: keep every line (TF_CPP_MIN_LOG_LEVEL=0
            unless the user set it).
    """
    if "tensorflow" in sys.modules:
        # Already started (kerasft.cli.main called from Python): its log
        # level is set; nothing is left to hide.
        yield
        return
    if ENVIRONMENT_TF_LOG_LEVEL is None:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0" if keep else "3"
    setting = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
    # TensorFlow reads a level it cannot parse as 0.
    level = 0 if keep or not setting.isdigit() else int(setting)
    if level == 0:
        yield
        return
    sys.stderr.flush()
    try:
        stderr = os.dup(2)
    except OSError:  # no stderr to read back (closed)
        yield
        return
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(stderr, 2)
            os.close(stderr)
            captured.seek(0)
            lines = captured.read().decode(errors="replace")
            sys.stderr.write("".join(
                line for line in lines.splitlines(keepends=True)
                if not _hidden_log_line(line, level)
            ))
            sys.stderr.flush()
    if level >= 2:
        # absl's Python warnings (tfds' "Variant folder ... has no
        # dataset_info.json" before kerasft's own error, ...).
        logging.getLogger("absl").setLevel(logging.ERROR)


def main(argv=None):
    """Runs `kerasft ARGS`; returns the exit status (2: a bad input).

    Args:
        argv: list of str, or None for `sys.argv[1:]`.
    """
    args = _parser().parse_args(argv)
    try:
        _check_model_file(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"kerasft {args.command}: error: {error}", file=sys.stderr)
        return 2
    # Imported after parsing: `kerasft --help` and flag errors answer at
    # once, without starting TensorFlow.
    with _tensorflow_logs(keep=args.tf_logs):
        importlib.import_module(_RECIPES[args.command])
    from kerasft import recipes

    try:
        if args.command == "quickstart":
            config = recipes.QuickstartConfig(
                output_dir=args.output_dir,
                pretrain_epochs=args.pretrain_epochs,
                finetune_epochs=args.finetune_epochs,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate,
                seed=args.seed,
            )
            recipes.run_quickstart(config, verbose=args.verbose)
        elif args.command == "train":
            config = recipes.TrainConfig(
                model=args.model, dataset=args.dataset,
                data_dir=args.data_dir, epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=args.learning_rate, optimizer=args.optimizer,
                hidden_units=args.hidden_units, dropout=args.dropout,
                augment=args.augment, output_dir=args.output_dir,
                seed=args.seed,
                steps_per_execution=args.steps_per_execution,
            )
            results = recipes.run_train(config, verbose=args.verbose)
            _print_results(results)
            print(f"Saved model, logs and results to {config.output_dir}")
        elif args.command == "evaluate":
            results = recipes.run_evaluate(
                args.model_path, args.dataset, args.data_dir,
                args.batch_size, args.seed)
            _print_results(results)
        elif args.command == "finetune":
            _run_finetune(args)
        elif args.command == "pretrain":
            _run_pretrain(args)
        elif args.command == "params":
            from kerasft.recipes import params

            compare = (params.parse_strategies(args.compare)
                       if args.compare is not None else None)
            print(params.run_params(args.model, compare, top_k=args.top_k,
                                    lora_rank=args.lora_rank))
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"kerasft {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def _check_model_file(args):
    """The .keras file `evaluate` / `params` load, checked before TF starts
    (the recipes check it again: they are called from Python too)."""
    if args.command == "evaluate":
        check_keras_file("model_path", args.model_path)
    elif args.command == "params" and args.model.endswith(".keras"):
        check_keras_file("model", args.model)


def _run_pretrain(args):
    from kerasft.recipes import pretrain

    values = (pretrain.read_config_file(args.config)
              if args.config is not None else {})
    for field in dataclasses.fields(pretrain.PretrainConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = value
    if isinstance(values.get("corpus"), list):
        values["corpus"] = tuple(values["corpus"])
    if "corpus" not in values:
        raise ValueError(
            "`kerasft pretrain` needs a corpus: --corpus FILE_OR_DIR ... or "
            "`corpus` in the --config file. Received: no corpus"
        )
    config = pretrain.PretrainConfig(**values)
    results = pretrain.run_pretrain(config, verbose=args.verbose)
    print(f"Pretrained {results['total_params']:,} parameters for "
          f"{results['steps']:,} steps on {results['num_examples']:,} "
          f"sequences (vocabulary of {results['vocabulary_size']:,})")
    print(f"Masked-LM loss {results['loss']:.4f}, masked-token accuracy "
          f"{results['accuracy']:.4f}")
    print(f"Saved the preset to {results['preset_dir']} (load it with "
          "kerasft.BertClassifier.from_preset or kerasft finetune --preset)")


def _run_finetune(args):
    from kerasft.recipes import finetune

    config = finetune.FinetuneConfig(
        preset=args.preset, task=args.task, dataset=args.dataset,
        data_dir=args.data_dir,
        label_separator=args.label_separator,
        data=args.data, test_data=args.test_data,
        validation_data=args.validation_data,
        text_column=args.text_column,
        text_pair_column=args.text_pair_column,
        label_column=args.label_column, clean_html=args.clean_html,
        validation_fraction=args.validation_fraction,
        test_fraction=args.test_fraction,
        strategy=args.strategy, epochs=args.epochs,
        batch_size=args.batch_size, sequence_length=args.sequence_length,
        learning_rate=args.learning_rate, top_k=args.top_k,
        lora_rank=args.lora_rank, layer_decay=args.layer_decay,
        pooling=args.pooling, max_train_examples=args.max_train_examples,
        max_eval_examples=args.max_eval_examples,
        output_dir=args.output_dir, seed=args.seed,
    )
    results = finetune.run_finetune(config, verbose=args.verbose)
    print(f"Strategy {config.strategy}: {results['trainable_params']:,} of "
          f"{results['total_params']:,} parameters trained")
    _print_results(results)
    print(f"Saved model, logs and results to {config.output_dir}")


def _print_results(results):
    scalars = {k: round(v, 4) for k, v in results.items()
               if isinstance(v, float)}
    print(json.dumps(scalars, indent=2))
    for key, what in (("per_type", "entity type"), ("per_label", "label")):
        if key in results:
            print(f"Per {what} (test):")
            for name, scores in results[key].items():
                print(f"  {name:>16}: F1 {scores['f1']:.4f}  precision "
                      f"{scores['precision']:.4f}  recall "
                      f"{scores['recall']:.4f}  support "
                      f"{int(scores['support'])}")
    if "confusion_matrix" in results:
        print("Confusion matrix (rows = true class):")
        for row in results["confusion_matrix"].astype(int):
            print("  " + " ".join(f"{v:4d}" for v in row))


if __name__ == "__main__":
    sys.exit(main())
