#!/usr/bin/env bash
# The mid-training ablation (issue 20): two pretraining runs that share their
# first 60% (the "mid" arm resumes the "plain" arm's step-450 checkpoint with
# conversations mixed in), each fine-tuned with the same recipe and steps,
# each scored by `fledge eval` (battery dev split, bAbI-1, FairytaleQA).
#
# Needs: `fledge speedrun --preset reference --until shards` (corpus, tokenizer,
# shards) and the conversation sets of recipes/sft.toml (`fledge data chat`,
# `fledge data rc`, `fledge data stories`). About 2 hours on two cores.
# Every step resumes where it stopped: run it again after an interruption.
set -euo pipefail
cd "$(dirname "$0")/.."
FLEDGE=${FLEDGE:-target/release/fledge}
OUT=runs/mid-ablation
SFT_STEPS=${SFT_STEPS:-300}
BRANCH=step-000450
mkdir -p "$OUT"

"$FLEDGE" train --config recipes/mid-ablation/plain.toml --resume
if [ ! -e "$OUT/mid/latest.json" ]; then
  mkdir -p "$OUT/mid"
  cp -a "$OUT/plain/$BRANCH" "$OUT/mid/$BRANCH"
  head -n 450 "$OUT/plain/metrics.jsonl" > "$OUT/mid/metrics.jsonl"
  printf '{"checkpoint":"%s"}\n' "$BRANCH" > "$OUT/mid/latest.json"
fi
"$FLEDGE" train --config recipes/mid-ablation/mid.toml --resume

for arm in plain mid; do
  last=$(ls -d "$OUT/$arm"/step-* | sort | tail -n 1)
  "$FLEDGE" sft --config recipes/sft.toml --base "$last" --out "$OUT/$arm-sft" --steps "$SFT_STEPS" --resume
  [ -e "$OUT/$arm-eval/eval.json" ] || "$FLEDGE" eval --model "$OUT/$arm-sft" --limit 200 --out "$OUT/$arm-eval"
done
