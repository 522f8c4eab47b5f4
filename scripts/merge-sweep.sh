#!/usr/bin/env bash
# A chat model merged back toward its base at several alphas (`fledge
# merge`), each measured twice: its text as an outsider measures it
# (scripts/outsider-bpb.sh) and the battery (`fledge eval`). The chat model
# itself is alpha 1.
#
# Usage: scripts/merge-sweep.sh BASE CHAT CHAT_DATA OUT [ALPHA ...]
#   BASE, CHAT: the base and the chat model tuned from it
#   CHAT_DATA:  the chat sets the battery's bAbI-1 and FairytaleQA come from
#               (the speedrun's chat/ folder)
#   OUT:        merged models go to OUT/alpha-A, results to OUT/alpha-A.eval-SPLIT
#   ALPHA:      default 0.5 0.7 0.85
# Environment: FLEDGE (the binary), CORPUS (val.jsonl for outsider-bpb.sh),
# SPLIT (dev), LIMIT (200 questions of each QA set).
set -euo pipefail
cd "$(dirname "$0")/.."
FLEDGE=${FLEDGE:-target/release/fledge}
SPLIT=${SPLIT:-dev}
LIMIT=${LIMIT:-200}
export FLEDGE
[ $# -ge 4 ] || { sed -n '2,16p' "$0"; exit 2; }
base=$1 chat=$2 data=$3 out=$4
shift 4
alphas=${*:-0.5 0.7 0.85}
mkdir -p "$out"
for a in $alphas; do
  model="$out/alpha-$a"
  [ -e "$model/model.safetensors" ] || "$FLEDGE" merge --base "$base" --chat "$chat" --alpha "$a" --out "$model"
done
for a in 0 $alphas 1; do
  case $a in 0) model=$base ;; 1) model=$chat ;; *) model="$out/alpha-$a" ;; esac
  printf 'alpha %s: ' "$a"
  bash scripts/outsider-bpb.sh "$model" 2>/dev/null | tail -1
  [ "$a" = 0 ] && continue # a base does not chat
  "$FLEDGE" eval --model "$model" --data "$data" --qa babi-task1 --qa fairytaleqa --limit "$LIMIT" \
    --split "$SPLIT" --story-tries 1 --out "$out/alpha-$a.eval-$SPLIT" > "$out/alpha-$a.eval-$SPLIT.txt" 2>&1
  python3 - "$out/alpha-$a.eval-$SPLIT/eval.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
g, s = e["battery"]["grounded"], e["battery"]["stories"]
qa = {q["name"]: q for q in e["qa"]}
print(f"  grounded {g['answer_accuracy']:.3f}  unanswerable refused {g['refusal_rate']:.2f}"
      f"  answerable refused {g['false_refusal_rate']:.2f}  stories {s['pass_rate']:.2f}"
      f"  bAbI-1 EM {qa['babi-task1']['exact_match']:.3f}  FairytaleQA F1 {qa['fairytaleqa']['f1']:.3f}")
PY
done
