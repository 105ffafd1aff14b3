"""Benchmark: head-only fine-tuning on IMDB, kerasft vs keras-hub.

A frozen-backbone fine-tune from raw strings to a trained head, timed
end to end (tokenization included; loading the model from the preset
happens before the clock starts): keras-hub's `BertTextClassifier.fit`
with `backbone.trainable = False`, which runs the backbone every epoch,
against kerasft's `fit_head_on_cached_features`, which runs it once and
trains the head on the cached features. Both use the same MiniLM (pooled
output, dropout, Dense head), the same IMDB train reviews (HTML line breaks
cleaned), sequence length, batch size, epochs, AdamW learning rate and XLA
off (kerasft's extraction and head steps take no jit_compile). The train
file is sorted by label, so the first `--examples / 2` reviews of each
class are taken. Contenders alternate over `--rounds` (keras-hub, kerasft,
keras-hub, ...); the medians and their ratio (keras-hub s / kerasft s) are
printed, with each head's training accuracy on the last epoch and the share
of real (non-padding) tokens at the sequence length.

    python benchmarks/imdb_head_only.py --examples 2000 \\
        --sequence-length 256 --epochs 3 --batch-size 32 --rounds 1
"""

import argparse
import json
import statistics
import sys
import time

import kerasft  # first: selects the TensorFlow backend

# isort: split
import keras
import keras_hub
import numpy as np
import tensorflow as tf

from kerasft import data
from kerasft.finetuning import fit_head_on_cached_features


def load_reviews(count):
    """`count` IMDB train reviews, half of each class, in file order."""
    path = data.shared_dir() / "data" / "imdb" / "train.csv.gz"
    texts, labels, _ = data.load_text_file(
        path, text_column="review", label_column="label", clean_html=True)
    # The file holds 12,500 positive reviews, then 12,500 negative ones:
    # its first `count` rows would all be one class.
    per_class = (count // 2, count - count // 2)
    rows = np.sort(np.concatenate([
        np.flatnonzero(labels == label)[:n]
        for label, n in enumerate(per_class)]))
    return [texts[i] for i in rows], labels[rows]


def text_batches(preset, texts, labels, args, buckets=None):
    preprocessor = data.text_preprocessor(
        preset, sequence_length=args.sequence_length)
    return data.make_text_dataset(
        texts, labels, preprocessor=preprocessor,
        batch_size=args.batch_size, bucket_boundaries=buckets)


def token_shares(preset, texts, sequence_length):
    """Real tokens / sequence_length, and the share of truncated reviews."""
    preprocessor = data.text_preprocessor(preset,
                                          sequence_length=sequence_length)
    dataset = data.make_text_dataset(texts, preprocessor=preprocessor,
                                     batch_size=256, shuffle=False,
                                     cache=False)
    lengths = np.concatenate([  # (num_examples,) real tokens per review
        np.sum(features["padding_mask"], axis=1) for features in dataset])
    return (float(lengths.mean() / sequence_length),
            float(np.mean(lengths == sequence_length)))


def keras_hub_head_only(preset, texts, labels, args):
    keras.utils.set_random_seed(0)
    model = keras_hub.models.BertTextClassifier.from_preset(
        preset, num_classes=2, preprocessor=None)
    model.backbone.trainable = False
    start = time.perf_counter()
    dataset = text_batches(preset, texts, labels, args)
    model.compile(
        optimizer=keras.optimizers.AdamW(args.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=False,
    )
    history = model.fit(dataset, epochs=args.epochs, verbose=0)
    return time.perf_counter() - start, history.history["accuracy"][-1]


def kerasft_head_only(preset, texts, labels, args):
    keras.utils.set_random_seed(0)
    model = kerasft.TextClassifier.from_preset(preset, num_classes=2,
                                               pooling="pooled")
    kerasft.freeze_backbone(model)
    start = time.perf_counter()
    dataset = text_batches(preset, texts, labels, args, args.buckets)
    _, history = fit_head_on_cached_features(
        model, dataset, epochs=args.epochs, batch_size=args.batch_size,
        optimizer=keras.optimizers.AdamW(args.learning_rate),
        learning_rate=None, verbose=0)
    return time.perf_counter() - start, history.history["accuracy"][-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=None)
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--sequence-length", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--buckets", default=None,
        help="kerasft only: extract with length buckets, e.g. 64,128")
    args = parser.parse_args()
    args.buckets = args.buckets and [int(b) for b in args.buckets.split(",")]
    preset = args.preset or str(
        data.shared_dir() / "models" / "minilm-l6-h384-uncased")
    texts, labels = load_reviews(args.examples)
    # Also the first use of the tokenizer, so neither contender pays it.
    real, truncated = token_shares(preset, texts, args.sequence_length)

    times = {"keras_hub": [], "kerasft": []}
    accuracy = {}
    for _ in range(args.rounds):
        for name, run in (("keras_hub", keras_hub_head_only),
                          ("kerasft", kerasft_head_only)):
            seconds, accuracy[name] = run(preset, texts, labels, args)
            times[name].append(seconds)
            # As it comes: a full round takes about half an hour here.
            print(f"round {_ + 1}: {name} {seconds:.1f} s, train accuracy "
                  f"{accuracy[name]:.3f}", flush=True)
    median = {name: statistics.median(t) for name, t in times.items()}
    ratio = median["keras_hub"] / median["kerasft"]

    print(f"TF {tf.__version__}, Keras {keras.__version__}, keras-hub "
          f"{keras_hub.__version__}; {len(texts)} IMDB reviews "
          f"({int(labels.sum())} positive), length {args.sequence_length}, "
          f"{args.epochs} epochs, batch {args.batch_size}, AdamW "
          f"{args.learning_rate:g}, XLA off, {args.rounds} round(s)")
    print(f"real tokens {real:.2f} of {args.sequence_length} (padding "
          f"{1 - real:.2f}); {truncated:.2f} of the reviews truncated")
    print(f"{'contender':<36}{'median s':>9}{'train acc':>11}")
    for name, label in (("keras_hub", "keras-hub fit, frozen backbone"),
                        ("kerasft", "kerasft feature caching")):
        print(f"{label:<36}{median[name]:9.1f}{accuracy[name]:11.3f}")
    print(f"{'ratio (keras-hub s / kerasft s)':<36}{ratio:8.2f}x")
    print(json.dumps({
        "benchmark": "imdb_head_only", "examples": len(texts),
        "sequence_length": args.sequence_length, "epochs": args.epochs,
        "batch_size": args.batch_size, "learning_rate": args.learning_rate,
        "rounds": args.rounds, "buckets": args.buckets,
        "keras_hub_s": times["keras_hub"], "kerasft_s": times["kerasft"],
        "ratio": round(ratio, 3),
        "keras_hub_accuracy": round(accuracy["keras_hub"], 4),
        "kerasft_accuracy": round(accuracy["kerasft"], 4),
        "real_token_fraction": round(real, 4),
        "padding_fraction": round(1 - real, 4),
        "truncated_fraction": round(truncated, 4),
    }))


if __name__ == "__main__":
    sys.exit(main())
