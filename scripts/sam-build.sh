#!/usr/bin/env bash
# `make build`: every function of infra/template.yaml built by `sam build` with cargo-lambda,
# for arm64 (Graviton: cheaper per millisecond). When the arm64 standard library cannot be
# installed, builds for x86_64 instead and says how to deploy that.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/bootstrap-sam.sh
# sam finds cargo-lambda (and cargo-lambda finds zig) on PATH.
export PATH="$PWD/.venv/bin:$PWD/.venv-sam/bin:$PATH"
export SAM_CLI_TELEMETRY=0

for dir in functions/*/; do
  crate=$(basename "$dir")
  grep -q "CodeUri: ../functions/$crate\$" infra/template.yaml \
    || { echo "make build: functions/$crate has no resource in infra/template.yaml" >&2; exit 1; }
done
for crate in $(sed -n 's#^ *CodeUri: \.\./functions/##p' infra/template.yaml); do
  [ -d "functions/$crate" ] \
    || { echo "make build: infra/template.yaml builds functions/$crate, which does not exist" >&2; exit 1; }
done

arch=arm64
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
  && ! rustup target add aarch64-unknown-linux-gnu; then
  arch=x86_64
  echo "make build: cannot install the aarch64-unknown-linux-gnu standard library; building x86_64." >&2
  echo "make build: deploy it with: sam deploy --guided --parameter-overrides Architecture=x86_64" >&2
fi

sam build --template-file infra/template.yaml --build-dir .aws-sam/build \
  --parameter-overrides "Architecture=$arch"

echo "built for $arch:"
for binary in .aws-sam/build/*/bootstrap; do
  kind=$(file -b "$binary" 2>/dev/null | cut -d, -f1-2 || true)
  printf '  %-52s %6s KiB  %s\n' "$binary" "$(( $(stat -c %s "$binary") / 1024 ))" "$kind"
done
