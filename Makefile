# The two commands that matter: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo

.PHONY: demo test lint fmt ci

## The whole job end to end on the local stack (Webex simulator + moto), no account needed.
demo:
	bash scripts/demo.sh

## The full suite: unit tests, then end-to-end tests against moto and the simulator.
test:
	$(CARGO) build -p webexctl
	bash scripts/with-moto.sh $(CARGO) test --workspace --all-targets

## Format check and clippy with warnings as errors.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

ci: lint test
