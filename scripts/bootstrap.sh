#!/usr/bin/env bash
# Installs what the local stack needs into the project's own venv: moto server (the AWS emulator)
# and cargo-lambda with zig (to run and build functions the way Lambda does). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
want_moto='moto[server]==5.2.5'
want_lambda='cargo-lambda==1.9.2'
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import moto, flask' 2>/dev/null || [ ! -x "$venv/bin/cargo-lambda" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$want_moto" "$want_lambda" ziglang
fi
