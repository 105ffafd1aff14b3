"""Reference: the BERT configurations we benchmark, on a GPU, in Keras on JAX.

Why this exists: the GPU machine lent to our sessions has no TensorFlow, only
CUDA 13 (TensorFlow 2.21's GPU build needs CUDA 12 libraries, gigabytes
that cannot be carried there), so `kerasft.Trainer` cannot run on it. This
script measures what the same keras-hub `BertBackbone` with a classification
head reaches on that GPU under Keras 3's JAX backend (`keras.Model.fit`,
XLA via `jax.jit`), so our CPU figures have a GPU reference beside them. It
does not import kerasft (kerasft pins the TensorFlow backend).

For each configuration (MiniLM-L6-H384 and BERT-base shapes, random weights:
speed does not depend on their values) it times full fine-tuning steps in
float32 and in `mixed_bfloat16`, with `jit_compile` on (XLA) and off, and
prints examples/s, tokens/s and model FLOPs utilization:

    MFU = 6 * non-embedding parameters * tokens/s / peak dense bf16 FLOP/s

(the 6 counts the forward and backward matmuls; attention's score FLOPs are
left out, as in the usual definition). `--peak-tflops` defaults to the H100
SXM's 989 dense bf16 TFLOP/s.

    KERAS_BACKEND=jax python benchmarks/bert_gpu_jax_reference.py
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

CONFIGS = {
    # name: (num_layers, hidden_dim, num_heads, intermediate_dim)
    "minilm-l6-h384": (6, 384, 12, 1536),
    "bert-base": (12, 768, 12, 3072),
}
VOCABULARY_SIZE = 30522


def build(config, sequence_length):
    num_layers, hidden_dim, num_heads, intermediate_dim = CONFIGS[config]
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=VOCABULARY_SIZE, num_layers=num_layers,
        num_heads=num_heads, hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=sequence_length)
    inputs = backbone.input
    pooled = backbone(inputs)["pooled_output"]
    logits = keras.layers.Dense(2, dtype="float32")(pooled)
    return keras.Model(inputs, logits), backbone


def non_embedding_parameters(backbone):
    embedding = sum(int(np.prod(w.shape)) for w in backbone.weights
                    if "embedding" in w.path)
    return backbone.count_params() - embedding


def measure(config, policy, jit, batch_size, sequence_length, steps):
    keras.backend.clear_session()
    keras.mixed_precision.set_global_policy(policy)
    model, backbone = build(config, sequence_length)
    model.compile(
        optimizer=keras.optimizers.AdamW(5e-5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit)
    rng = np.random.default_rng(0)
    n = batch_size * steps
    x = {
        "token_ids": rng.integers(1, VOCABULARY_SIZE,
                                  (n, sequence_length)).astype("int32"),
        "segment_ids": np.zeros((n, sequence_length), "int32"),
        "padding_mask": np.ones((n, sequence_length), "int32"),
    }
    y = rng.integers(0, 2, (n,)).astype("int32")
    warm = {k: v[:2 * batch_size] for k, v in x.items()}
    model.fit(warm, y[:2 * batch_size], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - start
    return n / seconds, non_embedding_parameters(backbone)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--eager-steps", type=int, default=5,
                        help="steps timed with jit_compile off (slow); 0 "
                             "skips those rows")
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    args = parser.parse_args()
    print(f"Keras {keras.__version__} on {keras.backend.backend()}, "
          f"keras-hub {keras_hub.__version__}; batch {args.batch_size} x "
          f"{args.sequence_length} tokens; peak {args.peak_tflops:g} TFLOP/s")
    print(f"{'config':16} {'policy':15} {'XLA':>4} {'examples/s':>11} "
          f"{'tokens/s':>11} {'MFU':>6} {'vs f32+XLA':>10}")
    for config in args.configs:
        base = None
        for jit in (True, False)[:2 if args.eager_steps else 1]:
            for policy in ("float32", "mixed_bfloat16"):
                steps = args.steps if jit else args.eager_steps
                rate, params = measure(config, policy, jit, args.batch_size,
                                       args.sequence_length, steps)
                base = base or rate
                tokens = rate * args.sequence_length
                mfu = 6 * params * tokens / (args.peak_tflops * 1e12)
                print(f"{config:16} {policy:15} {'on' if jit else 'off':>4} "
                      f"{rate:11,.0f} {tokens:11,.0f} {100 * mfu:5.1f}% "
                      f"{rate / base:9.2f}x", flush=True)
        print(f"{config}: {params:,} non-embedding parameters")


if __name__ == "__main__":
    main()
