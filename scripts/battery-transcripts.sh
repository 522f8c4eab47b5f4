#!/usr/bin/env bash
# Twenty unedited transcripts of a chat model, the kinds issue 20 asks for:
# ten answering from a text attached with /context (assets/chat-demo, written
# for fledge, none from evals/ or the training sets), five story requests,
# five follow-up turns. Answers from a text are greedy; stories are sampled
# as `fledge chat` samples by default (temperature 0.7, seeds fixed), so the
# output is reproducible.
# Usage: scripts/battery-transcripts.sh [MODEL] [OUT.md]   (MODEL: default the shipped one)
# QUOTE=off|questions|always is passed as `fledge chat --quote`; unset, chat's default
# (questions: a question about the attached text is answered with a span of it, as `fledge ask`
# answers; QUOTE=off: every answer in the model's own words).
set -euo pipefail
model=${1:-models/fledge-6m-chat}
out=${2:-/dev/stdout}
fledge=${FLEDGE:-target/release/fledge}
demo=assets/chat-demo
quote=()
[[ -n ${QUOTE:-} ]] && quote=(--quote "$QUOTE")
run() { # $1: title, $2: temperature, $3: seed, rest: REPL input lines
  local title=$1 temperature=$2 seed=$3; shift 3
  printf '### %s\n\n```\n' "$title"
  printf '%s\n' "$@" | "$fledge" chat --model "$model" --temperature "$temperature" --seed "$seed" --max-tokens 300 "${quote[@]}" 2>/dev/null
  printf '```\n\n'
}
{
  echo "# Transcripts ($model, unedited; \`fledge chat --quote ${QUOTE:-questions}\`)"
  echo
  echo "## Answering from a text (greedy)"
  echo
  for f in garden bakery moves lighthouse picnic fridge-note bus-notice message lost-cat soup; do
    echo "Text ($demo/$f.txt):"
    echo
    sed "s/^/> /" "$demo/$f.txt"
    echo
    case $f in
      garden) q="What did Lily plant?" ;;
      bakery) q="When does the bakery open?" ;;
      moves) q="Where is Daniel?" ;;
      lighthouse) q="What was the name of the cat?" ;;
      picnic) q="What did Sam bring?" ;;
      fridge-note) q="Where is Kofi's sandwich?" ;;
      bus-notice) q="Which stop should I use instead?" ;;
      message) q="What time is the party?" ;;
      lost-cat) q="What colour is Pepper's collar?" ;;
      soup) q="How long does the soup cook?" ;;
    esac
    run "$f" 0 0 "/context $demo/$f.txt" "$q"
  done
  echo "## Story requests (sampled, seeds 1-5)"
  echo
  run "a dragon" 0.7 1 "Tell me a story about a dragon."
  run "a cat" 0.7 2 "Tell me a story about a cat."
  run "a bunny at bedtime" 0.7 3 "Can you tell me a bedtime story about a bunny?"
  run "a boy who learns to share" 0.7 4 "Write a short story about a boy who learns to share."
  run "a lost kite" 0.7 5 "story about a lost kite please"
  echo "## Follow-up turns"
  echo
  run "a follow-up about the same text" 0 0 "/context $demo/fridge-note.txt" "Who will pick Kofi up?" "At what time?"
  run "a follow-up about the same text" 0 0 "/context $demo/lost-cat.txt" "What is the cat called?" "Where was she lost?"
  run "a follow-up about the same text" 0 0 "/context $demo/message.txt" "Where is the party?" "What should Priya bring?"
  run "a story, then another" 0.7 6 "Tell me a story about a dog." "Now tell me one about a bird."
  run "a greeting, then a story" 0.7 7 "Hello! Who are you?" "Can you tell me a story about a fox?"
} > "$out"
