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
# Demo-only refresh tokens that the simulator accepts; real ones come from the OAuth flow.
admin_token="demo-admin-refresh-$RANDOM$RANDOM"
compliance_token="demo-compliance-refresh-$RANDOM$RANDOM"
"$bin/webex-sim" --port "$sim_port" --seed 42 --events 3000 --days 2 --order shuffled \
  --refresh-token "admin=$admin_token" --refresh-token "compliance=$compliance_token" \
  > .local/webex-sim.log 2>&1 &
pids+=($!)
python3 scripts/wait-http.py "http://127.0.0.1:$sim_port/v1/people/me" 30 "${pids[-1]}"
echo "== Webex simulator on 127.0.0.1:$sim_port, moto on $AWS_ENDPOINT_URL"

"$bin/local-stack" setup --bucket demo-events --table demo-state \
  --secret admin=webex/admin --refresh-token "admin=$admin_token" \
  --secret compliance=webex/compliance --refresh-token "compliance=$compliance_token" \
  --org-id Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn \
  --client-id sim-client-id --client-secret sim-client-secret

# Runs one function under cargo-lambda's Lambda runtime emulator and invokes it with a scheduled
# event, twice: the first run backfills, the second finds nothing new.
run_function() {
  local function=$1 secret=$2 port watch
  cat > ".local/$function.env" <<ENV
TOKEN_SECRET_ID=$secret
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
  port=$(python3 scripts/free-port.py)
  echo "== $function under the Lambda runtime emulator (cargo lambda watch, 127.0.0.1:$port)"
  cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --env-file ".local/$function.env" \
    --timeout 300 --ignore-changes > ".local/$function.log" 2>&1 &
  watch=$!
  pids+=("$watch")
  python3 scripts/wait-http.py "http://127.0.0.1:$port/" 300 "$watch"
  for run in 1 2; do
    echo "-- invoke $run:"
    cargo lambda invoke "$function" --invoke-address 127.0.0.1 --invoke-port "$port" \
      --data-file infra/events/scheduled.json --output-format json
    echo
  done
  kill "$watch" 2>/dev/null || true
  wait "$watch" 2>/dev/null || true
}

run_function admin-audit webex/admin
run_function security-audit webex/admin
run_function compliance-events webex/compliance

echo "== what landed"
"$bin/local-stack" show --bucket demo-events --table demo-state
echo
echo "== done: each function's logs are in .local/<function>.log"
