"""Loads a folder fledge exported with transformers and compares it with
fledge's own numbers.

Usage: hf_export_check.py SPEC.json
SPEC: {"folder", "prompts": [...], "ids": [[...]], "logits": [[[...] per position] per prompt],
       "messages": [...], "rendered": "..."}
Prints one JSON line: the largest logit difference, whether the token ids and
the chat template agree.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

spec = json.load(open(sys.argv[1]))
tok = AutoTokenizer.from_pretrained(spec["folder"])
model = AutoModelForCausalLM.from_pretrained(spec["folder"], torch_dtype=torch.float32)
model.eval()

worst, ids_equal = 0.0, True
for prompt, fledge_ids, fledge_logits in zip(spec["prompts"], spec["ids"], spec["logits"]):
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    ids_equal &= ids == fledge_ids
    with torch.no_grad():
        logits = model(torch.tensor([fledge_ids])).logits[0]
    worst = max(worst, (logits - torch.tensor(fledge_logits)).abs().max().item())

rendered = tok.apply_chat_template(spec["messages"], tokenize=False, add_generation_prompt=True)
print(json.dumps({
    "max_abs_logit_diff": worst,
    "ids_equal": ids_equal,
    "template_equal": rendered == spec["rendered"],
    "rendered": rendered,
    "eos_token": tok.eos_token,
    "architecture": model.config.architectures,
    "dtype": str(model.dtype),
}))
