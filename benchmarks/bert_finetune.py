"""Benchmark: BERT fine-tuning with kerasft against keras-hub and PyTorch.

All on the same MiniLM (../shared/models/minilm-l6-h384-uncased), the same
MR sentences (the first `--examples` of the fixed train split), batch size
and sequence length, AdamW 5e-5, in one run:

  1. full fine-tuning, kerasft.Trainer vs keras-hub's BertTextClassifier.fit
     (both fed the same pre-tokenized batches; XLA off and on), examples/s;
  2. a 3-epoch head-only fine-tune end to end: kerasft's feature caching vs
     keras-hub fit with `backbone.trainable = False`;
  3. length bucketing on vs off (kerasft.Trainer, full fine-tuning);
  4. full fine-tuning against PyTorch + transformers (eager), run from a
     separate environment given by `--torch-python` (never a dependency of
     kerasft), interleaved with ours over `--rounds` rounds.

Throughput is measured on the second epoch (the first traces and warms up).

    python benchmarks/bert_finetune.py --examples 512 --rounds 3 \\
        --torch-python /path/to/torchenv/bin/python
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import kerasft
import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kerasft import data
from kerasft.finetuning.feature_cache import fit_head_on_cached_features


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch (works with fit and with kerasft.Trainer)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times = getattr(self, "times", []) + [
            time.perf_counter() - self.start]


def tokenized(preset, texts, labels, sequence_length, batch_size):
    """Static-shape batches shared by every contender."""
    preprocessor = data.text_preprocessor(preset,
                                          sequence_length=sequence_length)
    return data.make_text_dataset(texts, labels, preprocessor=preprocessor,
                                  batch_size=batch_size, shuffle=False)


def keras_hub_full(preset, dataset, jit_compile, frozen=False, epochs=2):
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone.from_preset(preset)
    backbone.trainable = not frozen
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=2,
                                                preprocessor=None)
    model.compile(
        optimizer=keras.optimizers.AdamW(5e-5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    timer = EpochTimer()
    start = time.perf_counter()
    model.fit(dataset, epochs=epochs, verbose=0, callbacks=[timer])
    return timer.times, time.perf_counter() - start


def kerasft_full(preset, dataset, jit_compile, epochs=2):
    keras.utils.set_random_seed(0)
    classifier = kerasft.BertClassifier.from_preset(preset, num_classes=2,
                                                    pooling="pooled")
    trainer = kerasft.Trainer(classifier,
                              optimizer=keras.optimizers.AdamW(5e-5),
                              metrics=["accuracy"], jit_compile=jit_compile)
    timer = EpochTimer()
    trainer.fit(dataset, epochs=epochs, verbose=0, callbacks=[timer])
    return timer.times


def kerasft_head_only(preset, texts, labels, sequence_length, batch_size,
                      epochs=3):
    """End to end: tokenize (bucketed), extract once, train the head."""
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    classifier = kerasft.BertClassifier.from_preset(preset, num_classes=2,
                                                    pooling="pooled")
    kerasft.freeze_backbone(classifier)
    preprocessor = data.text_preprocessor(preset,
                                          sequence_length=sequence_length)
    # Extraction has no gradient: big batches, grouped by length.
    buckets = tuple(b for b in (16, 32, 64, 128, 256, 512)
                    if b < sequence_length) + (sequence_length,)
    extraction = data.make_text_dataset(
        texts, labels, preprocessor=preprocessor, batch_size=128,
        shuffle=False, bucket_boundaries=buckets)
    fit_head_on_cached_features(
        classifier, extraction, epochs=epochs, batch_size=batch_size,
        optimizer=keras.optimizers.AdamW(1e-3), learning_rate=None,
        verbose=0)
    return time.perf_counter() - start


def bucketing(preset, texts, labels, sequence_length, batch_size, buckets):
    preprocessor = data.text_preprocessor(preset,
                                          sequence_length=sequence_length)
    dataset = data.make_text_dataset(
        texts, labels, preprocessor=preprocessor, batch_size=batch_size,
        shuffle=False, bucket_boundaries=buckets)
    return kerasft_full(preset, dataset, jit_compile=False)


def torch_run(python, preset, texts_file, args):
    command = [
        python, str(Path(__file__).with_name("torch_bert_finetune.py")),
        "--preset", str(preset), "--texts", str(texts_file),
        "--sequence-length", str(args.sequence_length),
        "--batch-size", str(args.batch_size),
    ]
    result = subprocess.run(command, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=None)
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--head-examples", type=int, default=2048)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--parts", default="1,2,3,4")
    parser.add_argument("--torch-python", default=None)
    parser.add_argument("--dtype", default="float32",
                        help="float32 or mixed_bfloat16 (kerasft runs)")
    args = parser.parse_args()
    preset = args.preset or str(
        data.shared_dir() / "models" / "minilm-l6-h384-uncased")
    parts = set(args.parts.split(","))
    texts, labels = data.load_rt_polarity_arrays(split="train")
    texts, labels = list(texts[:args.examples]), labels[:args.examples]
    n = len(texts)
    print(f"TF {tf.__version__}, Keras {keras.__version__}, keras-hub "
          f"{keras_hub.__version__}; {n} MR sentences, batch "
          f"{args.batch_size}, sequence length {args.sequence_length}, "
          f"{args.rounds} round(s), examples/s on the second epoch")
    dataset = tokenized(preset, texts, labels, args.sequence_length,
                        args.batch_size)

    if "1" in parts:
        print("\n1. Full fine-tuning: kerasft.Trainer vs keras-hub fit")
        for jit in (False, True):
            ours, theirs = [], []
            for _ in range(args.rounds):
                theirs.append(n / keras_hub_full(preset, dataset, jit)[0][1])
                ours.append(n / kerasft_full(preset, dataset, jit)[1])
            ours, theirs = statistics.median(ours), statistics.median(theirs)
            print(f"   XLA {'on ' if jit else 'off'}: keras-hub fit "
                  f"{theirs:6.1f}  kerasft {ours:6.1f}  ratio "
                  f"{ours / theirs:.2f}x")

    if "2" in parts:
        head_texts, head_labels = data.load_rt_polarity_arrays(split="train")
        head_texts = list(head_texts[:args.head_examples])
        head_labels = head_labels[:args.head_examples]
        head_dataset = tokenized(preset, head_texts, head_labels,
                                 args.sequence_length, args.batch_size)
        print(f"\n2. Head-only, 3 epochs end to end, {len(head_texts)} "
              "sentences")
        ours, theirs = [], []
        for _ in range(args.rounds):
            theirs.append(keras_hub_full(preset, head_dataset, "auto",
                                         frozen=True, epochs=3)[1])
            ours.append(kerasft_head_only(preset, head_texts, head_labels,
                                          args.sequence_length,
                                          args.batch_size))
        ours, theirs = statistics.median(ours), statistics.median(theirs)
        print(f"   keras-hub fit, frozen backbone: {theirs:6.1f} s   "
              f"kerasft feature caching: {ours:6.1f} s   speed-up "
              f"{theirs / ours:.2f}x")

    if "3" in parts:
        print("\n3. Length bucketing (kerasft.Trainer, full fine-tuning)")
        buckets = (16, 32, args.sequence_length)
        off, on = [], []
        for _ in range(args.rounds):
            off.append(n / kerasft_full(preset, dataset, False)[1])
            on.append(n / bucketing(preset, texts, labels,
                                    args.sequence_length, args.batch_size,
                                    buckets)[1])
        off, on = statistics.median(off), statistics.median(on)
        print(f"   fixed length {args.sequence_length}: {off:6.1f}   "
              f"buckets {buckets}: {on:6.1f}   speed-up {on / off:.2f}x")

    if "4" in parts:
        if not args.torch_python:
            print("\n4. PyTorch: skipped (pass --torch-python)")
            return
        texts_file = Path("/tmp/kerasft_bench_texts.json")
        texts_file.write_text(json.dumps({"texts": texts,
                                          "labels": labels.tolist()}))
        print("\n4. Full fine-tuning: kerasft vs PyTorch + transformers")
        if args.dtype != "float32":
            keras.mixed_precision.set_global_policy(args.dtype)
        buckets = (16, 32, args.sequence_length)
        torch_rates, ours, ours_buckets = [], [], []
        for _ in range(args.rounds):
            torch_rates.append(torch_run(args.torch_python, preset,
                                         texts_file, args)["examples_per_s"])
            ours.append(n / kerasft_full(preset, dataset, False)[1])
            ours_buckets.append(n / bucketing(
                preset, texts, labels, args.sequence_length,
                args.batch_size, buckets)[1])
        torch_rate = statistics.median(torch_rates)
        for label, values in (("fixed length", ours),
                              ("bucketed", ours_buckets)):
            rate = statistics.median(values)
            print(f"   PyTorch eager {torch_rate:6.1f}   kerasft "
                  f"({label}, {args.dtype}) {rate:6.1f}   ratio "
                  f"{rate / torch_rate:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
