#!/usr/bin/env bash
# Run every cargo-fuzz target for SECONDS each (default 30), as CI does.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them, so no second toolchain has to be downloaded. CI builds
# without a sanitizer (the targets look for panics; the code under test is safe
# Rust); for long runs locally use the default address sanitizer:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run config_parse -- -max_total_time=3600
# A crash leaves its input in fuzz/artifacts/TARGET/ and fails this script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-30}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  started=$(mktemp)
  out=$(cargo fuzz run -s none "$t" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1) || {
    # the panic's message comes before the long report whose end is shown
    grep -A2 -m1 'panicked at' <<<"$out" || true
    echo "$out" | tail -30
    echo "fuzz: $t found a failure; its input is in fuzz/artifacts/$t/" >&2
    exit 1
  }
  echo "fuzz: $t: $(grep -E '^Done [0-9]+ runs' <<<"$out" | tail -1)"
  # A target must clean up after itself (config_parse once left a directory per run).
  left=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'ferroban-fuzz-*' -newer "$started" 2>/dev/null)
  rm -f "$started"
  if [ -n "$left" ]; then
    echo "fuzz: $t left behind: $left" >&2
    exit 1
  fi
done
