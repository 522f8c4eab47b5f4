#!/usr/bin/env python3
"""Two models' battery answers compared question by question.

`fledge eval --out DIR` writes every answer to DIR/answers.jsonl. Two runs of
the same battery (same split, sets and --limit) ask the same questions, so
their difference is better judged in pairs than by each rate's own standard
error: most questions are answered alike, and only the questions one model
gets and the other misses say which is better. For each yes/no outcome this
prints both rates, the discordant pairs (only A, only B) and the exact
two-sided McNemar p-value (a binomial test on the discordant pairs); for
FairytaleQA's token F1, the mean paired difference and its standard error.

Usage:
  python3 scripts/battery_compare.py A_DIR B_DIR [--names A B]

Standard library only.
"""

import argparse
import json
import math
import sys
from pathlib import Path


def read_answers(folder):
    path = Path(folder) / "answers.jsonl"
    if not path.is_file():
        sys.exit(f"{path}: not found; write it with `fledge eval --out {folder}`")
    rows = []
    for n, line in enumerate(path.open(encoding="utf-8"), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            sys.exit(f"{path}:{n}: not JSON ({e})")
    return rows


def keyed(rows, set_name, key):
    """The answers of one set, keyed by id where they have one, else by position."""
    out = {}
    for i, r in enumerate(x for x in rows if x.get("set") == set_name):
        a = r["answer"]
        out[a.get(key, i) if key else i] = a
    return out


def mcnemar_p(only_a, only_b):
    """Exact two-sided p-value of the discordant pairs under 'no difference'."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def outcomes(rows):
    """Each yes/no outcome's answers, by label: {question key: outcome}."""
    grounded = keyed(rows, "grounded", "id")
    stories = keyed(rows, "stories", "id")
    babi = keyed(rows, "babi-task1", None)
    return {
        "grounded answer accuracy (answerable)": {
            k: a["accurate"] for k, a in grounded.items() if a["answerable"]
        },
        "unanswerable refused": {k: a["refused"] for k, a in grounded.items() if not a["answerable"]},
        "answerable refused (false refusals)": {k: a["refused"] for k, a in grounded.items() if a["answerable"]},
        "story requests told": {k: a["pass"] for k, a in stories.items()},
        "bAbI-1 exact match": {k: a["exact"] for k, a in babi.items()},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="first `fledge eval --out` folder")
    ap.add_argument("b", help="second `fledge eval --out` folder")
    ap.add_argument("--names", nargs=2, default=["A", "B"], help="column names (default: A B)")
    args = ap.parse_args()
    rows_a, rows_b = read_answers(args.a), read_answers(args.b)
    oa, ob = outcomes(rows_a), outcomes(rows_b)
    na, nb = args.names
    print(f"| outcome | pairs | {na} | {nb} | only {na} | only {nb} | McNemar p |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label in oa:
        common = sorted(set(oa[label]) & set(ob[label]), key=str)
        if not common:
            continue
        ya = sum(bool(oa[label][k]) for k in common)
        yb = sum(bool(ob[label][k]) for k in common)
        only_a = sum(bool(oa[label][k]) and not ob[label][k] for k in common)
        only_b = sum(bool(ob[label][k]) and not oa[label][k] for k in common)
        n = len(common)
        print(
            f"| {label} | {n} | {ya / n:.3f} | {yb / n:.3f} | {only_a} | {only_b} | {mcnemar_p(only_a, only_b):.3f} |"
        )
    fa, fb = keyed(rows_a, "fairytaleqa", None), keyed(rows_b, "fairytaleqa", None)
    common = [k for k in fa if k in fb and fa[k].get("question") == fb[k].get("question")]
    if common:
        d = [fb[k]["f1"] - fa[k]["f1"] for k in common]
        mean = sum(d) / len(d)
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / max(1, len(d) - 1))
        ma = sum(fa[k]["f1"] for k in common) / len(common)
        mb = sum(fb[k]["f1"] for k in common) / len(common)
        print(
            f"\nFairytaleQA token F1 over {len(common)} paired questions: {na} {ma:.3f}, {nb} {mb:.3f}, "
            f"{nb} - {na} = {mean:+.3f} ± {sd / math.sqrt(len(d)):.3f} (one standard error of the paired mean)"
        )


if __name__ == "__main__":
    main()
