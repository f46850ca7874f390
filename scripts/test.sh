#!/usr/bin/env bash
# `npm test`: every layer, against the sandbox on loopback. Fails when any layer fails.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$ROOT/node_modules/.bin:$PATH"
export CHROMEDRIVER=/usr/bin/chromedriver
LOGS=$ROOT/test-artifacts/logs
mkdir -p "$LOGS"

bash scripts/bootstrap.sh || exit 1
bash scripts/build.sh || exit 1

# The wasm-bindgen tests read the sandbox URL at compile time (a browser test cannot read the
# environment), so the sandbox gets a fixed port unless that port is taken.
port=${EXPORTKIT_SANDBOX_PORT:-47990}
if node -e "require('net').createServer().once('error',()=>process.exit(1)).listen($port,'127.0.0.1',function(){this.close()})"; then :; else
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
fi
export EXPORTKIT_SANDBOX_URL="http://127.0.0.1:$port"
node sandbox/server.mjs --port "$port" --quiet > "$LOGS/sandbox.out" 2> "$LOGS/sandbox.err" &
sandbox_pid=$!
trap 'kill $sandbox_pid 2>/dev/null' EXIT
for _ in $(seq 50); do grep -q url "$LOGS/sandbox.out" 2>/dev/null && break; sleep 0.1; done

failed=0
summary=()
total_pass=0
total_fail=0
layer() {
  local name=$1; shift
  local start=$SECONDS
  echo "=== $name: $*"
  timeout 900 "$@" 2>&1 | tee "$LOGS/$name.log"
  local rc=${PIPESTATUS[0]}
  local secs=$((SECONDS - start))
  # Count what each runner reports: cargo's "test result:" lines, node's "# pass"/"# fail".
  local p f
  p=$(grep -hoE '(test result: [a-zA-Z]+\. [0-9]+ passed|^# pass [0-9]+)' "$LOGS/$name.log" | grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
  f=$(grep -hoE '([0-9]+ failed;|^# fail [0-9]+)' "$LOGS/$name.log" | grep -oE '[0-9]+' | awk '{ s += $1 } END { print s + 0 }')
  p=${p:-0}; f=${f:-0}
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  summary+=("$(printf '%-16s %4s passed %3s failed %5ss  exit %s' "$name" "$p" "$f" "$secs" "$rc")")
  [ "$rc" = 0 ] || failed=1
}

layer native cargo test --workspace --quiet
layer wasm-node wasm-pack test --node -- --test wasm_node
layer wasm-chromium bash scripts/wasm-browser.sh
layer sandbox node --test tests/sandbox/
layer js-node node --test tests/js/
layer page node --test tests/page/
layer edge node --test tests/edge/
layer consumer node --test tests/consumer/
layer security node --test tests/security/
layer conformance node --test tests/conformance/

echo
echo "=== summary (logs in test-artifacts/logs)"
printf '%s\n' "${summary[@]}"
echo "total: $total_pass passed, $total_fail failed"
exit $failed
