#!/usr/bin/env bash
# `make bench`: the release binaries, the Lambda artifacts (zipped bootstrap, arm64), the hot-path
# micro-benchmark, then the end-to-end benchmark (tests/bench) under a private moto; the tables go
# into docs/benchmarks.md. Extra arguments go to `bench run`, e.g.
#   bash scripts/bench.sh --only 20k --no-write
# Not part of `make test`: a cold release build alone takes 10-15 minutes on two cores.
# BASELINE=COMMIT also builds that commit's webexctl (a worktree, BASELINE_TREE or under .local/,
# with its own target: another 10-15 minutes cold) and runs every Webex scenario but the backfill with it too, just
# before the current one, for a before-and-after table (`make bench BASELINE=698e064`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# cargo-lambda (and the zig it cross-compiles with) live in the project's venv.
export PATH="$PWD/.venv/bin:$PATH"
target=${CARGO_TARGET_DIR:-target}
functions=(-p admin-audit -p security-audit -p compliance-events -p oauth-callback -p http-sources
  -p webhook-receiver -p webhook-writer -p webhook-registrar)
started=$SECONDS

echo "== release binaries (host): webexctl, webex-sim, the functions, bench"
cargo build --release -p webexctl -p webex-sim -p bench "${functions[@]}"

echo "== Lambda artifacts: cargo lambda build --release --output-format zip"
arch=arm64
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
  && ! rustup target add aarch64-unknown-linux-gnu; then
  arch=x86-64
  echo "make bench: cannot install the aarch64-unknown-linux-gnu standard library; artifacts are x86_64." >&2
fi
cargo lambda build --release "--$arch" --output-format zip --lambda-dir "$target/lambda" "${functions[@]}"

echo "== hot path: cargo bench -p collector-core --bench hot_path"
cargo bench -p collector-core --bench hot_path -- --warm-up-time 1 --measurement-time 3

baseline=()
if [ -n "${BASELINE:-}" ]; then
  commit=$(git rev-parse --short "$BASELINE^{commit}")
  tree=${BASELINE_TREE:-.local/baseline-$commit}
  echo "== baseline: webexctl at $commit ($tree)"
  [ -d "$tree" ] || git worktree add --detach "$tree" "$commit"
  (cd "$tree" && CARGO_TARGET_DIR="$PWD/target" cargo build --release -p webexctl)
  baseline=(--baseline-bin-dir "$tree/target/release" --baseline-commit "$commit")
fi

echo "== end to end (webexctl collect against webex-sim and moto)"
bash scripts/with-moto.sh "$target/release/bench" run "${baseline[@]}" \
  --bin-dir "$target/release" --lambda-dir "$target/lambda" --criterion-dir "$target/criterion" \
  --artifact-note "\`cargo lambda build --release --$arch --output-format zip\` (scripts/bench.sh)." \
  "$@"
echo "make bench: $((SECONDS - started)) s in all"
