#!/usr/bin/env bash
# `make demo`: the whole job on the local stack. Starts moto and the Webex simulator on free
# 127.0.0.1 ports, creates the bucket, table and secret, onboards both OAuth identities through the
# callback function, runs the three collector functions against cargo-lambda's Lambda runtime API
# emulator (as Lambda runs them), prints what landed, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== building (debug)"
# Every binary of the workspace, as `make test` builds them first: the same command, so the same
# features and artifacts, and after `make test` nothing to build. (`-p X --bin Y` would narrow
# every package to `Y`, and build none of the others' binaries.)
cargo build -q --workspace --bins
exec bash scripts/with-moto.sh bash scripts/demo-run.sh
