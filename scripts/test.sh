#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, end-to-end and
# interop tests. Installs what the interop tests need into a Python virtual
# environment (nothing outside it changes). The environment holds PyTorch
# (for sentence-transformers, about 6 GB and 5 minutes to install), so it
# lives outside the clone, in the user's cache, and later runs reuse it;
# FLEDGE_VENV moves it.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FLEDGE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/fledge/interop-venv}"
if command -v python3 >/dev/null 2>&1; then
  if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
  export FLEDGE_PYTHON="$venv/bin/python"
else
  echo "python3 not found: interop tests will be skipped" >&2
fi

# The browser test drives Debian's Chromium with playwright-core (Playwright's
# driver, without the browser download that cannot work offline). In CI, as
# root, Chromium is installed from Debian's packages (about a minute); on your
# own machine the test says how to install it and skips.
if [ "${CI:-}" = "true" ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
node_modules="${XDG_CACHE_HOME:-$HOME/.cache}/fledge/browser-node"
if command -v npm >/dev/null 2>&1 && [ ! -d "$node_modules/node_modules/playwright-core" ]; then
  mkdir -p "$node_modules"
  npm install --prefix "$node_modules" --silent --no-audit --no-fund playwright-core@1
fi
export FLEDGE_NODE_MODULES="$node_modules/node_modules"

# In CI every interop test must run: a missing dependency fails instead of skipping.
# CI builds in a fresh clone each time; its build folder is kept in the cache
# beside the virtual environment so that unchanged dependencies (tantivy,
# candle, ...: about 10 minutes on 2 cores) are not rebuilt by every run.
if [ "${CI:-}" = "true" ]; then
  export FLEDGE_REQUIRE_INTEROP=1
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fledge/ci-target}"
fi

cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
# The API documentation builds without broken or private links.
RUSTDOCFLAGS="-D warnings" cargo doc --release --no-deps --quiet
# Every test binary runs even after one fails, so one run shows every failure.
cargo test --release --no-fail-fast
