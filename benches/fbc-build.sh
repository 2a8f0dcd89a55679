#!/usr/bin/env bash
# `make bench`: build catbuild in release mode, then run the FBC, SQLite
# and incremental-rebuild benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
python3 benches/fbc_build.py --catbuild target/release/catbuild --shared ../shared "$@"
python3 benches/sqlite.py --catbuild target/release/catbuild --shared ../shared
python3 benches/incremental.py --catbuild target/release/catbuild --shared ../shared
