"""Named entities in noisy text: MiniLM fine-tuned on WNUT-17 (token tagging).

What it shows: `kerasft.TokenClassifier` on a pretrained encoder, the
CoNLL reader (`kerasft.data.load_wnut17` over `read_conll`: the train file
separates most sentences with a line holding a tab), word-piece alignment
(`kerasft.data.make_token_dataset`: the first piece of each word carries
its IOB2 tag, the other pieces and the special tokens are ignored by the
loss and the metrics; sentences longer than a window become overlapping
windows, each word scored once), entity-level F1 exactly as seqeval's
default mode computes it, inside the compiled step
(`kerasft.training.EntityF1`), the same Trainer and fine-tuning strategies
as classification, and entities with character offsets from raw strings
(`kerasft.predict_texts`) with the saved model loaded back.

Data: WNUT-17 (../shared/data/wnut17; 3,394 train, 1,009 dev, 1,287 test
sentences; six types: corporation, creative-work, group, location, person,
product). The dev split validates after each epoch; the test split is
scored once at the end, overall and per type.

Model: MiniLM-L6-H384 (../shared/models/minilm-l6-h384-uncased), all
layers trained (strategy `full`), AdamW with linear warmup and decay.

    python examples/finetune_wnut17_ner.py            # defaults below
    python examples/finetune_wnut17_ner.py --epochs 1 --max-train 500
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
from kerasft.data.token_pipeline import tokenize_words
from kerasft.data.wnut17 import WNUT17_TAGS, load_wnut17
from kerasft.finetuning import prepare_finetuning
from kerasft.training import EntityF1

MINILM = data.shared_dir() / "models" / "minilm-l6-h384-uncased"
SAMPLE_TEXTS = (
    "Just saw Taylor Swift at Madison Square Garden with my sister",
    "anyone tried the new iPhone from apple ? heard it is great",
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=str(MINILM))
    parser.add_argument("--strategy", default="full")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-train", type=int, default=None,
                        help="train on the first N sentences (quick run)")
    parser.add_argument("--output-dir", default="runs/wnut17_ner")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser.parse_args(argv)


def entity_scores(model, windows, batch_size=64):
    """EntityF1 over a whole split, and its per-type scores."""
    metric = EntityF1(WNUT17_TAGS)
    for start in range(0, len(windows), batch_size):
        inputs = {k: v[start:start + batch_size]
                  for k, v in windows.inputs.items()}
        metric.update_state(windows.labels[start:start + batch_size],
                            model(inputs, training=False))
    return float(metric.result()), metric.per_type()


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)  # before the preprocessor
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    # --- Data: words and IOB2 tags -> windows of word pieces ---
    splits = {split: load_wnut17(split)
              for split in ("train", "validation", "test")}
    if args.max_train:
        train = splits["train"]
        train_words = train.words[:args.max_train]
        train_tags = train.tags[:args.max_train]
    else:
        train_words, train_tags = splits["train"].words, splits["train"].tags
    preprocessor = data.text_preprocessor(
        args.preset, sequence_length=args.sequence_length)
    windows = {
        "train": tokenize_words(train_words, train_tags, preprocessor,
                                tag_names=WNUT17_TAGS),
        **{split: tokenize_words(splits[split].words, splits[split].tags,
                                 preprocessor, tag_names=WNUT17_TAGS)
           for split in ("validation", "test")},
    }
    for split, w in windows.items():
        print(f"{split}: {w.num_sentences:,} sentences, {w.num_words:,} "
              f"words, {len(w):,} windows, {w.num_truncated_words} words "
              "truncated")
    train_ds = windows["train"].to_dataset(
        batch_size=args.batch_size, shuffle=True, seed=args.seed)
    validation_ds = windows["validation"].to_dataset(batch_size=64)

    # --- Model, strategy, Trainer ---
    model = kerasft.TokenClassifier.from_preset(
        args.preset, tag_names=WNUT17_TAGS)
    steps = -(-len(windows["train"]) // args.batch_size)
    plan = prepare_finetuning(
        model, args.strategy, learning_rate=args.learning_rate,
        total_steps=args.epochs * steps)
    trainer = kerasft.Trainer(model, optimizer=plan.optimizer,
                              metrics=[EntityF1(WNUT17_TAGS)])
    start = time.perf_counter()
    trainer.fit(train_ds, validation_data=validation_ds, epochs=args.epochs,
                callbacks=plan.callbacks, verbose=args.verbose)
    train_seconds = time.perf_counter() - start

    # --- Test: entity F1 overall and per type ---
    test_f1, per_type = entity_scores(model, windows["test"])
    print(f"Test entity F1 {test_f1:.4f} (train {train_seconds:.0f} s, "
          f"{plan.trainable_params:,} parameters trained)")
    for name, scores in per_type.items():
        print(f"  {name:>14}: F1 {scores['f1']:.4f}  "
              f"P {scores['precision']:.4f}  R {scores['recall']:.4f}  "
              f"({scores['support']} entities)")
    model.save(output_dir / "model.keras")

    # --- The saved model, loaded back, on raw strings ---
    loaded = keras.saving.load_model(output_dir / "model.keras")
    for text, entities in zip(SAMPLE_TEXTS, kerasft.predict_texts(
            loaded, list(SAMPLE_TEXTS), preprocessor)):
        print(f"  {text}")
        for e in entities:
            print(f"    {e['type']:>14} {e['text']!r} [{e['start']}:"
                  f"{e['end']}] {e['score']:.2f}")
    results = {"test_entity_f1": test_f1, "per_type": per_type,
               "train_seconds": train_seconds,
               "epochs": args.epochs, "strategy": args.strategy,
               "learning_rate": args.learning_rate,
               "trainable_params": plan.trainable_params}
    (output_dir / "results.json").write_text(
        json.dumps(results, indent=2, default=float))
    return results


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
