"""`kerasft pretrain`: masked-LM pretraining of a BERT on a user's corpus.

From scratch (`preset=None`): learn a WordPiece vocabulary from the corpus,
build a BERT of the configured size, pretrain it. Continued (domain-
adaptive) pretraining (`preset=PATH`): load a pretrained BERT and its
tokenizer and go on pretraining it on the corpus. Either way the result is
a keras-hub preset (`OUTPUT_DIR/preset`) that `kerasft.BertClassifier.
from_preset` and `kerasft finetune --preset` load.
"""

import dataclasses
import json
import math
import os
import time
import tomllib
from pathlib import Path

import keras

from kerasft import presets
from kerasft.checks import (
    check_batch_size,
    check_bool,
    check_choice,
    check_dropout,
    check_fraction,
    check_int,
    check_optional_int,
    check_real,
    check_seed,
    is_real,
)
from kerasft.pretraining.corpus import SAMPLE_METHODS
from kerasft.pretraining.masked_lm import (
    bert_backbone,
    load_masked_lm,
    masked_lm_model,
    masked_lm_trainer,
    save_bert_preset,
)
from kerasft.pretraining.masked_lm_dataset import (
    check_mask_rate,
    make_masked_lm_dataset,
)
from kerasft.pretraining.word_piece_vocabulary import (
    VOCABULARY_FILE,
    check_vocabulary_size,
    train_bert_tokenizer,
)
from kerasft.training import Checkpointer, TensorBoardLogger

# Peak learning rates: small models from scratch take a large one; a
# pretrained model a small one, or it forgets what it knew.
SCRATCH_LEARNING_RATE = 1e-3
PRESET_LEARNING_RATE = 5e-5


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Settings of a `kerasft pretrain` run.

    Args:
        corpus: a text or `.gz` file, a folder of `*.txt` / `*.txt.gz`
            files (searched recursively), or a list of those. One document
            per line.
        output_dir: where the preset (`preset/`), `vocab.txt`,
            `history.csv`, `results.json` and TensorBoard logs go.
        preset: None to pretrain from scratch, or a BERT preset (folder,
            name, handle) to continue pretraining; the architecture and
            vocabulary arguments are then the preset's own.
        vocabulary_size: largest WordPiece vocabulary to learn (scratch).
        vocabulary_sample_lines: learn the vocabulary from this many lines
            of the corpus (scratch); None learns it from every line.
        vocabulary_sample: `"first"` (the first lines) or `"reservoir"`
            (a uniform draw over the corpus, seeded by `seed`).
        lowercase: lowercase the text (an "uncased" vocabulary; scratch).
        num_layers, hidden_dim, num_heads, intermediate_dim: the BERT's
            size (scratch); `intermediate_dim` None is `4 * hidden_dim`.
        max_sequence_length: position embeddings (scratch); None is
            `sequence_length`.
        dropout: dropout rate in the backbone (scratch).
        sequence_length: tokens per example, `[CLS]`/`[SEP]` included;
            at most the model's `max_sequence_length`.
        pack_lines: pack the lines, each ended by `[SEP]`, into full
            windows (`[CLS] a [SEP] b [SEP] ...`; almost no padding). False
            makes one padded example per line (a long line several).
        batch_size: examples per step.
        mask_rate: share of the tokens masked and predicted, in (0, 1).
        epochs: passes over the corpus.
        max_steps: train this many steps in all, overriding `epochs`
            (rounded up to equal epochs); None trains `epochs` epochs.
        max_seconds: stop training once this many seconds of it have
            passed (checked after each `steps_per_execution` call, so at
            least one call runs); None for no time limit. The learning
            rate schedule still spans `max_steps` / `epochs`: set those
            too, to what fits, for the rate to decay in time.
        learning_rate: peak rate (warmup, then linear decay); None is 1e-3
            from scratch, 5e-5 from a preset.
        warmup_fraction: share of the steps warming up.
        weight_decay: AdamW weight decay.
        steps_per_execution: Trainer steps per compiled call.
        seed: seeds the weights and the shuffling.
        log_dir: TensorBoard logs (`kerasft.TensorBoardLogger`); None is
            `output_dir/logs`.
        checkpoint_dir: None, or a folder for `kerasft.Checkpointer`: the
            run saves its whole state there and, started again with the
            same settings, resumes from the newest checkpoint.
        checkpoint_steps: save every N steps; None saves at epoch ends.
    """

    corpus: str | tuple
    output_dir: str = "runs/pretrain"
    preset: str | None = None
    vocabulary_size: int = 8000
    vocabulary_sample_lines: int | None = None
    vocabulary_sample: str = "first"
    lowercase: bool = True
    num_layers: int = 4
    hidden_dim: int = 256
    num_heads: int = 4
    intermediate_dim: int | None = None
    max_sequence_length: int | None = None
    dropout: float = 0.1
    sequence_length: int = 128
    pack_lines: bool = True  # short lines would be mostly padding
    batch_size: int = 32
    mask_rate: float = 0.15
    epochs: int = 1
    max_steps: int | None = None
    max_seconds: float | None = None
    learning_rate: float | None = None
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    steps_per_execution: int = 1
    seed: int = 0
    log_dir: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_steps: int | None = None

    def __post_init__(self):
        # Checked here, before the corpus is read or a weight is made.
        check_mask_rate(self.mask_rate)
        for name in ("num_layers", "hidden_dim", "num_heads", "epochs",
                     "steps_per_execution"):
            check_int(name, getattr(self, name))
        check_batch_size(self.batch_size)
        check_int("sequence_length", self.sequence_length, 3)
        for name in ("intermediate_dim", "checkpoint_steps",
                     "vocabulary_sample_lines"):
            check_optional_int(name, getattr(self, name))
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps,
                      why="a budget of 0 steps ends before the first step")
        check_choice("vocabulary_sample", self.vocabulary_sample,
                     SAMPLE_METHODS)
        if self.max_seconds is not None:
            # A budget of 0 s ends before the first step: nothing to train.
            if not (is_real(self.max_seconds) and self.max_seconds > 0):
                raise ValueError(
                    "`max_seconds` must be a number > 0 (a budget of 0 s "
                    "ends before the first step). Received: "
                    f"max_seconds={self.max_seconds!r}"
                )
        if self.preset is None:
            check_vocabulary_size(self.vocabulary_size)
            if self.hidden_dim % self.num_heads:
                raise ValueError(
                    "`hidden_dim` must be divisible by `num_heads`: each "
                    "head gets hidden_dim / num_heads dimensions. Received: "
                    f"hidden_dim={self.hidden_dim}, "
                    f"num_heads={self.num_heads}"
                )
            if (
                self.max_sequence_length is not None
                and self.max_sequence_length < self.sequence_length
            ):
                raise ValueError(
                    "`max_sequence_length` must be at least "
                    "`sequence_length`. Received: max_sequence_length="
                    f"{self.max_sequence_length}, sequence_length="
                    f"{self.sequence_length}"
                )
        if self.learning_rate is not None:
            check_real("learning_rate", self.learning_rate, low=0,
                       low_open=True)
        check_fraction("warmup_fraction", self.warmup_fraction)
        check_real("weight_decay", self.weight_decay, low=0)
        check_dropout(self.dropout)
        check_bool("lowercase", self.lowercase)
        check_bool("pack_lines", self.pack_lines)
        check_seed(self.seed, allow_none=False)


class _TrainingClock(keras.callbacks.Callback):
    """Times training; stops it once `max_seconds` have passed.

    The first call (tracing, compiling) is timed apart: `steady_rate`
    counts the steps after it, which is what a longer run gets.
    """

    def __init__(self, max_seconds=None):
        super().__init__()
        self.max_seconds = max_seconds
        self.start = self.first_end = self.end = None
        self.first_steps = self.steps = 0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.first_steps = self.steps = int(self.model.optimizer.iterations)

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        # optimizer.iterations: steps applied, whatever steps_per_execution.
        self.steps, self.end = int(self.model.optimizer.iterations), now
        if self.first_end is None:
            self.first_end, self.first_steps = now, self.steps
        if self.max_seconds is not None and (
            now - self.start >= self.max_seconds
        ):
            self.model.stop_training = True

    def seconds(self):
        return 0.0 if self.end is None else self.end - self.start

    def steady_rate(self):
        """Steps per second after the first call (None if only one)."""
        if self.end is None or self.steps == self.first_steps:
            return None
        return (self.steps - self.first_steps) / (self.end - self.first_end)


def _callbacks(config, output_dir):
    callbacks = [
        TensorBoardLogger(config.log_dir or str(output_dir / "logs"),
                          update_freq=100),
        keras.callbacks.CSVLogger(str(output_dir / "history.csv")),
    ]
    if config.checkpoint_dir is not None:
        # "skip": a checkpoint keeps the number of batches read, not the
        # tf.data iterator, whose state would hold the whole in-memory
        # cache of tokenized examples. The masks of the resumed epoch are
        # drawn anew (keras-hub's masker uses unseeded random ops).
        callbacks.append(Checkpointer(
            config.checkpoint_dir, save_freq=config.checkpoint_steps,
            data_position="skip"))
    return callbacks


def _check_sequence_length(config, max_sequence_length):
    if max_sequence_length is not None and (
        config.sequence_length > max_sequence_length
    ):
        raise ValueError(
            "`sequence_length` must be at most the preset's "
            f"max_sequence_length={max_sequence_length} (its position "
            f"embeddings). Received: sequence_length={config.sequence_length}"
            f", preset={config.preset!r}"
        )


def read_config_file(path):
    """Reads a JSON (`.json`) or TOML (`.toml`) file of `PretrainConfig`
    fields; unknown keys are an error.

    Example (`pretrain.toml`):
    ```toml
    corpus = "my_corpus/"
    output_dir = "runs/my_bert"
    vocabulary_size = 8000
    num_layers = 2
    hidden_dim = 128
    num_heads = 2
    epochs = 3
    ```
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"The config file does not exist. Received: config='{path}'"
        )
    if path.suffix == ".toml":
        with open(path, "rb") as file:
            values = tomllib.load(file)
    elif path.suffix == ".json":
        values = json.loads(path.read_text(encoding="utf-8"))
    else:
        raise ValueError(
            "The config file must be .json or .toml. Received: "
            f"config='{path}'"
        )
    if not isinstance(values, dict):
        raise ValueError(
            "The config file must hold a table/object of settings. "
            f"Received: config='{path}' holding {type(values).__name__}"
        )
    fields = {f.name for f in dataclasses.fields(PretrainConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(
            f"Unknown settings in the config file: {unknown}. Accepted: "
            f"{sorted(fields)}. Received: config='{path}'"
        )
    if isinstance(values.get("corpus"), list):
        values["corpus"] = tuple(values["corpus"])
    return values


def run_pretrain(config, verbose=1, callbacks=None):
    """Pretrains a BERT with masked-LM; saves it as a keras-hub preset.

    Args:
        config: a `PretrainConfig`.
        verbose: 0 silent, 1 progress bars, 2 a line per epoch.
        callbacks: more `keras.callbacks.Callback`s for the Trainer.
            TensorBoard logs and a CSV history are always written, and
            checkpoints with `config.checkpoint_dir`.

    Returns:
        A dict: the last epoch's `loss` and `accuracy` (masked-token
        accuracy), `vocabulary_size`, `num_examples` and `num_tokens`
        (non-padding positions) per epoch, `padding_fraction` (padded
        share of the positions), `steps`, `train_seconds`,
        `tokens_per_second` (non-padding tokens trained per second, the
        first compiled call left out), `total_params`, `preset_dir`.

    Example:
    ```python
    results = run_pretrain(PretrainConfig(
        corpus="my_corpus/", output_dir="runs/my_bert", num_layers=2,
        hidden_dim=128, num_heads=2, epochs=3))
    classifier = kerasft.BertClassifier.from_preset(results["preset_dir"])
    ```
    """
    output_dir = Path(config.output_dir)
    keras.utils.set_random_seed(config.seed)
    corpus = (list(config.corpus) if isinstance(config.corpus, tuple)
              else config.corpus)
    if config.preset is None:
        tokenizer = train_bert_tokenizer(
            corpus, config.vocabulary_size, output_dir=output_dir,
            lowercase=config.lowercase,
            sample_lines=config.vocabulary_sample_lines,
            sample=config.vocabulary_sample, seed=config.seed,
        )
        masked_lm = None  # built once the data is known to be enough
    else:
        if os.path.isdir(config.preset):
            # A local preset's config.json, before any weight is read.
            _check_sequence_length(
                config, presets.preset_config(config.preset).get(
                    "max_sequence_length"))
        masked_lm, tokenizer = load_masked_lm(config.preset)
        _check_sequence_length(config,
                               masked_lm.backbone.max_sequence_length)
    train = make_masked_lm_dataset(
        corpus, tokenizer, sequence_length=config.sequence_length,
        batch_size=config.batch_size, mask_rate=config.mask_rate,
        seed=config.seed, pack_lines=config.pack_lines,
    )
    if masked_lm is None:
        backbone = bert_backbone(
            tokenizer.vocabulary_size(), num_layers=config.num_layers,
            hidden_dim=config.hidden_dim, num_heads=config.num_heads,
            intermediate_dim=config.intermediate_dim,
            max_sequence_length=(config.max_sequence_length
                                 or config.sequence_length),
            dropout=config.dropout,
        )
        masked_lm = masked_lm_model(backbone)
    num_examples = train.num_examples
    num_tokens, padding_fraction = train.num_tokens, train.padding_fraction
    # Full batches only (drop_remainder): static shapes, equal mask counts.
    steps_per_epoch = num_examples // config.batch_size
    epochs = config.epochs
    if config.max_steps is not None:
        # `max_steps` overrides `epochs`: equal epochs over a repeated
        # dataset, rounded up so that they hold at least max_steps.
        epochs = math.ceil(config.max_steps / steps_per_epoch)
        steps_per_epoch = math.ceil(config.max_steps / epochs)
    # One iterator over a repeated dataset: the masking ops' random state
    # carries on from epoch to epoch, so every epoch gets new masks. (The
    # run sets a global seed, under which a fresh iterator per epoch would
    # replay the first epoch's masks.)
    train = train.repeat()
    total_steps = epochs * steps_per_epoch
    learning_rate = config.learning_rate or (
        SCRATCH_LEARNING_RATE if config.preset is None
        else PRESET_LEARNING_RATE
    )
    trainer = masked_lm_trainer(
        masked_lm, learning_rate=learning_rate, total_steps=total_steps,
        warmup_fraction=config.warmup_fraction,
        weight_decay=config.weight_decay,
        steps_per_execution=config.steps_per_execution,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    clock = _TrainingClock(config.max_seconds)
    history = trainer.fit(
        train, epochs=epochs, verbose=verbose,
        steps_per_epoch=steps_per_epoch,
        callbacks=[*(callbacks or []), clock,
                   *_callbacks(config, output_dir)],
    )
    preset_dir = output_dir / "preset"
    save_bert_preset(masked_lm, tokenizer, preset_dir)
    if config.preset is not None:
        # The vocabulary is the preset's: keep a copy beside the results.
        (output_dir / VOCABULARY_FILE).write_text(
            "".join(f"{t}\n" for t in tokenizer.get_vocabulary()),
            encoding="utf-8",
        )
    last = {k: float(v[-1]) for k, v in history.history.items()}
    # Non-padding tokens ([CLS]/[SEP] included) per step: the epoch's mean
    # (batches are drawn from the shuffled examples; padding is the same
    # share of every batch on average).
    tokens_per_step = (config.batch_size * config.sequence_length
                       * (1 - padding_fraction))
    steady_rate = clock.steady_rate()
    results = {
        "loss": last.get("loss"),
        "accuracy": last.get("accuracy"),
        "vocabulary_size": tokenizer.vocabulary_size(),
        "num_examples": num_examples,
        "num_tokens": num_tokens,
        "padding_fraction": padding_fraction,
        "steps": trainer.global_step,
        "train_seconds": clock.seconds(),
        # Steady state: the first (compiling) call left out when possible.
        "tokens_per_second": tokens_per_step * (
            steady_rate if steady_rate is not None
            else trainer.global_step / max(clock.seconds(), 1e-9)),
        "total_params": int(masked_lm.count_params()),
        "preset_dir": str(preset_dir),
    }
    if verbose:
        print(f"Padding {results['padding_fraction']:.2%} of the positions; "
              f"{results['tokens_per_second']:,.0f} tokens/s over "
              f"{results['steps']:,} steps in "
              f"{results['train_seconds']:.1f} s")
    (output_dir / "results.json").write_text(json.dumps(
        {"results": results, "config": dataclasses.asdict(config),
         "history": {k: [float(x) for x in v]
                     for k, v in history.history.items()}},
        indent=2, default=str,
    ))
    return results
