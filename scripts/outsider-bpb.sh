#!/usr/bin/env bash
# Bits per byte "as an outsider measures it": fledge's held-out
# TinyStories validation stories (the `tinystories` set of the corpus's
# val.jsonl, never trained on) joined into one stream of text, cut into
# windows with no regard for where stories start, every token scored once.
#
# Usage: scripts/outsider-bpb.sh [MODEL ...]   (default: the shipped model)
# Reads runs/speedrun-reference/data/val.jsonl (`fledge speedrun --preset
# reference --until corpus` makes it); CORPUS=path/val.jsonl to use another.
# The speedrun's eval stage reports the same figure for its base and chat
# models (src/speedrun/eval.rs, text quality).
set -euo pipefail
cd "$(dirname "$0")/.."
FLEDGE=${FLEDGE:-target/release/fledge}
CORPUS=${CORPUS:-runs/speedrun-reference/data/val.jsonl}
WINDOW=${WINDOW:-255}
TEXT=runs/tinystories-val.txt
mkdir -p runs
python3 - "$CORPUS" "$TEXT" <<'PY'
import json, sys
stories = [json.loads(l)["text"] for l in open(sys.argv[1], encoding="utf-8") if json.loads(l).get("set") == "tinystories"]
open(sys.argv[2], "w", encoding="utf-8").write("\n\n".join(stories) + "\n")
print(f"{len(stories)} stories, {sum(len(s.encode()) for s in stories)} bytes -> {sys.argv[2]}", file=sys.stderr)
PY
if [ $# -eq 0 ]; then set -- ""; fi
for model in "$@"; do
  "$FLEDGE" inspect --file "$TEXT" --summary --window "$WINDOW" ${model:+--model "$model"}
done
