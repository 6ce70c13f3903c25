#!/usr/bin/env bash
# Installs the deploy tooling into its own venv, .venv-sam: aws-sam-cli and cfn-lint pin boto3
# and botocore versions that clash with moto's in .venv, so the two never share one.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-sam
want_sam='aws-sam-cli==1.170.0'
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cfn-lint" ] \
  || ! "$venv/bin/sam" --version 2>/dev/null | grep -q '1\.170\.0'; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$want_sam" 'cfn-lint==1.58.0'
fi
