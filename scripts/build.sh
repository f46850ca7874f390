#!/usr/bin/env bash
# Builds the web-target wasm package into pkg/ (one build serves pages, Node and workerd).
# Skipped when pkg/ already holds a build of the current sources.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
sum=$(cat Cargo.toml Cargo.lock .cargo/config.toml $(find src crates -type f | sort) | sha256sum | cut -d" " -f1)
stamp=pkg/.exportkit-src-sha256
if [ -f pkg/exportkit_bg.wasm ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
  exit 0
fi
echo "build: wasm-pack build --target web --release" >&2
wasm-pack --quiet build --target web --release --no-pack --out-dir pkg
echo "$sum" > "$stamp"
