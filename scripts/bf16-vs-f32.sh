#!/usr/bin/env bash
# Issue 21's quality check: the reference config on the default recipe for
# 2,000 steps in bf16 and in f32 from the same seed, one after the other;
# each resumes where it stopped (--resume starts fresh when there is nothing
# to resume). Needs the shards of
# `fledge speedrun --preset reference --until shards`.
# Usage: scripts/bf16-vs-f32.sh   (then compare runs/bf16-vs-f32/*/metrics.jsonl)
set -euo pipefail
cd "$(dirname "$0")/.."
FLEDGE=${FLEDGE:-target/release/fledge}
REF=runs/speedrun-reference
for precision in bf16 f32; do
  out=runs/bf16-vs-f32/$precision
  "$FLEDGE" train --preset reference --data "$REF/shards" --tokenizer "$REF/tokenizer/tokenizer.json" \
    --batch 16 --seq-len 256 --steps 2000 --lr 1e-3 --warmup-steps 50 --eval-every 250 \
    --checkpoint-every 100 --precision "$precision" --out "$out" --resume
done
