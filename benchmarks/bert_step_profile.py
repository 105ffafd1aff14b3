"""Profile: where a BERT fine-tuning step spends its time, kerasft vs PyTorch.

The same MiniLM (../shared/models/minilm-l6-h384-uncased), one fixed batch of
MR sentences (batch 32, length 64 by default), AdamW. For each contender it
times three nested programs and reports ms per step:

  forward            model(x, training=True), no gradient
  forward+backward   + loss and gradients of every weight
  full step          + AdamW update (kerasft: the Trainer's own step with
                       its metrics and non-finite guard; PyTorch: loss,
                       backward, optimizer.step, zero_grad)

so the difference between rows is the cost of the backward pass and of the
update. kerasft runs in float32 and in mixed_bfloat16. With `--trace` it
also records a TensorFlow profile of a few Trainer steps and, given a Python
with `xprof` (`--xprof-python`, a separate venv: `pip install xprof`), prints
the op types that take the most time.

    python benchmarks/bert_step_profile.py --torch-python TORCHENV/bin/python \\
        --trace /tmp/bert_trace --xprof-python PROFENV/bin/python
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
import tensorflow as tf

from kerasft import data

XPROF_SNIPPET = """
import glob, json, sys
from xprof.convert import raw_to_tool_data
paths = glob.glob(sys.argv[1] + "/**/*.xplane.pb", recursive=True)
data, _ = raw_to_tool_data.xspace_to_tool_data([sorted(paths)[-1]],
                                               "framework_op_stats", {})
table = json.loads(data)[0]  # a Google Charts DataTable
columns = [column["id"] for column in table["cols"]]
rows = [dict(zip(columns, [(cell or {}).get("v") for cell in row["c"]]))
        for row in table["rows"]]
print(json.dumps(rows))
"""


def batch_of(preset, batch_size, sequence_length):
    texts, labels = data.load_rt_polarity_arrays(split="train")
    preprocessor = data.text_preprocessor(preset,
                                          sequence_length=sequence_length)
    dataset = data.make_text_dataset(
        list(texts[:batch_size]), labels[:batch_size],
        preprocessor=preprocessor, batch_size=batch_size, shuffle=False)
    return next(iter(dataset))


def time_calls(function, repeats):
    function()  # trace and warm up
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def kerasft_phases(preset, batch, repeats, dtype):
    keras.mixed_precision.set_global_policy(dtype)
    keras.utils.set_random_seed(0)
    x, y = batch
    classifier = kerasft.BertClassifier.from_preset(preset, num_classes=2,
                                                    pooling="mean")
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def forward():
        return tf.reduce_sum(tf.cast(classifier(x, training=True),
                                     "float32"))

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            logits = tf.cast(classifier(x, training=True), "float32")
            loss = loss_fn(y, logits)
        gradients = tape.gradient(loss, classifier.trainable_variables)
        return tf.linalg.global_norm(gradients)

    trainer = kerasft.Trainer(classifier, optimizer=keras.optimizers.AdamW(
        5e-5), metrics=["accuracy"])
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat()
    trainer.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    train_function = trainer._get_train_function()
    iterator = iter(dataset)

    def step():
        train_function(iterator, tf.constant(1))["steps"].numpy()

    result = {
        "forward": time_calls(lambda: forward().numpy(), repeats),
        "forward+backward": time_calls(lambda: forward_backward().numpy(),
                                       repeats),
        "full step": time_calls(step, repeats),
    }
    keras.mixed_precision.set_global_policy("float32")
    return result, trainer, dataset


def trace_steps(trainer, dataset, trace_dir, steps=5):
    train_function = trainer._get_train_function()
    iterator = iter(dataset)
    tf.profiler.experimental.start(str(trace_dir))
    for _ in range(steps):
        train_function(iterator, tf.constant(1))["steps"].numpy()
    tf.profiler.experimental.stop()


def top_ops(xprof_python, trace_dir, limit=15):
    """Self time per op type, and per phase (forward / backward / update).

    The phase comes from the op's name scope: the tape's gradient ops live
    under `gradient_tape/`, the optimizer's under its name (`adam_w/`).
    """
    result = subprocess.run([xprof_python, "-c", XPROF_SNIPPET,
                             str(trace_dir)], capture_output=True, text=True,
                            check=True)
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    by_type, by_phase = {}, {}
    for row in rows:
        if row["type"] == "IDLE":
            continue
        micros = float(row["total_self_time"] or 0)
        by_type[row["type"]] = by_type.get(row["type"], 0.0) + micros
        name = row["operation"]
        phase = ("backward" if "gradient_tape" in name
                 else "update" if "adam_w" in name.lower()
                 else "forward" if "bert_classifier" in name
                 else "other (loss, metrics, guard)")
        by_phase[phase] = by_phase.get(phase, 0.0) + micros
    total = sum(by_type.values()) or 1.0
    ordered = sorted(by_type.items(), key=lambda item: -item[1])[:limit]
    phases = sorted(by_phase.items(), key=lambda item: -item[1])
    return ([(name, micros, micros / total) for name, micros in ordered],
            [(name, micros, micros / total) for name, micros in phases])


def torch_phases(python, preset, batch, repeats):
    x, y = batch
    payload = {"token_ids": x["token_ids"].numpy().tolist(),
               "padding_mask": x["padding_mask"].numpy().astype(int).tolist(),
               "labels": y.numpy().tolist()}
    path = Path("/tmp/kerasft_profile_batch.json")
    path.write_text(json.dumps(payload))
    command = [python, str(Path(__file__).with_name("torch_bert_finetune.py")),
               "--preset", str(preset), "--phases", str(path),
               "--repeats", str(repeats)]
    result = subprocess.run(command, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--torch-python", default=None)
    parser.add_argument("--trace", default=None,
                        help="folder for a TensorFlow profile of the step")
    parser.add_argument("--xprof-python", default=None)
    args = parser.parse_args()
    preset = args.preset or str(
        data.shared_dir() / "models" / "minilm-l6-h384-uncased")
    batch = batch_of(preset, args.batch_size, args.sequence_length)
    print(f"MiniLM, batch {args.batch_size} x length "
          f"{args.sequence_length}, median of {args.repeats} calls, ms/step")

    columns = {}
    trainer = dataset = None
    for dtype in ("float32", "mixed_bfloat16"):
        phases, trainer_, dataset_ = kerasft_phases(preset, batch,
                                                    args.repeats, dtype)
        columns[f"kerasft {dtype}"] = phases
        if dtype == "float32":
            trainer, dataset = trainer_, dataset_
    if args.torch_python:
        columns["PyTorch float32"] = torch_phases(
            args.torch_python, preset, batch, args.repeats)

    names = list(columns)
    print(f"{'phase':<18}" + "".join(f"{n:>24}" for n in names))
    for phase in ("forward", "forward+backward", "full step"):
        print(f"{phase:<18}" + "".join(
            f"{columns[n][phase]:>24.1f}" for n in names))
    print(f"{'backward only':<18}" + "".join(
        f"{columns[n]['forward+backward'] - columns[n]['forward']:>24.1f}"
        for n in names))
    print(f"{'update + rest':<18}" + "".join(
        f"{columns[n]['full step'] - columns[n]['forward+backward']:>24.1f}"
        for n in names))
    print(f"{'examples/s':<18}" + "".join(
        f"{1000 * args.batch_size / columns[n]['full step']:>24.1f}"
        for n in names))

    if args.trace:
        trace_steps(trainer, dataset, args.trace)
        print(f"\nTensorFlow profile of 5 float32 steps: {args.trace} "
              "(tensorboard --logdir it, Profile tab)")
        if args.xprof_python:
            types, phases = top_ops(args.xprof_python, args.trace)
            print(f"{'phase':<30}{'self time (ms)':>16}{'share':>8}")
            for name, micros, share in phases:
                print(f"{name:<30}{micros / 1000:>16.1f}{share:>8.1%}")
            print(f"\n{'op type':<30}{'self time (ms)':>16}{'share':>8}")
            for name, micros, share in types:
                print(f"{name:<30}{micros / 1000:>16.1f}{share:>8.1%}")


if __name__ == "__main__":
    sys.exit(main())
