"""llama.cpp's generation speed at batch 1, measured as `fledge bench generate`
measures fledge: prompt ids 1..8, then GEN greedy tokens whatever they are,
median of 3 after one warm-up. Prints JSON. Run by
`fledge bench generate --model M --llama-cpp M.gguf` with the Python of
~/.cache/fledge/llama-venv (scripts/llama-cpp-check.sh installs it)."""
import argparse
import json
import statistics
import time

import llama_cpp

parser = argparse.ArgumentParser()
parser.add_argument("gguf")
parser.add_argument("--gen", type=int, default=200)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

llm = llama_cpp.Llama(model_path=args.gguf, n_ctx=256, n_batch=8, n_threads=args.threads, verbose=False)
prompt = list(range(1, 9))


def run():
    start = time.perf_counter()
    n = 0
    # generate() samples without stopping at end-of-text; top_k=1 is greedy.
    for _ in llm.generate(prompt, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0, reset=True):
        n += 1
        if n >= args.gen:
            break
    return time.perf_counter() - start


run()
median = statistics.median(run() for _ in range(3))
print(json.dumps({"framework": "llama.cpp (llama-cpp-python " + llama_cpp.__version__ + ")",
                  "gen_tokens": args.gen, "threads": args.threads, "median_s": median,
                  "tokens_per_s": args.gen / median}))
