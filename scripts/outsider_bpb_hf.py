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
- `eot-joined`: the same windows over the stories joined by `<|endoftext|>`
  instead of a blank line, the separator left unscored: how much of the
  figure is the model not knowing that a new story starts after a blank
  line (it was pretrained with `<|endoftext|>` between documents).

The stories are the held-out `tinystories` set of a corpus's val.jsonl,
joined by blank lines: the text `scripts/outsider-bpb.sh` measures.

Usage:
  python scripts/outsider_bpb_hf.py MODEL_FOLDER [MODEL_FOLDER ...]
      [--corpus runs/speedrun-reference/data/val.jsonl]

Needs torch and transformers (the interop venv of scripts/test.sh has both).
"""

import argparse
import json
import math

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def token_nats(model, window):
    """Negative log-likelihood of each of window[1:] given what precedes it."""
    with torch.no_grad():
        logits = model(torch.tensor([window])).logits[0, :-1].float()
    log_probs = torch.log_softmax(logits, dim=-1)
    return -log_probs.gather(1, torch.tensor(window[1:])[:, None])[:, 0]


def bits_per_byte(model, tokenizer, ids, mode):
    """Bits per byte of the scored tokens, and how many bytes they hold."""
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    step = 255 if mode == "after-eot" else 256
    nats, scored_bytes = 0.0, 0
    for start in range(0, len(ids), step):
        chunk = ids[start : start + step]
        window = [eot] + chunk if mode == "after-eot" else chunk
        if len(window) < 2:
            continue
        scored = [i for i, t in enumerate(window[1:]) if t != eot or mode == "after-eot"]
        nats += token_nats(model, window)[scored].sum().item()
        scored_bytes += len(tokenizer.decode([window[1 + i] for i in scored]).encode("utf-8"))
    return nats / math.log(2) / scored_bytes, scored_bytes


def stream(tokenizer, stories, mode):
    """The stories as one stream of token ids."""
    if mode != "eot-joined":
        return tokenizer("\n\n".join(stories) + "\n", add_special_tokens=False)["input_ids"]
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    ids = []
    for story in stories:
        ids += tokenizer(story, add_special_tokens=False)["input_ids"] + [eot]
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="exported Hugging Face folders")
    parser.add_argument(
        "--corpus", default="runs/speedrun-reference/data/val.jsonl", help="val.jsonl of a corpus (default: %(default)s)"
    )
    args = parser.parse_args()
    with open(args.corpus, encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    stories = [r["text"] for r in records if r.get("set") == "tinystories"]
    for folder in args.models:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        for mode in ("after-eot", "plain", "eot-joined"):
            ids = stream(tokenizer, stories, mode)
            bpb, scored_bytes = bits_per_byte(model, tokenizer, ids, mode)
            print(f"{folder}\t{mode}\t{bpb:.4f} bits per byte\t{len(ids)} tokens, {scored_bytes} bytes scored")


if __name__ == "__main__":
    main()
