"""Sentence similarity as regression: a MiniLM cross-encoder on STS-B.

What it shows: `kerasft.TextRegressor` on sentence pairs (both sentences
in one input, `[CLS] a [SEP] b [SEP]`, so attention compares them word by
word: a cross-encoder), the target scaling saved with the model
(`TextRegressor.target_scaling`: the head predicts standardized scores,
the model answers in STS-B's 0-5 units), Pearson and Spearman correlation
over the whole dev set inside the compiled step
(`kerasft.training.PearsonCorrelation`, `SpearmanCorrelation`; Keras' own
`PearsonCorrelation` averages per batch), length bucketing, and scores for
raw pairs from the saved model loaded back (`kerasft.predict_texts`).

Data: STS-B from GLUE (../shared/data/stsb; 5,749 train pairs, 1,500 dev;
scores 0-5). The dev split is the one reported (GLUE's test scores are not
public; `load_stsb("test")` reads the original gold file, scored at the
end too).

Model: MiniLM-L6-H384 (../shared/models/minilm-l6-h384-uncased), mean
pooling, all layers trained, AdamW with linear warmup and decay, MSE.

    python examples/finetune_stsb_regression.py          # defaults below
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

MINILM = data.shared_dir() / "models" / "minilm-l6-h384-uncased"
SAMPLE_PAIRS = (
    ["A man is playing a guitar.", "A woman is slicing an onion."],
    ["A man plays the guitar.", "A man is driving a car."],
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=str(MINILM))
    parser.add_argument("--strategy", default="full")
    parser.add_argument("--pooling", default="mean",
                        choices=("cls", "pooled", "mean"))
    parser.add_argument("--loss", default="mse", choices=("mse", "huber"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=8e-5)
    parser.add_argument("--output-dir", default="runs/stsb_regression")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)  # before the preprocessor
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)

    # --- Data: (sentence1, sentence2) pairs and 0-5 scores ---
    splits = {split: data.load_stsb(split)
              for split in ("train", "validation", "test")}
    preprocessor = data.text_preprocessor(
        args.preset, sequence_length=args.sequence_length)

    def dataset(split, shuffle):
        first, second, scores = splits[split]
        return data.make_text_dataset(
            (first, second), scores, preprocessor=preprocessor,
            batch_size=args.batch_size if shuffle else 64, shuffle=shuffle,
            seed=args.seed, bucket_boundaries=(32, 64), task="regression")

    train, dev, test = (dataset("train", True), dataset("validation", False),
                        dataset("test", False))

    # --- Model: the scaling of the train scores goes into the model ---
    train_scores = splits["train"][2]
    model = kerasft.TextRegressor.from_preset(
        args.preset, pooling=args.pooling,
        **kerasft.TextRegressor.target_scaling(train_scores))
    steps = -(-len(train_scores) // args.batch_size)
    plan = prepare_finetuning(model, args.strategy,
                              learning_rate=args.learning_rate,
                              total_steps=args.epochs * steps)
    trainer = kerasft.Trainer(model, optimizer=plan.optimizer,
                              loss=args.loss,
                              metrics=["pearson", "spearman", "mae"])
    start = time.perf_counter()
    trainer.fit(train, validation_data=dev, epochs=args.epochs,
                callbacks=plan.callbacks, verbose=args.verbose)
    train_seconds = time.perf_counter() - start
    dev_results = trainer.evaluate(dev)
    test_results = trainer.evaluate(test)
    print(f"Dev Pearson {dev_results['pearson']:.4f}, Spearman "
          f"{dev_results['spearman']:.4f}, MAE {dev_results['mae']:.3f}; "
          f"test Pearson {test_results['pearson']:.4f}, Spearman "
          f"{test_results['spearman']:.4f} (train {train_seconds:.0f} s)")
    model.save(output_dir / "model.keras")

    # --- The saved model, loaded back, on raw pairs ---
    loaded = keras.saving.load_model(output_dir / "model.keras")
    scores = kerasft.predict_texts(loaded, SAMPLE_PAIRS, preprocessor)
    for a, b, score in zip(*SAMPLE_PAIRS, scores):
        print(f"  {score:.2f}  {a!r} / {b!r}")
    results = {"dev": dev_results, "test": test_results,
               "train_seconds": train_seconds, "epochs": args.epochs,
               "learning_rate": args.learning_rate,
               "pooling": args.pooling, "loss": args.loss,
               "sample_scores": [float(s) for s in scores]}
    (output_dir / "results.json").write_text(
        json.dumps(results, indent=2, default=float))
    return results


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
