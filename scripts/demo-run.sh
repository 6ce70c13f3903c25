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
# The home organisation's administrator is also a partner administrator of three customer
# organisations (each with its own events): the audit collectors discover and collect all four.
"$bin/webex-sim" --port "$sim_port" --seed 42 --events 3000 --days 2 --order shuffled --orgs 3 \
  > .local/webex-sim.log 2>&1 &
pids+=($!)
python3 scripts/wait-http.py "http://127.0.0.1:$sim_port/v1/people/me" 30 "${pids[-1]}"
echo "== Webex simulator on 127.0.0.1:$sim_port, moto on $AWS_ENDPOINT_URL"

"$bin/local-stack" setup --bucket demo-events --table demo-state
org_id=Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9zaW0tb3Jn
export STATE_TABLE=demo-state ADMIN_SECRET_ID=webex/admin COMPLIANCE_SECRET_ID=webex/compliance
export WEBEX_API_URL="http://127.0.0.1:$sim_port/v1"

# One Lambda runtime API emulator (cargo-lambda's, without its build: the functions are the
# binaries built above), serving every function under its own name, as Lambda would.
api_port=$(python3 scripts/free-port.py)
cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port "$api_port" \
  --timeout 300 > .local/lambda-emulator.log 2>&1 &
pids+=($!)
# Its invoke route answers a GET at once (405); most other paths wait for a function.
python3 scripts/wait-http.py "http://127.0.0.1:$api_port/2015-03-31/functions/_/invocations" 30 "${pids[-1]}"
echo "== Lambda runtime API emulator (cargo lambda watch) on 127.0.0.1:$api_port"

# Starts one function binary against the emulator, with the environment its template gives it
# (TOKEN_SECRET_ID for a collector) and the variables Lambda sets.
start_function() {
  local function=$1 secret=$2 orgs=${3:-} queue=${4:-}
  # The simulator has no per-client rate limit; at the default budget (280 requests a minute,
  # under Webex's 300) the three backfills alone would take a minute.
  ORG_IDS=$orgs FANOUT_QUEUE_URL=$queue TOKEN_SECRET_ID=$secret OUTPUT_BUCKET=demo-events OUTPUT_PREFIX=webex/ \
    INITIAL_LOOKBACK_DAYS=3 SETTLE_LAG_SECONDS=60 MAX_REQUESTS_PER_MINUTE=3000 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$api_port/.rt/$function" \
    AWS_LAMBDA_FUNCTION_NAME="$function" AWS_LAMBDA_FUNCTION_VERSION=1 \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
    "$bin/$function" > ".local/$function.log" 2>&1 &
  pids+=($!)
  # A function that fails its cold start exits at once; say so rather than let the invoke wait.
  sleep 0.2
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    cat ".local/$function.log" >&2
    echo "demo: $function exited during its cold start (log above, in .local/$function.log)" >&2
    exit 1
  fi
}

invoke() {
  cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$api_port" \
    --data-file "$2" --output-format json
}

# The OAuth onboarding as an operator does it: install each identity, open the one-time link,
# accept, and let Webex's redirect reach the callback function as API Gateway delivers it.
start_function oauth-callback ""
for identity in admin compliance; do
  echo "-- webexctl auth init --identity $identity (client secret on standard input)"
  echo "sim-client-secret" | "$bin/webexctl" auth init --identity "$identity" --client-id sim-client-id \
    --redirect-uri "http://127.0.0.1:$api_port/oauth/callback" --org-id "$org_id"
  # ORG_IDS=discover: the admin link also asks to list the organisations it manages.
  url=$(ORG_IDS=discover "$bin/webexctl" auth url --identity "$identity" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  echo "-- opening the authorize link, accepting, following the redirect to the callback"
  python3 scripts/consent.py "$url" > ".local/callback-$identity.json"
  invoke oauth-callback ".local/callback-$identity.json" \
    | python3 -c 'import json,re,sys; r=json.load(sys.stdin); print("   callback answered", r["statusCode"], "-", re.search("<p>(.*?)</p>", r["body"]).group(1))'
done
"$bin/webexctl" auth status
echo

# Invokes a collector with a scheduled event, twice: the first run backfills, the second finds
# nothing new.
run_function() {
  echo "== $1 under the Lambda runtime emulator"
  start_function "$1" "$2"
  for run in 1 2; do
    echo "-- invoke $run:"
    invoke "$1" infra/events/scheduled.json
    echo
  done
}

# An audit collector with several organisations, as deployed: the scheduled invocation sends one
# message per organisation to the function's queue, and Lambda's event source mapping (here
# `local-stack drain`) hands each back to the function, one organisation per invocation.
run_fanned_out() {
  echo "== $1 under the Lambda runtime emulator, fanned out on its SQS queue"
  local queue
  queue=$("$bin/local-stack" queue --name "$1")
  start_function "$1" "$2" discover "$queue"
  for run in 1 2; do
    echo "-- scheduled invoke $run:"
    invoke "$1" infra/events/scheduled.json
    echo
    "$bin/local-stack" drain --queue-url "$queue" --function "$1" --invoke-port "$api_port"
  done
}

run_fanned_out admin-audit webex/admin
run_fanned_out security-audit webex/admin
run_function compliance-events webex/compliance

echo "== what landed"
"$bin/local-stack" show --bucket demo-events --table demo-state
echo
"$bin/webexctl" status
echo
echo "== done in ${SECONDS}s: each function's logs are in .local/<function>.log"
