#!/usr/bin/env bash
# `make bench-community COP=DIR`: build catbuild in release mode, make sure
# GNU time is there (it reports peak RSS), then adopt and build DIR's
# operators/ (see benches/README.md). Not run in CI: it needs a checkout of
# community-operators-prod.
set -euo pipefail
cd "$(dirname "$0")/.."
cop="${1:?usage: benches/community.sh <community-operators-prod checkout>}"
if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time (for peak RSS)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q time >/dev/null; else sudo apt-get install -y -q time >/dev/null; fi
fi
cargo build --release --quiet
nice -n 10 python3 benches/community.py --cop "$cop" --catbuild target/release/catbuild
