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
"$bin/webex-sim" --port "$sim_port" --seed 42 --events 3000 --days 2 --order shuffled \
  > .local/webex-sim.log 2>&1 &
pids+=($!)
python3 scripts/wait-http.py "http://127.0.0.1:$sim_port/v1/people/me" 30 "${pids[-1]}"
echo "== Webex simulator on 127.0.0.1:$sim_port, moto on $AWS_ENDPOINT_URL"

"$bin/local-stack" setup --bucket demo-events --table demo-state
org_id=Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn
export STATE_TABLE=demo-state ADMIN_SECRET_ID=webex/admin COMPLIANCE_SECRET_ID=webex/compliance
export WEBEX_API_URL="http://127.0.0.1:$sim_port/v1"

# Starts one function under cargo-lambda's Lambda runtime emulator, with its environment.
start_function() {
  local function=$1 secret=$2
  cat > ".local/$function.env" <<ENV
TOKEN_SECRET_ID=$secret
ADMIN_SECRET_ID=webex/admin
COMPLIANCE_SECRET_ID=webex/compliance
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
}

stop_function() {
  kill "$watch" 2>/dev/null || true
  wait "$watch" 2>/dev/null || true
}

# The OAuth onboarding as an operator does it: install each profile, open the one-time link,
# accept, and let Webex's redirect reach the callback function as API Gateway delivers it.
start_function oauth-callback ""
callback_port=$port
for profile in admin compliance; do
  echo "-- webexctl auth init --profile $profile (client secret on standard input)"
  echo "sim-client-secret" | "$bin/webexctl" auth init --profile "$profile" --client-id sim-client-id \
    --redirect-uri "http://127.0.0.1:$callback_port/oauth/callback" --org-id "$org_id"
  url=$("$bin/webexctl" auth url --profile "$profile" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  echo "-- opening the authorize link, accepting, following the redirect to the callback"
  python3 scripts/consent.py "$url" > ".local/callback-$profile.json"
  cargo lambda invoke oauth-callback --invoke-address 127.0.0.1 --invoke-port "$callback_port" \
    --data-file ".local/callback-$profile.json" --output-format json \
    | python3 -c 'import json,re,sys; r=json.load(sys.stdin); print("   callback answered", r["statusCode"], "-", re.search("<p>(.*?)</p>", r["body"]).group(1))'
done
stop_function
"$bin/webexctl" auth status
echo

# Invokes a collector with a scheduled event, twice: the first run backfills, the second finds
# nothing new.
run_function() {
  start_function "$1" "$2"
  for run in 1 2; do
    echo "-- invoke $run:"
    cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$port" \
      --data-file infra/events/scheduled.json --output-format json
    echo
  done
  stop_function
}

run_function admin-audit webex/admin
run_function security-audit webex/admin
run_function compliance-events webex/compliance

echo "== what landed"
"$bin/local-stack" show --bucket demo-events --table demo-state
echo
"$bin/webexctl" status
echo
echo "== done: each function's logs are in .local/<function>.log"
