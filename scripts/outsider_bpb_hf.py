#!/usr/bin/env python3
"""Bits per byte on a stream of text, measured through transformers on an
exported Hugging Face folder: a check of `scripts/outsider-bpb.sh` (fledge's
`inspect --summary --window 255`) with code that shares nothing with fledge.

Two ways of cutting the stream, both with no regard for where stories start:

- `after-eot`: what fledge reports. Windows of 255 tokens, each read after
  `<|endoftext|>`, so every token of the text is scored once and the bytes
  are all the text's bytes. The first token of a window is predicted from
  nothing but "a text starts here", which a window cut mid-story is not.
- `plain`: transformers' perplexity recipe with a stride equal to the window
  (windows of 256 tokens, `labels = input_ids`). The first token of each
  window is context, never scored, and its bytes are left out.

Usage:
  python scripts/outsider_bpb_hf.py MODEL_FOLDER [MODEL_FOLDER ...] [--text runs/tinystories-val.txt]

The text file is what `scripts/outsider-bpb.sh` writes (the held-out
TinyStories validation stories joined by blank lines). Needs torch and
transformers (the interop venv of scripts/test.sh has both).
"""

import argparse
import math

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def scored_nats(model, window):
    """Summed negative log-likelihood of window[1:] given what precedes each token."""
    with torch.no_grad():
        logits = model(torch.tensor([window])).logits[0, :-1].float()
    log_probs = torch.log_softmax(logits, dim=-1)
    targets = torch.tensor(window[1:])[:, None]
    return -log_probs.gather(1, targets).sum().item()


def bits_per_byte(model, tokenizer, ids, mode):
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    step = 255 if mode == "after-eot" else 256
    nats, scored_bytes = 0.0, 0
    for start in range(0, len(ids), step):
        chunk = ids[start : start + step]
        window = [eot] + chunk if mode == "after-eot" else chunk
        if len(window) < 2:
            continue
        nats += scored_nats(model, window)
        scored_bytes += len(tokenizer.decode(window[1:]).encode("utf-8"))
    return nats / math.log(2) / scored_bytes, scored_bytes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="exported Hugging Face folders")
    parser.add_argument("--text", default="runs/tinystories-val.txt", help="the stream (default: %(default)s)")
    args = parser.parse_args()
    text = open(args.text, encoding="utf-8").read()
    for folder in args.models:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for mode in ("after-eot", "plain"):
            bpb, scored_bytes = bits_per_byte(model, tokenizer, ids, mode)
            print(f"{folder}\t{mode}\t{bpb:.4f} bits per byte\t{len(ids)} tokens, {scored_bytes} bytes scored")


if __name__ == "__main__":
    main()
