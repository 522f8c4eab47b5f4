"""Runs fledge's GGUF files in llama.cpp (through llama-cpp-python) and
reports what fledge's own numbers are compared with.

Usage: llama_cpp_check.py SPEC.json
SPEC: {"f32": path, "q8_0": path, "prompts": [[ids]], "max_tokens": n,
       "heldout": [ids], "speed_tokens": n, "eos": id}
Prints one JSON line: token ids llama.cpp's tokenizer gives for the prompt
texts, greedy continuations (ids), held-out perplexity per file, and batch-1
generation speed.
"""
import json
import math
import sys
import time

import numpy as np
from llama_cpp import Llama

spec = json.load(open(sys.argv[1]))
out = {"greedy": [], "ppl": {}, "tokenize": []}


def load(path, logits_all=False):
    return Llama(model_path=path, n_ctx=512, n_threads=2, n_batch=512, logits_all=logits_all, verbose=False)


llm = load(spec["f32"])
for text in spec.get("texts", []):
    out["tokenize"].append(llm.tokenize(text.encode(), add_bos=False, special=True))
for ids in spec["prompts"]:
    llm.reset()
    generated = []
    for token in llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
        if token in spec["stop"] or len(generated) >= spec["max_tokens"]:
            break
        generated.append(token)
    out["greedy"].append(generated)

# Batch-1 generation speed: a short prompt, then speed_tokens tokens with the stop tokens masked.
llm.reset()
n, start = 0, None
bias = np.zeros(llm.n_vocab(), dtype=np.single)
for s in spec["stop"]:
    bias[s] = -1e9
def no_stop(_ids, logits):
    return logits + bias
for token in llm.generate(spec["prompts"][0], top_k=1, temp=0.0, repeat_penalty=1.0, reset=True,
                          logits_processor=[no_stop]):
    if start is None:
        start = time.perf_counter()  # after the prompt and the first token
        continue
    n += 1
    if n >= spec["speed_tokens"]:
        break
out["tokens_per_second"] = n / (time.perf_counter() - start)
del llm

for label in ["f32", "q8_0"]:
    llm = load(spec[label], logits_all=True)
    ids = spec["heldout"]
    llm.reset()
    llm.eval(ids)
    logits = np.array(llm.scores[: len(ids)], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    nll = -np.mean([logp[i, ids[i + 1]] for i in range(len(ids) - 1)])
    out["ppl"][label] = math.exp(nll)
    del llm
print(json.dumps(out))
