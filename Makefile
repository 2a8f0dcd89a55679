# Targets named as operator-sdk users know them; each wraps catbuild.
CATBUILD ?= cargo run --quiet --release --
TARGET ?=

.PHONY: all example catalog-build catalog-validate test lint bench bench-community clean

all: example

## Build the example catalog (catalog.toml) into build/.
example catalog-build:
	$(CATBUILD) build $(if $(TARGET),--target $(TARGET))

## Check catalog.toml, bundles and graphs without writing anything.
catalog-validate:
	$(CATBUILD) validate

## Every test: unit, conformance against opm, corpus and CLI end to end.
test:
	cargo test --release --all-targets --no-fail-fast

lint:
	cargo fmt --check
	cargo clippy --release --all-targets -- -D warnings

## Benchmarks (timings are not tests): see benches/README.md.
bench:
	bash benches/fbc-build.sh
	bash benches/images.sh
	python3 benches/serve.py --catbuild target/release/catbuild --shared ../shared

## community-operators-prod from source (not in CI): make bench-community COP=DIR
bench-community:
	@test -n "$(COP)" || { echo "usage: make bench-community COP=<community-operators-prod checkout>"; exit 2; }
	bash benches/community.sh "$(COP)"

## Remove build/ (under the build lock, so never under a running build).
clean:
	$(CATBUILD) clean
