"""Pretrain a small BERT with masked-LM on MR, then fine-tune it: does it pay?

What it shows: the whole "from scratch" text path of kerasft on real data.

1. A WordPiece vocabulary learned from the MR training sentences
   (`kerasft.pretraining.train_bert_tokenizer`), their labels hidden.
2. A small BERT (`kerasft.pretraining.bert_backbone`) pretrained with the
   masked-LM objective on those sentences: masks drawn in tf.data by
   keras-hub's `MaskedLMMaskGenerator`, trained on the kerasft `Trainer`,
   reporting the MLM loss and the masked-token accuracy.
3. The backbone and tokenizer saved as a keras-hub preset
   (`save_bert_preset`), loaded by `kerasft.BertClassifier.from_preset`.
4. Fine-tuning on only 1,000 labelled sentences, tested on the 1,067
   held-out test sentences, against the same architecture with random
   weights (`from_preset(..., load_weights=False)`) fine-tuned the same way.
   Each arm gets its own learning rate, the best of
   `--finetune-learning-rates` on 200 of the 1,000 labelled sentences held
   out (trained on the other 800); it is then fine-tuned on all 1,000.

Data: the MR files (../shared/data/rt-polarity), kerasft's fixed split
(`kerasft.data.load_rt_polarity_arrays`): 9,595 train and 1,067 test
sentences. Pretraining reads only the 9,595 train sentences; the labelled
set is the first 1,000 of them; the test sentences are never seen before the
test.

Time on a 2-core CPU: about 27 minutes at the defaults on an idle machine
(learning the vocabulary ~0.5 min, 4,023 pretraining steps of 64
sentences ~21 min, the 8 fine-tunings, 4 per arm, ~4 min); `--quick`
pretrains 400 steps. `--vocabulary runs/x/vocab.txt` reuses the vocabulary
of an earlier run.

Why a 70% mask rate (the default here, not BERT's 15%): sentiment lives in
which words share a sentence ("tedious" with "dull"), not in which word fits
a slot ("good" and "bad" fit the same ones). At 15% the MLM learns the
latter, and its word vectors fine-tune WORSE than random ones; masking most
of the sentence leaves a few words to predict the rest from, which is
sentence-level co-occurrence. Measured (README): at 15% and 40% the
pretrained arm ties or loses (0.59-0.63 vs 0.63-0.66), at 70% it wins by
about 2 points.

What to expect (seed 0, measured; see the README): masked-LM loss
6.77 -> 4.48, masked-token accuracy 0.05 -> 0.25; test accuracy 0.6495
pretrained vs 0.6317 from random weights, +1.8 points: a win, but within
the noise of 1,067 test sentences (one standard error is ~1.5 points), so
not yet the clear win the issue asks for. A second run (CPU threads make
runs differ slightly) chose rate 1e-3 on validation and scored 0.6354 vs
0.6317: a tie.
"""

import argparse
import math
import tempfile
import time
from pathlib import Path

import kerasft

# isort: split
import keras
import keras_hub
import tensorflow as tf

from kerasft import data, pretraining


def pretrain(texts, args, output_dir):
    """Vocabulary, BERT, masked-LM training; returns the preset folder."""
    corpus = tf.data.Dataset.from_tensor_slices(list(texts))
    start = time.time()
    if args.vocabulary:  # a vocab.txt from an earlier run
        tokenizer = keras_hub.tokenizers.BertTokenizer(
            vocabulary=args.vocabulary, lowercase=True, strip_accents=True)
    else:
        tokenizer = pretraining.train_bert_tokenizer(
            corpus, args.vocabulary_size, output_dir=output_dir)
    print(f"Vocabulary: {tokenizer.vocabulary_size():,} word pieces "
          + ("read from " + args.vocabulary if args.vocabulary else
             f"learned from {len(texts):,} unlabelled sentences")
          + f" ({time.time() - start:.0f} s)")
    train = pretraining.make_masked_lm_dataset(
        corpus, tokenizer, sequence_length=args.sequence_length,
        batch_size=args.batch_size, mask_rate=args.mask_rate,
        seed=args.seed, pack_lines=args.pack_lines)
    backbone = pretraining.bert_backbone(
        tokenizer.vocabulary_size(), num_layers=args.num_layers,
        hidden_dim=args.hidden_dim, num_heads=args.num_heads,
        intermediate_dim=args.intermediate_dim, dropout=args.dropout,
        max_sequence_length=max(args.sequence_length,
                                args.finetune_sequence_length))
    masked_lm = pretraining.masked_lm_model(backbone)
    steps_per_epoch = train.num_examples // args.batch_size
    epochs = math.ceil(args.pretrain_steps / steps_per_epoch)
    steps_per_epoch = math.ceil(args.pretrain_steps / epochs)
    trainer = pretraining.masked_lm_trainer(
        masked_lm, learning_rate=args.pretrain_learning_rate,
        total_steps=epochs * steps_per_epoch, warmup_fraction=0.06,
        steps_per_execution=10)
    print(f"Pretraining a {args.num_layers}-layer BERT, hidden "
          f"{args.hidden_dim} ({masked_lm.count_params():,} parameters) "
          f"for {epochs * steps_per_epoch:,} steps of {args.batch_size} "
          f"sequences ({epochs} epochs of {steps_per_epoch})")
    start = time.time()
    history = trainer.fit(train.repeat(), epochs=epochs,
                          steps_per_epoch=steps_per_epoch,
                          verbose=args.verbose)
    log = history.history
    print(f"Masked-LM loss {log['loss'][0]:.3f} -> {log['loss'][-1]:.3f}, "
          f"masked-token accuracy {log['accuracy'][0]:.3f} -> "
          f"{log['accuracy'][-1]:.3f} ({time.time() - start:.0f} s)")
    preset_dir = Path(output_dir) / "preset"
    pretraining.save_bert_preset(masked_lm, tokenizer, preset_dir)
    return preset_dir


def finetune(preset_dir, load_weights, train_split, test_split, args,
             learning_rate):
    """Fine-tunes a BertClassifier on the preset; returns test accuracy."""
    keras.utils.set_random_seed(args.seed)  # same head, same order
    preprocessor = data.text_preprocessor(
        str(preset_dir), sequence_length=args.finetune_sequence_length)

    def batches(split, shuffle):
        return data.make_text_dataset(
            list(split[0]), split[1], preprocessor=preprocessor,
            batch_size=32, shuffle=shuffle, seed=args.seed,
            bucket_boundaries=(16, 32))

    train, test = batches(train_split, True), batches(test_split, False)
    classifier = kerasft.BertClassifier.from_preset(
        str(preset_dir), num_classes=2, pooling="mean",
        load_weights=load_weights)
    total_steps = args.finetune_epochs * math.ceil(len(train_split[0]) / 32)
    schedule = kerasft.LinearWarmupDecay(
        learning_rate, int(0.1 * total_steps), total_steps)
    trainer = kerasft.Trainer(
        classifier, optimizer=keras.optimizers.AdamW(schedule),
        metrics=["accuracy"])
    trainer.fit(train, epochs=args.finetune_epochs, verbose=0)
    return trainer.evaluate(test)["accuracy"]


def choose_learning_rate(preset_dir, load_weights, labelled, args):
    """Each arm's fine-tuning rate, chosen on a validation split.

    A pretrained and a random network rarely want the same rate, so one
    rate for both is no fair comparison. The last `validation_size`
    labelled sentences are held out, each rate is fine-tuned on the rest
    and scored on them; the test sentences play no part.
    """
    n = len(labelled[0]) - args.validation_size
    train = (labelled[0][:n], labelled[1][:n])
    validation = (labelled[0][n:], labelled[1][n:])
    scores = {rate: finetune(preset_dir, load_weights, train, validation,
                             args, rate)
              for rate in args.finetune_learning_rates}
    return max(scores, key=scores.get), scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None,
                        help="defaults to ../shared/data/rt-polarity")
    parser.add_argument("--output-dir", default=None,
                        help="where the vocabulary and preset go "
                             "(default: a temporary folder)")
    parser.add_argument("--num-labelled", type=int, default=1000)
    parser.add_argument("--vocabulary-size", type=int, default=8000)
    parser.add_argument("--vocabulary", default=None,
                        help="reuse the vocab.txt of an earlier run (it "
                             "was learned from the same sentences)")
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--num-heads", type=int, default=4)
    parser.add_argument("--intermediate-dim", type=int, default=512)
    parser.add_argument("--sequence-length", type=int, default=64,
                        help="pretraining window, in tokens")
    parser.add_argument("--pack-lines", action="store_true",
                        help="pretrain on the sentences joined and cut "
                             "into full windows, not one per example")
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--finetune-sequence-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mask-rate", type=float, default=0.7,
                        help="share of each sentence's tokens masked; high "
                             "rates teach sentence-level co-occurrence "
                             "(see the module docstring)")
    parser.add_argument("--pretrain-steps", type=int, default=4000)
    parser.add_argument("--pretrain-learning-rate", type=float,
                        default=2e-3)
    parser.add_argument("--finetune-epochs", type=int, default=10)
    parser.add_argument("--finetune-learning-rates", type=float,
                        nargs="+", default=[1e-4, 3e-4, 1e-3],
                        help="candidates; each arm takes the best on the "
                             "validation split")
    parser.add_argument("--validation-size", type=int, default=200,
                        help="labelled sentences held out to choose the "
                             "learning rate")
    parser.add_argument("--quick", action="store_true",
                        help="pretrain 400 steps: a few minutes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)
    if not 0 < args.validation_size < args.num_labelled:
        parser.error(f"--validation-size must be in (0, --num-labelled="
                     f"{args.num_labelled}); got {args.validation_size}")
    if args.quick:
        args.pretrain_steps = 400
    keras.utils.set_random_seed(args.seed)

    # --- Data: pretrain on the train split only, labels hidden ---
    texts, labels = data.load_rt_polarity_arrays(args.data_dir, "train")
    test_split = data.load_rt_polarity_arrays(args.data_dir, "test")
    labelled = (texts[:args.num_labelled], labels[:args.num_labelled])
    print(f"MR: {len(texts):,} train sentences for pretraining (no labels), "
          f"{len(labelled[0]):,} of them labelled for fine-tuning, "
          f"{len(test_split[0]):,} test sentences held out")

    with tempfile.TemporaryDirectory() as temporary:
        output_dir = args.output_dir or temporary
        preset_dir = pretrain(texts, args, output_dir)

        # --- Fine-tune: pretrained vs random weights, same recipe ---
        results = {}
        for name, load_weights in (("pretrained", True), ("random", False)):
            start = time.time()
            rate, scores = choose_learning_rate(preset_dir, load_weights,
                                                labelled, args)
            results[name] = finetune(preset_dir, load_weights, labelled,
                                     test_split, args, rate)
            print(f"Fine-tuned from {name} weights: validation accuracy "
                  + ", ".join(f"{v:.3f} at {r:g}" for r, v in scores.items())
                  + f"; at {rate:g} on all {len(labelled[0]):,} sentences: "
                  f"test accuracy {results[name]:.4f} "
                  f"({time.time() - start:.0f} s)")
    gain = results["pretrained"] - results["random"]
    print(f"Test accuracy ({len(test_split[0]):,} held-out sentences): "
          f"pretrained {results['pretrained']:.4f} vs random init "
          f"{results['random']:.4f}: {100 * gain:+.1f} points from "
          "pretraining")
    results["gain"] = gain
    return results


if __name__ == "__main__":
    main()
