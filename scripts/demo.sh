#!/usr/bin/env bash
# `make demo`: the whole job on the local stack. Starts moto and the Webex simulator on free
# 127.0.0.1 ports, creates the bucket, table and secret, runs the three collector functions under
# cargo-lambda's Lambda runtime emulator (as Lambda would run it), prints what landed, and
# stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== building (debug)"
cargo build -q -p webex-sim -p webexctl -p admin-audit -p security-audit -p compliance-events -p integration-tests --bin local-stack
exec bash scripts/with-moto.sh bash scripts/demo-run.sh
