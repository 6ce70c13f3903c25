#!/usr/bin/env bash
# The demo's body; scripts/with-moto.sh has started moto and set AWS_ENDPOINT_URL.
set -euo pipefail
bin=${CARGO_TARGET_DIR:-target}/debug
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p .local
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

sim_port=$(python3 scripts/free-port.py)
# A demo-only refresh token that the simulator accepts; real tokens come from `webexctl auth`.
refresh="demo-refresh-$RANDOM$RANDOM"
"$bin/webex-sim" --port "$sim_port" --seed 42 --events 3000 --days 2 --order shuffled \
  --refresh-token "admin=$refresh" > .local/webex-sim.log 2>&1 &
pids+=($!)
python3 scripts/wait-http.py "http://127.0.0.1:$sim_port/v1/people/me" 30 "${pids[-1]}"
echo "== Webex simulator on 127.0.0.1:$sim_port, moto on $AWS_ENDPOINT_URL"

"$bin/local-stack" setup --bucket demo-events --table demo-state \
  --secret admin=webex/admin --refresh-token "admin=$refresh" \
  --org-id Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn \
  --client-id sim-client-id --client-secret sim-client-secret

cat > .local/demo.env <<ENV
TOKEN_SECRET_ID=webex/admin
STATE_TABLE=demo-state
OUTPUT_BUCKET=demo-events
OUTPUT_PREFIX=webex/
WEBEX_API_URL=http://127.0.0.1:$sim_port/v1
INITIAL_LOOKBACK_DAYS=3
SETTLE_LAG_SECONDS=60

AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
S3_FORCE_PATH_STYLE=true
ENV

invoke_port=$(python3 scripts/free-port.py)
echo "== starting the Lambda runtime emulator (cargo lambda watch) on 127.0.0.1:$invoke_port"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$invoke_port" --env-file .local/demo.env \
  --timeout 300 --ignore-changes > .local/lambda-watch.log 2>&1 &
pids+=($!)
python3 scripts/wait-http.py "http://127.0.0.1:$invoke_port/" 300 "${pids[-1]}"

for run in 1 2; do
  echo "== invoking admin-audit with a scheduled event (run $run)"
  cargo lambda invoke admin-audit --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
    --data-file infra/events/scheduled.json --output-format json
  echo
done

echo "== what landed"
"$bin/local-stack" show --bucket demo-events --table demo-state
echo
echo "== done: logs of the function are in .local/lambda-watch.log"
