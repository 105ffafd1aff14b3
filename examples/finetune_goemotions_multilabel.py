"""Several labels per text: MiniLM fine-tuned on GoEmotions (28 emotions).

What it shows: `kerasft.MultiLabelClassifier` (one sigmoid logit per
label, binary cross-entropy on logits), multi-hot targets read from a
file by the generic loader (`kerasft.data.load_goemotions` over
`load_text_file(..., task="multi_label")`), micro / macro F1 and the
exact-match ratio inside the compiled step, per-label decision thresholds
tuned on the validation split (`kerasft.tune_thresholds`) and saved with
the model, per-label F1 on the test split, and label sets with their
probabilities for raw strings from the saved model loaded back
(`kerasft.predict_texts`).

Data: GoEmotions (../shared/data/goemotions; 43,410 train, 5,426 dev,
5,427 test Reddit comments; 28 labels with neutral). The dev split
validates after each epoch and tunes the thresholds; the test split is
scored once, with the tuned thresholds and with 0.5.

Model: MiniLM-L6-H384 (../shared/models/minilm-l6-h384-uncased), mean
pooling, all layers trained, AdamW with linear warmup and decay.

    python examples/finetune_goemotions_multilabel.py     # defaults below
"""

import argparse
import json
import time
from pathlib import Path

import kerasft

# isort: split
import keras
import numpy as np

from kerasft import data
from kerasft.finetuning import prepare_finetuning
from kerasft.training import MultiLabelF1, tune_thresholds

MINILM = data.shared_dir() / "models" / "minilm-l6-h384-uncased"
SAMPLE_TEXTS = (
    "Thank you so much, this made my day!",
    "I can't believe they did that, what a disgrace.",
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=str(MINILM))
    parser.add_argument("--strategy", default="full")
    parser.add_argument("--pooling", default="mean",
                        choices=("cls", "pooled", "mean"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-train", type=int, default=None,
                        help="train on the first N comments (quick run)")
    parser.add_argument("--output-dir", default="runs/goemotions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser.parse_args(argv)


def probabilities_of(model, dataset):
    """Sigmoid probabilities and targets over a whole split."""
    probabilities, targets = [], []
    for inputs, labels in dataset:
        logits = keras.ops.cast(model(inputs, training=False), "float32")
        probabilities.append(keras.ops.convert_to_numpy(
            keras.ops.sigmoid(logits)))
        targets.append(np.asarray(labels))
    return np.concatenate(probabilities), np.concatenate(targets)


def scores(targets, probabilities, threshold, num_labels):
    metrics = {average: MultiLabelF1(num_labels, average=average,
                                     threshold=threshold)
               for average in ("micro", "macro")}
    for metric in metrics.values():
        metric.update_state(targets, probabilities)
    return ({k: float(m.result()) for k, m in metrics.items()},
            metrics["macro"].per_label())


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)  # before the preprocessor
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    # --- Data: comments and multi-hot (N, 28) emotions ---
    splits = {split: data.load_goemotions(split)
              for split in ("train", "validation", "test")}
    names = splits["train"][2].names
    if args.max_train:
        texts, labels, label_map = splits["train"]
        splits["train"] = (texts[:args.max_train], labels[:args.max_train],
                           label_map)
    preprocessor = data.text_preprocessor(
        args.preset, sequence_length=args.sequence_length)

    def dataset(split, shuffle):
        texts, labels, _ = splits[split]
        return data.make_text_dataset(
            texts, labels, preprocessor=preprocessor,
            batch_size=args.batch_size if shuffle else 128, shuffle=shuffle,
            seed=args.seed, bucket_boundaries=(16, 32), task="multi_label")

    train, dev, test = (dataset("train", True), dataset("validation", False),
                        dataset("test", False))

    # --- Model, strategy, Trainer ---
    model = kerasft.MultiLabelClassifier.from_preset(
        args.preset, num_labels=len(names), label_names=names,
        pooling=args.pooling)
    steps = -(-len(splits["train"][0]) // args.batch_size)
    plan = prepare_finetuning(model, args.strategy,
                              learning_rate=args.learning_rate,
                              total_steps=args.epochs * steps)
    trainer = kerasft.Trainer(
        model, optimizer=plan.optimizer,
        metrics=["micro_f1", "macro_f1", "exact_match"])
    start = time.perf_counter()
    trainer.fit(train, validation_data=dev, epochs=args.epochs,
                callbacks=plan.callbacks, verbose=args.verbose)
    train_seconds = time.perf_counter() - start

    # --- Thresholds tuned on dev, scored on test ---
    dev_probabilities, dev_targets = probabilities_of(model, dev)
    model.threshold = tune_thresholds(dev_targets, dev_probabilities)
    test_probabilities, test_targets = probabilities_of(model, test)
    at_half, _ = scores(test_targets, test_probabilities, 0.5, len(names))
    tuned, per_label = scores(test_targets, test_probabilities,
                              model.thresholds(), len(names))
    print(f"Test macro F1 {tuned['macro']:.4f} (thresholds tuned on dev; "
          f"{at_half['macro']:.4f} at 0.5), micro F1 {tuned['micro']:.4f} "
          f"({at_half['micro']:.4f}); train {train_seconds:.0f} s")
    for i, name in enumerate(names):
        print(f"  {name:>14}: F1 {per_label['f1'][i]:.3f} (threshold "
              f"{model.thresholds()[i]:.2f}, {int(per_label['support'][i])}"
              " test comments)")
    model.save(output_dir / "model.keras")

    # --- The saved model, loaded back, on raw strings ---
    loaded = keras.saving.load_model(output_dir / "model.keras")
    label_sets, _ = kerasft.predict_texts(loaded, list(SAMPLE_TEXTS),
                                          preprocessor)
    for text, labels in zip(SAMPLE_TEXTS, label_sets):
        shown = ", ".join(f"{name} {p:.2f}" for name, p in labels)
        print(f"  {text!r}: {shown or '(none)'}")
    results = {"test_macro_f1": tuned["macro"],
               "test_micro_f1": tuned["micro"],
               "test_macro_f1_at_0.5": at_half["macro"],
               "test_micro_f1_at_0.5": at_half["micro"],
               "per_label_f1": dict(zip(names, per_label["f1"].tolist())),
               "thresholds": model.thresholds(),
               "train_seconds": train_seconds, "epochs": args.epochs,
               "learning_rate": args.learning_rate}
    (output_dir / "results.json").write_text(
        json.dumps(results, indent=2, default=float))
    return results


if __name__ == "__main__":
    main()
