#!/usr/bin/env bash
# The chat page's inspection views, photographed for the documentation with
# the shipped model: starts `fledge serve` (default model) on a free port,
# runs tests/browser/inspect_page.cjs against it with
# FLEDGE_DOCS_SCREENSHOTS=docs/serving, and stops the server.
# Needs Node, playwright-core and Chromium, as tests/serve_browser.rs does.
# Usage: scripts/page-screenshots.sh [OUT_DIR]   (default docs/serving)
set -euo pipefail
out=${1:-docs/serving}
fledge=${FLEDGE:-target/release/fledge}
playwright=${PLAYWRIGHT_CORE:-${FLEDGE_NODE_MODULES:-$HOME/.cache/fledge/browser-node/node_modules}/playwright-core}
log=$(mktemp)
"$fledge" serve --port 0 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
url=
for _ in $(seq 100); do
  url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$log"; echo "the server did not start" >&2; exit 1; }
mkdir -p "$out"
# Greedy (temperature 0): the same answer on every run, and the popover shows
# the model's own probabilities. TOKEN_INDEX and ALTERNATIVE pick the "what if".
FLEDGE_DOCS_SCREENSHOTS=$out PLAYWRIGHT_CORE=$playwright \
  MESSAGE=${MESSAGE:-"Hello! Who are you?"} TEMPERATURE=${TEMPERATURE:-0} \
  MAX_TOKENS=${MAX_TOKENS:-60} TOKEN_INDEX=${TOKEN_INDEX:-13} ALTERNATIVE=${ALTERNATIVE:-1} \
  LAYER=${LAYER:-2} HEAD=${HEAD:-3} TOKENIZER_TEXT=${TOKENIZER_TEXT:-"Once upon a time, a little dog named Max found a red ball."} \
  node tests/browser/inspect_page.cjs "$url/" "$out"
ls -l "$out"/page-*.png
