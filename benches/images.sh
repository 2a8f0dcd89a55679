#!/usr/bin/env bash
# `make bench` (images part): catbuild building and pushing 1 and 20 bundle
# images vs buildah (../shared/tools/bench-baseline), back to back.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python3 benches/images.py --catbuild target/release/catbuild --shared ../shared "$@"
