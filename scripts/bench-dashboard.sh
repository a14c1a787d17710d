#!/usr/bin/env bash
# Benchmark (not a test): the dashboard's page weight and its time to first
# render in headless Chromium with N bans (default 10,000).
# Usage: scripts/bench-dashboard.sh [BANS] [--screenshots DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
exec python3 scripts/bench-dashboard.py "$@"
