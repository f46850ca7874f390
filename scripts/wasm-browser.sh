#!/usr/bin/env bash
# The wasm-bindgen tests (tests/wasm_browser.rs) in headless Chromium against the sandbox at
# $EXPORTKIT_SANDBOX_URL (read at compile time: a page cannot read the environment).
#   scripts/wasm-browser.sh [FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
wasm=$(cargo test --target wasm32-unknown-unknown --test wasm_browser --no-run --message-format=json \
  | node -e 'let s="";process.stdin.on("data",c=>s+=c).on("end",()=>{let w;for(const l of s.split("\n")){try{const m=JSON.parse(l);if(m.executable)w=m.executable}catch{}}if(!w)process.exit(1);console.log(w)})')
exec node scripts/wasm-browser-test.mjs "$wasm" "$@"
