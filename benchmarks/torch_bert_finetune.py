"""The PyTorch peer for benchmarks/bert_finetune.py (not part of kerasft).

Full fine-tuning of the same Hugging Face-layout BERT folder with
transformers' BertForSequenceClassification, eager mode, AdamW 5e-5, the
same sentences, batch size and padded sequence length; prints one JSON line
with examples/s measured on the second epoch. Runs in its own environment:

    pip install torch==2.13.0 transformers==4.57.6 safetensors
    python benchmarks/torch_bert_finetune.py --preset PATH --texts FILE.json
"""

import argparse
import json
import time

import torch
from transformers import BertForSequenceClassification, BertTokenizerFast


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", required=True)
    parser.add_argument("--texts", help="JSON texts + labels (epoch mode)")
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--phases", default=None,
                        help="a JSON batch: time forward / backward / step")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if args.phases:
        print(json.dumps(phases(args)))
        return

    torch.manual_seed(0)
    payload = json.load(open(args.texts))
    tokenizer = BertTokenizerFast.from_pretrained(args.preset)
    encoded = tokenizer(payload["texts"], padding="max_length",
                        truncation=True, max_length=args.sequence_length,
                        return_tensors="pt")
    labels = torch.tensor(payload["labels"])
    model = BertForSequenceClassification.from_pretrained(args.preset,
                                                          num_labels=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    model.train()
    n = len(labels)
    times = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        for i in range(0, n, args.batch_size):
            batch = {k: v[i:i + args.batch_size] for k, v in encoded.items()}
            output = model(**batch, labels=labels[i:i + args.batch_size])
            output.loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    print(json.dumps({"examples_per_s": n / times[-1],
                      "threads": torch.get_num_threads()}))


def phases(args):
    """ms per call of forward, forward+backward and a full step."""
    torch.manual_seed(0)
    payload = json.load(open(args.phases))
    inputs = {"input_ids": torch.tensor(payload["token_ids"]),
              "attention_mask": torch.tensor(payload["padding_mask"])}
    labels = torch.tensor(payload["labels"])
    model = BertForSequenceClassification.from_pretrained(args.preset,
                                                          num_labels=2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    model.train()

    def forward():
        with torch.no_grad():
            model(**inputs)

    def forward_backward():
        model(**inputs, labels=labels).loss.backward()
        model.zero_grad()

    def step():
        model(**inputs, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    result = {}
    for name, function in (("forward", forward),
                           ("forward+backward", forward_backward),
                           ("full step", step)):
        function()
        function()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        times.sort()
        result[name] = 1000 * times[len(times) // 2]
    return result


if __name__ == "__main__":
    main()
