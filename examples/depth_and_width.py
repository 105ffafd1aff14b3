"""Depth and width of a BERT: where the parameters are, and what they buy.

What it shows: BERTs of a few depths (`num_layers`) and widths
(`hidden_dim`, with `intermediate_dim = 4 * hidden_dim` and heads of 32
dimensions), built with `kerasft.pretraining.bert_backbone`; their parameters
split by layer type — embeddings (token, position, segment, their norm),
attention (query/key/value/output projections and their norm), feed-forward
(the two dense layers and their norm), pooler and head — checked against
`kerasft.block_report`; then the test accuracy of each trained from random
weights on a small MR sentiment set with the same recipe.

By hand, for vocabulary V, max length S, width H, feed-forward width I:
embeddings (V + S + 2) H + 2H; per layer, attention 4 (H^2 + H) + 2H and
feed-forward 2 H I + I + H + 2H. With BERT's 30,522-token vocabulary the
embeddings are most of a small model: width costs embeddings, depth does not.

Data: MR (../shared/data/rt-polarity), the fixed split; the first
`--num-train` train sentences, tested on the 1,067 test sentences. The
tokenizer is MiniLM's (../shared/models/minilm-l6-h384-uncased), its
weights unused. Accuracies of models trained from scratch on little data
are modest (~0.6-0.7); pretraining is what lifts them (see
pretrain_then_finetune_text.py).

Time on a 2-core CPU: about 5 minutes at the defaults; `--quick` (two small
models, 500 sentences, one epoch) about a minute.

    python examples/depth_and_width.py
    python examples/depth_and_width.py --configs 1x64,2x64,4x64 --epochs 5
"""

import argparse
import time

import kerasft

# isort: split
import keras
import numpy as np

from kerasft import data, pretraining

LAYER_TYPES = ("embeddings", "attention", "feed-forward", "pooler", "head")


def layer_type(path):
    """The layer type of a weight, from its path (e.g.
    `transformer_layer_0/self_attention_layer/query/kernel`)."""
    if "/self_attention" in path:
        return "attention"  # projections and their layer norm
    if "/feedforward" in path:
        return "feed-forward"  # both dense layers and their layer norm
    if path.startswith("pooled_dense"):
        return "pooler"
    if "embedding" in path:
        return "embeddings"  # token, position, segment and their norm
    return "head"


def parameters_by_type(model):
    counts = dict.fromkeys(LAYER_TYPES, 0)
    for weight in model.weights:
        counts[layer_type(weight.path)] += int(np.prod(weight.shape))
    # The same figures as kerasft's per-block report, whose transformer
    # blocks are split here into attention and feed-forward.
    blocks = {b.block: b.total_params for b in kerasft.block_report(model)}
    for name in ("embeddings", "pooler", "head"):
        assert counts[name] == blocks[name], name
    assert counts["attention"] + counts["feed-forward"] == sum(
        v for k, v in blocks.items() if k.startswith("transformer_layer"))
    return counts


def parse_configs(text):
    """`"1x64,2x128"` -> [(1, 64), (2, 128)] (layers x hidden)."""
    configs = []
    for item in text.split(","):
        layers, hidden = item.lower().split("x")
        configs.append((int(layers), int(hidden)))
    return configs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="1x128,2x128,4x128,2x64,2x256",
                        help="comma-separated LAYERSxHIDDEN")
    parser.add_argument("--preset", default=None,
                        help="tokenizer source; defaults to ../shared/"
                             "models/minilm-l6-h384-uncased")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--quick", action="store_true",
                        help="two small models, 500 sentences, one epoch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.num_train, args.epochs = "1x32,2x64", 500, 1
    configs = parse_configs(args.configs)
    preset = args.preset or str(
        data.shared_dir() / "models" / "minilm-l6-h384-uncased")

    # --- Data ---
    texts, labels = data.load_rt_polarity_arrays(args.data_dir, "train")
    test_texts, test_labels = data.load_rt_polarity_arrays(args.data_dir,
                                                           "test")
    preprocessor = data.text_preprocessor(
        preset, sequence_length=args.sequence_length)
    vocabulary_size = preprocessor.tokenizer.vocabulary_size()

    def batches(x, y, shuffle):
        return data.make_text_dataset(
            list(x), y, preprocessor=preprocessor, batch_size=32,
            shuffle=shuffle, seed=args.seed, bucket_boundaries=(16, 32))

    train = batches(texts[:args.num_train], labels[:args.num_train], True)
    test = batches(test_texts, test_labels, False)
    print(f"MR: {args.num_train:,} training sentences, "
          f"{len(test_texts):,} test; vocabulary of {vocabulary_size:,}")

    # --- Models: count, train, test ---
    header = (f"{'layers':>6} {'hidden':>6} "
              + " ".join(f"{t:>12}" for t in LAYER_TYPES)
              + f" {'total':>11} {'accuracy':>8} {'time':>6}")
    print(header)
    print("-" * len(header))
    results = []
    for num_layers, hidden_dim in configs:
        keras.utils.set_random_seed(args.seed)
        backbone = pretraining.bert_backbone(
            vocabulary_size, num_layers=num_layers, hidden_dim=hidden_dim,
            num_heads=max(1, hidden_dim // 32),
            max_sequence_length=args.sequence_length)
        classifier = kerasft.BertClassifier(backbone, num_classes=2,
                                            pooling="mean")
        counts = parameters_by_type(classifier)
        start = time.time()
        trainer = kerasft.Trainer(
            classifier,
            optimizer=keras.optimizers.AdamW(args.learning_rate),
            metrics=["accuracy"])
        trainer.fit(train, epochs=args.epochs, verbose=0)
        accuracy = trainer.evaluate(test)["accuracy"]
        seconds = time.time() - start
        total = sum(counts.values())
        print(f"{num_layers:>6} {hidden_dim:>6} "
              + " ".join(f"{counts[t]:>12,}" for t in LAYER_TYPES)
              + f" {total:>11,} {accuracy:>8.4f} {seconds:>5.0f}s")
        results.append({"num_layers": num_layers, "hidden_dim": hidden_dim,
                        "parameters": counts, "total": total,
                        "accuracy": accuracy})
    print("Embeddings grow with the width only; each layer adds "
          "attention + feed-forward, ~12 H^2 parameters.")
    return results


if __name__ == "__main__":
    main()
