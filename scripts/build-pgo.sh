#!/usr/bin/env bash
# Build ferroban optimized with a profile of its own work (profile-guided
# optimization): target/pgo/release/ferroban. The same code as `cargo build
# --release`; the compiler lays it out by what runs per log line (hot paths together,
# rare ones aside, branches ordered as they go), which a filter's many small steps per
# line need more than any single step: see "Where the CPU time goes" in docs/performance.md.
#
# Training, on generated logs (scripts/gen-authlog.py, scripts/gen-accesslog.py) of
# another seed than the benchmarks' (with theirs, the training log would be the first
# lines of the benchmark's, and the profile would know the very lines measured): the
# `regex` tool with ferroban's own filters, and with Fail2ban's stock sshd filter in
# every mode when /etc/fail2ban has it; the daemon ingesting the same auth.log (one
# sshd jail, in normal and in aggressive mode) and an access log
# (scripts/bench-server.py, without fail2ban-server).
#
# Needs llvm-profdata of the LLVM that rustc uses (`rustc -vV`): on Debian 12,
# apt-get install llvm-22 for rustc 1.95; or rustup component add llvm-tools.
# `make` builds this way by default where that llvm-profdata is there (see Makefile).
# Usage: scripts/build-pgo.sh [TRAINING_LINES]   (default 200000; the training takes
#        about a minute here, the two builds as long as two release builds)
#        scripts/build-pgo.sh --check   (prints the llvm-profdata it would use, or
#        says what is missing and exits 1; builds nothing)
set -euo pipefail
cd "$(dirname "$0")/.."
check=
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
lines=${1:-200000}
llvm=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
host=$(rustc -vV | sed -n 's/^host: //p')
profdata=
for candidate in "llvm-profdata-$llvm" llvm-profdata "$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"; do
  if command -v "$candidate" > /dev/null && "$candidate" --version 2> /dev/null | grep -q "LLVM version $llvm\."; then
    profdata=$candidate
    break
  fi
done
if [ -z "$profdata" ]; then
  echo "build-pgo.sh: needs llvm-profdata of LLVM $llvm (the one rustc uses):" \
    "apt-get install llvm-$llvm, or rustup component add llvm-tools" >&2
  exit 1
fi
if [ -n "$check" ]; then
  echo "$profdata"
  exit 0
fi

work=target/pgo-train
rm -rf "$work"
mkdir -p "$work/raw"
raw=$(realpath "$work/raw")
echo "== instrumented build (target/pgo-gen)"
RUSTFLAGS="-Cprofile-generate=$raw" CARGO_TARGET_DIR=target/pgo-gen cargo build --release --locked -q -p ferroban
trainee=target/pgo-gen/release/ferroban

seed=1001
echo "== training on $lines generated lines (seed $seed)"
python3 scripts/gen-authlog.py "$lines" --seed "$seed" > "$work/auth.log"
python3 scripts/gen-accesslog.py "$lines" --seed "$seed" > "$work/access.log"
"$trainee" regex --no-progress -c config "$work/auth.log" sshd > /dev/null
for filter in examples/config/filter.d/wordpress-auth.conf examples/config/filter.d/apache-envscan.conf; do
  "$trainee" regex --no-progress "$work/access.log" "$filter" > /dev/null
done
if [ -f /etc/fail2ban/filter.d/sshd.conf ]; then
  for mode in normal ddos extra aggressive; do
    "$trainee" regex --no-progress -c /etc/fail2ban "$work/auth.log" "sshd[mode=$mode]" > /dev/null
  done
  # the daemon in normal mode and in aggressive mode, whose closes before
  # authentication are failures: the tester's summary decides those without their
  # data, so only the daemon trains their full path
  for mode in normal aggressive; do
    FERROBAN=$trainee python3 scripts/bench-server.py "$((lines / 4))" --sshd --skip-fail2ban \
      --seed "$seed" --mode "$mode" > /dev/null
  done
else
  echo "   (no /etc/fail2ban/filter.d/sshd.conf: the stock sshd filter and the daemon's sshd jail are not trained)"
fi
FERROBAN=$trainee python3 scripts/bench-server.py "$((lines / 4))" --skip-fail2ban --seed "$seed" > /dev/null
"$profdata" merge -o "$work/ferroban.profdata" "$raw"

echo "== optimized build (target/pgo)"
RUSTFLAGS="-Cprofile-use=$(realpath "$work/ferroban.profdata")" CARGO_TARGET_DIR=target/pgo \
  cargo build --release --locked -q -p ferroban
echo "built target/pgo/release/ferroban"
