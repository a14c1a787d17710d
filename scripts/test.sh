#!/usr/bin/env bash
# The test suite: formatting, lints, unit and integration tests, and the conformance
# score against Fail2ban's own annotated sample logs (needs the Debian package fail2ban).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --release
cargo test --workspace
min=$(cat tests/conformance-min-pass-rate)
python3 ../shared/conformance/run.py --tool "$PWD/target/release/ferroban regex" --min-pass-rate "$min" \
  | tail -n 4
echo "conformance: at least ${min}% required"
