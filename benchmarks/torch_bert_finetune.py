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
    parser.add_argument("--texts", required=True)
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
