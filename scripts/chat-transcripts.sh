#!/usr/bin/env bash
# Ten unedited chat transcripts from a chat model: five answering from a
# document attached with /context (assets/chat-demo, written for fledge),
# five plain chats. Greedy decoding, so the output is reproducible.
# Usage: scripts/chat-transcripts.sh MODEL [OUT.md]
set -euo pipefail
model=${1:?usage: scripts/chat-transcripts.sh MODEL [OUT.md]}
out=${2:-/dev/stdout}
fledge=${FLEDGE:-target/release/fledge}
demo=assets/chat-demo
run() { # $1: title, rest: REPL input lines
  local title=$1; shift
  printf '### %s\n\n```\n' "$title"
  printf '%s\n' "$@" | "$fledge" chat --model "$model" --temperature 0 --max-tokens 80 2>/dev/null
  printf '```\n\n'
}
{
  echo "# Chat transcripts ($model, greedy, unedited)"
  echo
  run "Context: garden.txt" "/context $demo/garden.txt" "What did Lily plant?" "Who ate the carrots?"
  run "Context: bakery.txt" "/context $demo/bakery.txt" "When does the bakery open?" "Which cake does Ben like?"
  run "Context: moves.txt" "/context $demo/moves.txt" "Where is Mary?" "Where is Daniel?"
  run "Context: lighthouse.txt" "/context $demo/lighthouse.txt" "What was the name of the cat?" "What did the fisherman bring?"
  run "Context: picnic.txt" "/context $demo/picnic.txt" "What did Sam bring?" "Where did everyone run when it rained?"
  run "Plain chat: who are you" "Hello! Who are you?" "What can you do?"
  run "Plain chat: a story" "Can you tell me a short story about a dog?"
  run "Plain chat: coffee" "Hi, I would like to order a coffee." "A large latte, please."
  run "Plain chat: feelings" "I feel a bit sad today."
  run "Plain chat: a question without context" "What is the capital of France?"
} > "$out"
