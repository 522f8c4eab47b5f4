#!/usr/bin/env bash
# Five unedited `fledge ask` transcripts over the FairytaleQA section index:
# test questions 1, 201, 401, 601 and 801 (spread over the test stories),
# greedy, with the passages the model saw and the sources it printed. Each is
# followed by the reference answers and the sections that hold them.
# Usage: scripts/ask-transcripts.sh MODEL [OUT.md]
# Needs: fledge index eval-set && fledge index add runs/fairytaleqa-rag/docs --index runs/fairytaleqa-rag/index
set -euo pipefail
model=${1:?usage: scripts/ask-transcripts.sh MODEL [OUT.md]}
out=${2:-/dev/stdout}
fledge=${FLEDGE:-target/release/fledge}
set_dir=runs/fairytaleqa-rag
{
  echo "# Grounded answers over FairytaleQA's 4,094 story sections ($model, greedy, unedited)"
  echo
  for n in 1 201 401 601 801; do
    line=$(grep '"split":"test"' "$set_dir/questions.jsonl" | sed -n "${n}p")
    question=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["question"])')
    printf '### Test question %s\n\n```\n$ fledge ask "%s" --model %s --index %s/index\n' "$n" "$question" "$model" "$set_dir"
    "$fledge" ask "$question" --model "$model" --index "$set_dir/index" --max-tokens 48 2>&1
    printf '```\n\n'
    printf '%s' "$line" | python3 -c 'import json,sys; q=json.load(sys.stdin); print("Reference answers:", " | ".join(q["answers"])); print(); print("Answer in:", ", ".join(q["documents"])); print()'
  done
} > "$out"
