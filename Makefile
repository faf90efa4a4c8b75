# The two commands of the README. Each does its own set-up on a fresh machine.
.PHONY: dev test

## Run the whole stack locally with demo data: anvil, Postgres, contracts, indexer, API.
dev:
	scripts/setup.sh
	cargo run --locked -p prova-cli --bin prova -- dev

## Run every test: forge, Rust unit tests, end-to-end tests on anvil and Postgres.
test:
	scripts/test.sh
