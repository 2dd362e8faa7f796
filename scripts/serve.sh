#!/usr/bin/env bash
# Command 1 of the README: start trustline on its embedded defaults.
# SQLite under ./data, migrations applied, shipped models verified and loaded, and on a fresh
# database a demo tenant whose API key is printed once. Idempotent; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-onnxruntime.sh
export TRUSTLINE_LOG_FORMAT="${TRUSTLINE_LOG_FORMAT:-pretty}"
exec cargo run --release --locked --quiet -- serve "$@"
