#!/usr/bin/env bash
# The million-record Raw Activity Data export through the CLI (issue 3): one snapshot job of
# exactly 1,000,000 records in 8 fragments, exported as JSON Lines at concurrency 1 and 4 and as
# CSV at concurrency 4, each compared with the sandbox's ground truth (record count, SHA-256 of the
# bytes; the CSV's row count by an independent reader), with /usr/bin/time -v figures.
# Not part of `npm test`: it moves about 1.5 GB several times and takes a few minutes.
#
#   bash scripts/activities-million.sh [RECORDS]     (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RECORDS=${1:-1000000}
FRAGMENTS=8
WORK=$(mktemp -d "${TMPDIR:-/tmp}/exportkit-million.XXXXXX")
trap 'kill $sb_pid 2>/dev/null; rm -rf "$WORK"' EXIT
bash scripts/build.sh >/dev/null

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
URL="http://127.0.0.1:$port"
# `activities` is the count per 365 days, so the year 2023 holds exactly RECORDS records.
node sandbox/server.mjs --port "$port" --quiet --activities "$RECORDS" \
  --fragment-records $(( (RECORDS + FRAGMENTS - 1) / FRAGMENTS )) --job-speed 1000 \
  > "$WORK/sandbox.out" 2> "$WORK/sandbox.err" &
sb_pid=$!
for _ in $(seq 100); do grep -q url "$WORK/sandbox.out" 2>/dev/null && break; sleep 0.1; done

creds=$(node --input-type=module -e "import { SANDBOX_CREDENTIALS as c } from '$ROOT/sandbox/server.mjs'; console.log(c.backstory.clientId + ' ' + c.backstory.clientSecret)")
export BACKSTORY_CLIENT_ID=${creds% *} BACKSTORY_CLIENT_SECRET=${creds#* } BACKSTORY_BASE_URL=$URL
PARAMS=(--start-date 2023-01-01 --end-date 2023-12-31 --export-type snapshot --poll-interval-ms 200)

echo "== truth"
truth_sha=$(curl -sf "$URL/__sandbox/truth/activities?start_date=2023-01-01&end_date=2023-12-31" | tee >(wc -l > "$WORK/truth.lines") | sha256sum | cut -d' ' -f1)
sleep 0.2
truth_lines=$(cat "$WORK/truth.lines")
echo "records $truth_lines sha256 $truth_sha"
[ "$truth_lines" = "$RECORDS" ] || { echo "FAIL: the truth holds $truth_lines records, not $RECORDS"; exit 1; }

echo "== warm-up: one job of the same range, so every measured run finds its job's scan done"
node --input-type=module -e "
import init, { BackstoryClient } from '$ROOT/js/index.js';
await init();
const c = new BackstoryClient({ baseUrl: '$URL', clientId: process.env.BACKSTORY_CLIENT_ID, clientSecret: process.env.BACKSTORY_CLIENT_SECRET });
const job = await c.activities.start({ startDate: '2023-01-01', endDate: '2023-12-31', exportType: 'snapshot' });
const done = await c.activities.wait(job, { pollIntervalMs: 500 });
console.log('  job', done.jobId, done.state, done.fragmentCount, 'fragments,', done.resultsSize, 'bytes');
"

fail=0
measure() { # name, then CLI args
  local name=$1; shift
  echo "== $name: exportkit activities $*"
  /usr/bin/time -v node bin/exportkit.mjs activities "${PARAMS[@]}" --quiet "$@" 2> "$WORK/$name.time"
  local rc=$?
  grep -E "Elapsed \(wall clock\)|Maximum resident set size|User time|System time|Percent of CPU" "$WORK/$name.time" | sed 's/^\s*/  /'
  [ $rc = 0 ] || { echo "FAIL: exit $rc"; cat "$WORK/$name.time"; fail=1; }
}

for c in 1 4; do
  measure "jsonl-c$c" --concurrency $c --out "$WORK/out-c$c.jsonl"
  lines=$(wc -l < "$WORK/out-c$c.jsonl")
  sha=$(sha256sum "$WORK/out-c$c.jsonl" | cut -d' ' -f1)
  bytes=$(stat -c %s "$WORK/out-c$c.jsonl")
  echo "  records $lines, $bytes bytes, sha256 $sha"
  if [ "$lines" = "$truth_lines" ] && [ "$sha" = "$truth_sha" ]; then echo "  OK: exactly the truth"; else echo "  FAIL: differs from the truth"; fail=1; fi
  rm -f "$WORK/out-c$c.jsonl"
done

measure "csv-c4" --concurrency 4 --format csv --out "$WORK/out.csv"
rows=$(python3 -c "
import csv, sys
csv.field_size_limit(1 << 30)
with open(sys.argv[1], newline='', encoding='utf-8') as f:
    r = csv.reader(f)
    header = next(r)
    n = 0
    uid = header.index('uid')
    last = ''
    ok = True
    for row in r:
        n += 1
        if len(row) != len(header): ok = False
        last = row[uid]
print(n, ok, last)
" "$WORK/out.csv")
last_uid=$(curl -sf "$URL/__sandbox/truth/activities?start_date=2023-12-31&end_date=2023-12-31" | tail -n 1 | node -e "let s='';process.stdin.on('data',c=>s+=c).on('end',()=>console.log(JSON.parse(s).uid))")
echo "  CSV rows, every row as wide as the header, last uid: $rows (truth: $RECORDS rows, last uid $last_uid)"
[ "$rows" = "$RECORDS True $last_uid" ] || { echo "  FAIL"; fail=1; }

[ $fail = 0 ] && echo "== all OK" || echo "== FAILED"
exit $fail
