# The two commands that matter: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo

.PHONY: demo test lint fmt ci build validate deploy bench soak

## The whole job end to end on the local stack (Webex simulator + moto), no account needed.
demo:
	bash scripts/demo.sh

## The full suite: unit tests, then end-to-end tests against moto and the simulator.
## The binaries first (webexctl, the functions, the simulator): the tests run them as
## processes. The same command as `make demo`'s build, so that neither rebuilds for the other.
test:
	$(CARGO) build --workspace --bins
	bash scripts/with-moto.sh $(CARGO) test --workspace --all-targets

## Randomized fault soak: SCENARIOS scenarios (default 500, about 9 minutes on two cores),
## or the one scenario SEED=n again. Each prints its seed; a failure prints its replay command.
## moto takes 16 KiB upload parts here, so that small scenarios upload in parts too.
SCENARIOS ?= 500
## (`-p webexctl --bin soak` would build no webexctl: `--bin` narrows every package selected.)
soak:
	$(CARGO) build --workspace --bins
	S3_UPLOAD_PART_MIN_SIZE=16384 bash scripts/with-moto.sh $${CARGO_TARGET_DIR:-target}/debug/soak \
		$(if $(SEED),--seed $(SEED),--scenarios $(SCENARIOS)) $(SOAK_ARGS)

## Format check, clippy with warnings as errors, and the template checks.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(MAKE) validate

## cfn-lint and `sam validate --lint` on infra/template.yaml: zero errors, zero warnings.
validate:
	bash scripts/bootstrap-sam.sh
	.venv-sam/bin/cfn-lint infra/template.yaml
	SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template-file infra/template.yaml --region us-east-1

## Every Lambda built by `sam build` (cargo-lambda, arm64) into .aws-sam/build. A cold
## release build takes 10-15 minutes on two cores; later ones are incremental.
build:
	bash scripts/sam-build.sh

## Build, then deploy to your AWS account; asks for the parameters the first time and keeps
## the answers in infra/samconfig.toml (not committed: it is yours). docs/deploy.md has the rest.
deploy: build
	SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/.venv-sam/bin:$$PATH" sam deploy --guided \
		--template-file .aws-sam/build/template.yaml --config-file infra/samconfig.toml \
		--capabilities CAPABILITY_IAM

## End-to-end benchmark: release builds, arm64 artifacts, the criterion hot path, then
## `webexctl collect` against the simulator and moto for 20k to 2M events; writes
## docs/benchmarks.md. About 10 minutes with warm builds; not part of `make test`.
## BASELINE=COMMIT compares the Webex scenarios with that commit's webexctl, same run.
bench:
	BASELINE=$(BASELINE) bash scripts/bench.sh

fmt:
	$(CARGO) fmt --all

ci: lint test
