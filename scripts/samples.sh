#!/usr/bin/env bash
# Unedited samples from a trained model: ten continuations of "Once upon a
# time" and one of each of five other story openings, seeds fixed.
# usage: scripts/samples.sh RUN_OR_CHECKPOINT [MAX_TOKENS]
set -euo pipefail
model=$1; max=${2:-150}
fledge=${FLEDGE:-target/release/fledge}
opts=(--model "$model" --max-tokens "$max" --temperature 0.8 --top-k 50 --top-p 0.95 --repetition-penalty 1.1)
echo "## \"Once upon a time\" (seeds 1-10)"
"$fledge" generate "${opts[@]}" --prompt "Once upon a time" --samples 10 --seed 1 2>/dev/null
for prompt in "One day, a little girl named Lily" "The old man walked to the river and" \
              "Tom and his dog went to the park." "In a small village near the forest," \
              "The princess looked out of the window and"; do
  echo "## \"$prompt\" (seed 1)"
  "$fledge" generate "${opts[@]}" --prompt "$prompt" --seed 1 2>/dev/null
  echo "---"
done
