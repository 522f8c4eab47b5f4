#!/usr/bin/env bash
# Issue 20's mid-training ablation at full scale: the reference preset with and
# without conversations in the last 40% of pretraining, each through the
# speedrun's own chat stage, battery and report.
#
#   with:    fledge speedrun --config configs/speedrun-reference-mid.toml
#            -> runs/speedrun-reference-mid
#   without: fledge speedrun --preset reference --out runs/speedrun-reference-plain
#            -> runs/speedrun-reference-plain, branched from the "with" arm's
#            step-2750 checkpoint (the last one before its phase starts at step
#            2,930), so the two arms share their first 2,750 steps exactly and
#            the ablation costs 2,133 more pretraining steps, not 4,883.
#
# The figures in the README were measured with the preset's chat stage as it was
# at commit c746546 (1,500 steps, bAbI-1 at weight 0.5); check that commit out to
# reproduce them: the preset's chat stage is now 4,500 steps.
#
# About 4 hours on two cores (f32 at about 4,000 tokens/s); every step resumes
# where it stopped, so run it again after an interruption. Then the battery on
# both splits and text quality as an outsider measures it, for each arm.
set -euo pipefail
cd "$(dirname "$0")/.."
FLEDGE=${FLEDGE:-target/release/fledge}
MID=runs/speedrun-reference-mid
PLAIN=runs/speedrun-reference-plain
BRANCH=step-002750
# Where a copy of the branch checkpoint is kept: the "with" arm keeps only its
# last two checkpoints, so step 2,750 is gone once step 3,250 is written.
KEPT=${KEPT:-runs/mid-branch/$BRANCH}

"$FLEDGE" speedrun --config configs/speedrun-reference-mid.toml

if [ ! -e "$PLAIN/train/latest.json" ]; then
  from="$MID/train/$BRANCH"
  [ -d "$from" ] || from="$KEPT"
  if [ ! -d "$from" ]; then
    echo "no copy of $BRANCH: keep $MID/train/$BRANCH (e.g. in $KEPT) while the mid arm runs" >&2
    exit 1
  fi
  mkdir -p "$PLAIN/train"
  cp -a "$from" "$PLAIN/train/$BRANCH"
  head -n 2750 "$MID/train/metrics.jsonl" > "$PLAIN/train/metrics.jsonl"
  # The checkpoint records the run's settings, which the speedrun compares
  # with its own before resuming: the "without" arm's are the same less the
  # phase, with its own folders.
  python3 - "$PLAIN/train/$BRANCH/state.json" "$PLAIN" <<'PY'
import json, sys
path, plain = sys.argv[1], sys.argv[2]
state = json.load(open(path))
s = state["settings"]
s.pop("mid", None)
for key in ("data", "out", "tokenizer"):
    s[key] = s[key].replace("configs/../runs/speedrun-reference-mid", plain)
state["best_val_loss"], state["best_step"], state["evals_since_best"] = None, None, 0
json.dump(state, open(path + ".tmp", "w"), indent=1)
PY
  mv "$PLAIN/train/$BRANCH/state.json.tmp" "$PLAIN/train/$BRANCH/state.json"
  printf '{"checkpoint":"%s"}\n' "$BRANCH" > "$PLAIN/train/latest.json"
fi
"$FLEDGE" speedrun --preset reference --out "$PLAIN"

mkdir -p runs/eval
for arm in mid plain; do
  dir=runs/speedrun-reference-$arm
  for split in dev test; do
    out=runs/eval/full-$arm-$split
    [ -e "$out/eval.json" ] || "$FLEDGE" eval --model "$dir/sft" --data "$dir/chat" --qa babi-task1 --qa fairytaleqa \
      --limit 200 --split "$split" --out "$out" | tee "$out.txt"
  done
done
bash scripts/outsider-bpb.sh "$MID/train/best" "$MID/sft" "$PLAIN/train/best" "$PLAIN/sft"
