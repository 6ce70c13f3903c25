#!/usr/bin/env bash
# Runs a command with a private moto server (the local AWS emulator) on a free 127.0.0.1 port,
# with the environment that points the AWS SDK at it, and stops the server afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
mkdir -p .local
port=$(python3 scripts/free-port.py)
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > .local/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
python3 scripts/wait-http.py "http://127.0.0.1:$port/moto-api/" 60
export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export S3_FORCE_PATH_STYLE=true
"$@"
