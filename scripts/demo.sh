#!/usr/bin/env bash
# `npm start`: installs what is missing, builds, then serves the dashboard against the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --no-browser
bash scripts/build.sh
exec node scripts/demo.mjs "$@"
