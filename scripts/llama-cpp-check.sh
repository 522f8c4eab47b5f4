#!/usr/bin/env bash
# Checks fledge's GGUF export in llama.cpp: installs llama-cpp-python (which
# compiles llama.cpp: minutes on 2 cores, so not part of CI) into
# ~/.cache/fledge/llama-venv, then runs tests/llama_cpp.rs.
# Usage: bash scripts/llama-cpp-check.sh [MODEL]   (default: random weights)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XDG_CACHE_HOME:-$HOME/.cache}/fledge/llama-venv"
if ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
  python3 -m venv "$venv"
  # A portable build: no -march=native, so it runs on any x86-64.
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$venv/bin/pip" install --quiet --disable-pip-version-check llama-cpp-python numpy
fi
if [ $# -gt 0 ]; then export FLEDGE_LLAMA_MODEL="$1"; fi
FLEDGE_LLAMA_PYTHON="$venv/bin/python" cargo test --release --test llama_cpp -- --nocapture
