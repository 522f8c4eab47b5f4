#!/usr/bin/env python3
"""The README's size comparison: validation bits per byte at equal tokens,
read from each run's metrics.jsonl (the evaluation lines, those with
`val_sets`), as a Markdown table with one row per step both runs evaluated.

Usage: python3 scripts/size-table.py [RUN ...]
  (default: runs/speedrun-reference runs/speedrun-small; a run is a speedrun
  output folder, or the train folder that holds metrics.jsonl)
"""

import json
import os
import sys


def evaluations(run):
    path = os.path.join(run, "metrics.jsonl")
    if not os.path.exists(path):
        path = os.path.join(run, "train", "metrics.jsonl")
    rows = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = json.loads(line)
            if "val_sets" in m:
                # A resumed run may evaluate a step again: the last one counts.
                rows[m["step"]] = (m["tokens"], m["val_sets"].get("tinystories"), m["val_bpb"])
    return rows


def main():
    runs = sys.argv[1:] or ["runs/speedrun-reference", "runs/speedrun-small"]
    evals = [evaluations(r) for r in runs]
    steps = sorted(set.intersection(*(set(e) for e in evals)))
    names = [os.path.basename(os.path.normpath(r)).removeprefix("speedrun-") for r in runs]
    head = ["step (tokens)"] + [f"{n}: TinyStories" for n in names] + [f"{n}: all sets" for n in names]
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * (len(head) - 1) + "|")
    for s in steps:
        tokens = evals[0][s][0]
        cells = [f"{s:,} ({tokens / 1e6:.1f}M)"]
        cells += [f"{e[s][1]:.4f}" for e in evals] + [f"{e[s][2]:.4f}" for e in evals]
        print("| " + " | ".join(cells) + " |")
    for name, e in zip(names, evals):
        last = max(e)
        print(f"\n{name}: last evaluation at step {last:,}: TinyStories {e[last][1]:.4f}, all sets {e[last][2]:.4f}")


if __name__ == "__main__":
    main()
