"""Fine-tune a pretrained BERT (MiniLM) on MR sentence polarity.

What it shows: `kerasft.TextClassifier.from_preset` on a Hugging Face-layout
folder (../shared/models/minilm-l6-h384-uncased, loaded offline through
keras-hub), tokenization on the host in tf.data with length bucketing, three
fine-tuning strategies on the same data — head only (frozen backbone, with
cached features), top-2 layers, full — their parameter comparison, and the
test accuracy of each.

Data: the MR files (../shared/data/rt-polarity), the fixed split: read
`rt-polarity.pos` then `rt-polarity.neg`, permute with
`numpy.random.default_rng(0).permutation(10662)`, first 9,595 train, last
1,067 test; validation is the last 10% of the train part.

Time on a 2-core CPU: about 40 minutes for the three strategies at the
defaults (full fine-tuning is most of it); `--quick` runs 1,000 training
sentences for one epoch in a few minutes.

    python examples/finetune_bert_sentiment.py
    python examples/finetune_bert_sentiment.py --strategies full --epochs 3
"""

import argparse
import math
import time

import kerasft

# isort: split
import keras

from kerasft import data, finetuning


def load_splits(max_train=None, validation_fraction=0.1):
    """(texts, labels) for train, validation and test, the fixed split."""
    texts, labels = data.load_rt_polarity_arrays(split="train")
    test = data.load_rt_polarity_arrays(split="test")
    if max_train:
        texts, labels = texts[:max_train], labels[:max_train]
    cut = len(texts) - int(len(texts) * validation_fraction)
    return (texts[:cut], labels[:cut]), (texts[cut:], labels[cut:]), test


def text_datasets(preset, splits, args):
    preprocessor = data.text_preprocessor(
        preset, sequence_length=args.sequence_length)
    # Short sentences are padded to their bucket, not to sequence_length.
    buckets = tuple(b for b in (16, 32) if b < args.sequence_length) + (
        args.sequence_length,)

    def batches(part, shuffle):
        return data.make_text_dataset(
            list(part[0]), part[1], preprocessor=preprocessor,
            batch_size=args.batch_size, shuffle=shuffle, seed=args.seed,
            bucket_boundaries=buckets)

    train, val, test = splits
    return batches(train, True), batches(val, False), batches(test, False)


def run_strategy(strategy, preset, datasets, num_train, args):
    train, val, test = datasets
    keras.utils.set_random_seed(args.seed)
    classifier = kerasft.TextClassifier.from_preset(
        preset, num_classes=2, pooling=args.pooling, dropout=0.1)
    start = time.perf_counter()
    if strategy == "head_only":
        kerasft.freeze_backbone(classifier)
        finetuning.fit_head_on_cached_features(
            classifier, train, val, epochs=args.head_epochs,
            batch_size=args.batch_size, learning_rate=args.head_learning_rate,
            seed=args.seed, verbose=args.verbose)
        trainable = sum(v.numpy().size for v in classifier.trainable_weights)
    else:
        steps = args.epochs * math.ceil(num_train / args.batch_size)
        plan = finetuning.prepare_finetuning(
            classifier, "top_k" if strategy == "top_2" else strategy,
            top_k=2, learning_rate=args.learning_rate, total_steps=steps,
            ema_momentum=args.ema_momentum)
        trainer = kerasft.Trainer(classifier, optimizer=plan.optimizer,
                                  metrics=["accuracy", "f1"])
        trainer.fit(train, validation_data=val, epochs=args.epochs,
                    callbacks=plan.callbacks, verbose=args.verbose)
        trainable = plan.trainable_params
    seconds = time.perf_counter() - start
    results = kerasft.Trainer(classifier, metrics=["accuracy", "f1"]).evaluate(
        test)
    return {"strategy": strategy, "accuracy": results["accuracy"],
            "f1": results["f1"], "trainable": trainable, "seconds": seconds}


def parameter_comparison(preset, strategies, pooling):
    """The block table for each strategy's freeze state, side by side."""
    reports = {}
    for strategy in strategies:
        classifier = kerasft.TextClassifier.from_preset(
            preset, num_classes=2, pooling=pooling, load_weights=False)
        if strategy == "head_only":
            kerasft.freeze_backbone(classifier)
        else:
            finetuning.apply_strategy(
                classifier, "top_k" if strategy == "top_2" else strategy,
                top_k=2)
        reports[strategy] = kerasft.block_report(classifier)
    return kerasft.compare_block_reports(reports)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=None,
                        help="defaults to ../shared/models/minilm-l6-h384-"
                        "uncased")
    parser.add_argument("--strategies", default="head_only,top_2,full")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--head-epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--ema-momentum", type=float, default=None,
                        help="average the weights (e.g. 0.99); off by "
                        "default")
    parser.add_argument("--head-learning-rate", type=float, default=2e-3)
    parser.add_argument("--pooling", default="mean",
                        choices=("cls", "pooled", "mean"))
    parser.add_argument("--dtype", default="float32",
                        choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--validation-fraction", type=float, default=0.1,
                        help="share of the train part held out for "
                        "validation (the end of it)")
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--quick", action="store_true",
                        help="1,000 training sentences, one epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)
    if args.quick:
        args.max_train = args.max_train or 1000
        args.epochs, args.head_epochs = 1, 5
    preset = args.preset or str(
        data.shared_dir() / "models" / "minilm-l6-h384-uncased")
    strategies = args.strategies.split(",")
    keras.mixed_precision.set_global_policy(args.dtype)

    # --- Data ---
    splits = load_splits(args.max_train, args.validation_fraction)
    datasets = text_datasets(preset, splits, args)
    print(f"MR: {len(splits[0][0])} train, {len(splits[1][0])} validation, "
          f"{len(splits[2][0])} test sentences")

    # --- What trains under each strategy ---
    print(parameter_comparison(preset, strategies, args.pooling))

    # --- Train and evaluate each ---
    results = [run_strategy(s, preset, datasets, len(splits[0][0]), args)
               for s in strategies]
    print(f"\n{'strategy':<10} {'trainable':>11} {'time (s)':>9} "
          f"{'test acc':>9} {'test F1':>8}")
    for r in results:
        print(f"{r['strategy']:<10} {r['trainable']:>11,} "
              f"{r['seconds']:>9.0f} {r['accuracy']:>9.4f} {r['f1']:>8.4f}")
    return results


if __name__ == "__main__":
    main()
