#!/usr/bin/env bash
# Builds the two web-target wasm modules (each serves pages, Node and workerd): the parse module
# into pkg-parse/ (`--features parse-api`: CSV, JSON Lines, gzip, the CSV writer) and the client
# module into pkg/ (`--features client`: the four vendor clients, loaded when a client is made). Then the
# files the npm package needs around it (dist/: the CommonJS build and its types). The wasm step is
# skipped when pkg/ already holds a build of the current sources. `npm pack` runs this (prepack)
# and fails when any file the package ships is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
sum=$(cat scripts/build.sh Cargo.toml Cargo.lock .cargo/config.toml $(find src crates -type f | sort) | sha256sum | cut -d" " -f1)
stamp=pkg/.exportkit-src-sha256
if ! { [ -f pkg/exportkit_bg.wasm ] && [ -f pkg-parse/exportkit_parse_bg.wasm ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; }; then
  echo "build: wasm-pack build --target web --release (parse module, then client module)" >&2
  wasm-pack --quiet build --target web --release --no-pack --out-dir pkg-parse --out-name exportkit_parse -- --no-default-features --features parse-api
  # The client's own code (drivers, bindings) at opt-level "z": 17.8 KB less gzipped than "s", and it
  # waits on the network; the parsers under it keep their opt-level 3 (Cargo.toml's overrides).
  wasm-pack --quiet build --target web --release --no-pack --out-dir pkg -- --no-default-features --features client --config 'profile.release.opt-level="z"'
  echo "$sum" > "$stamp"
fi
# wasm-pack writes pkg/.gitignore (`*`) and npm honours it inside listed folders, which kept
# pkg/snippets/ out of the tarball; the root .gitignore already keeps pkg/ out of git.
rm -f pkg/.gitignore pkg-parse/.gitignore
node scripts/package-files.mjs
