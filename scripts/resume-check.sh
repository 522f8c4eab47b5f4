#!/usr/bin/env bash
# Kill -9 a training run three times, resume it each time, and compare its
# losses with an uninterrupted run of the same settings: they must be equal,
# bit for bit (same machine, same thread count).
#
# usage: scripts/resume-check.sh SHARDS TOKENIZER [STEPS]
set -euo pipefail
shards=$1; tokenizer=$2; steps=${3:-120}
fledge=${FLEDGE:-target/release/fledge}
work=$(mktemp -d)
common=(train --data "$shards" --tokenizer "$tokenizer" --preset tiny --steps "$steps"
        --batch 8 --seq-len 128 --eval-every 20 --checkpoint-every 10 --warmup-steps 10)

"$fledge" "${common[@]}" --out "$work/straight" >/dev/null 2>&1

"$fledge" "${common[@]}" --out "$work/killed" >/dev/null 2>&1 &
pid=$!
for kill in 1 2 3; do
  # Let it run past at least one more checkpoint, then kill it mid-step.
  before=$(cat "$work/killed/latest.json" 2>/dev/null || echo none)
  while [ "$(cat "$work/killed/latest.json" 2>/dev/null || echo none)" = "$before" ]; do sleep 0.2; done
  sleep 0.$((RANDOM % 9 + 1))
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "kill $kill: at step $(tail -1 "$work/killed/metrics.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/'), latest checkpoint $(cat "$work/killed/latest.json")"
  "$fledge" "${common[@]}" --out "$work/killed" --resume >/dev/null 2>&1 &
  pid=$!
done
wait "$pid"

extract() { python3 -c "import json,sys; [print(json.loads(l)['step'], json.loads(l)['loss'], json.loads(l).get('val_loss','')) for l in open(sys.argv[1])]" "$1"; }
if diff <(extract "$work/straight/metrics.jsonl") <(extract "$work/killed/metrics.jsonl") >/dev/null; then
  echo "identical: $(wc -l < "$work/straight/metrics.jsonl") steps, final $(tail -1 "$work/straight/metrics.jsonl")"
  rm -rf "$work"
else
  echo "DIFFERENT: compare $work/straight/metrics.jsonl and $work/killed/metrics.jsonl"
  exit 1
fi
