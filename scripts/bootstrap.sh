#!/usr/bin/env bash
# Installs everything the build, the demo and the tests need, idempotently: a second run on a
# ready machine takes a second or two. Everything comes from the package registries (crates.io,
# npm, Debian); nothing downloads a browser or a prebuilt binary of its own.
#   scripts/bootstrap.sh             everything
#   scripts/bootstrap.sh --no-browser  skip Chromium (the demo does not need it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
want_browser=1
[ "${1:-}" = "--no-browser" ] && want_browser=0
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
log() { echo "bootstrap: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! command -v wasm-pack >/dev/null; then
  log "installing wasm-pack (once, a few minutes)"
  cargo install --locked wasm-pack
fi

# The wasm-bindgen CLI must be exactly the version in Cargo.lock, or the build fails.
want=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  log "installing wasm-bindgen-cli $want (once, a few minutes)"
  # --locked first; its lock file can name a crate version the registry no longer serves
  # (seen: webpki-roots 1.0.11 for 0.2.130), so fall back to a fresh resolution.
  cargo install --locked --force wasm-bindgen-cli --version "$want" \
    || cargo install --force wasm-bindgen-cli --version "$want"
fi

# npm packages (wasm-opt from binaryen, playwright-core, miniflare ...), exactly as locked.
sum=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.exportkit-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$sum" > "$stamp"
fi

if [ "$want_browser" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  log "installing Debian's chromium and chromium-driver"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
