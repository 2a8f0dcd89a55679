# Targets named as operator-sdk users know them; each wraps catbuild.
# catbuild makes bundle and catalog images together, without a daemon, so
# the bundle-* and catalog-* pairs run the same build (bundles are pushed
# before the catalogs that name them).
CATBUILD ?= cargo run --quiet --release --
KUBECTL ?= kubectl
TARGET ?=
TARGET_FLAG = $(if $(TARGET),--target $(TARGET))

.PHONY: all example catalog bundle-build bundle-push catalog-build catalog-push deploy watch validate catalog-validate test lint bench bench-community clean fuzz reliability

all: example

## Build every target of catalog.toml (FBC, SQLite, deploy YAML) into build/.
example catalog:
	$(CATBUILD) build $(TARGET_FLAG)

## The same, with the bundle and catalog images as OCI layouts in build/<target>/oci/.
bundle-build catalog-build:
	$(CATBUILD) build --images $(TARGET_FLAG)

## Build, then push the bundle images and the catalog images ([images] registry, or REGISTRY=HOST/PREFIX).
bundle-push catalog-push:
	$(CATBUILD) build --push $(if $(REGISTRY),--registry $(REGISTRY)) $(TARGET_FLAG)

## Apply a target's deployment objects (CatalogSource, Subscription, ...) to the current cluster.
deploy:
	$(CATBUILD) deploy $(TARGET_FLAG) | $(KUBECTL) apply -f -

## Build, then rebuild on every edit until Ctrl-C.
watch:
	$(CATBUILD) build --watch $(TARGET_FLAG)

## Check catalog.toml, bundles and graphs without writing anything.
validate catalog-validate:
	$(CATBUILD) validate

## Every test: unit, conformance against opm, corpus and CLI end to end.
test:
	cargo test --release --all-targets --no-fail-fast

lint:
	cargo fmt --check
	cargo clippy --release --all-targets -- -D warnings

## Fuzz each parser of other people's files for FUZZ_SECONDS (default 120) each: nightly and cargo-fuzz (fuzz/run.sh).
fuzz:
	bash fuzz/run.sh

## Every hostile case of tests/hostile.rs full size, one at a time: docs/reliability.md.
reliability:
	CATBUILD_RELIABILITY_REPORT=$(CURDIR)/docs/reliability.md cargo test --release --test hostile

## Benchmarks (timings are not tests): see benches/README.md.
bench:
	bash benches/fbc-build.sh
	bash benches/images.sh
	python3 benches/serve.py --catbuild target/release/catbuild --shared ../shared
	python3 benches/sqlite.py --catbuild target/release/catbuild --shared ../shared

## community-operators-prod from source (not in CI): make bench-community COP=DIR
bench-community:
	@test -n "$(COP)" || { echo "usage: make bench-community COP=<community-operators-prod checkout>"; exit 2; }
	bash benches/community.sh "$(COP)"

## Remove build/, the action cache with it (under the build lock, so never under a running build).
clean:
	$(CATBUILD) clean
