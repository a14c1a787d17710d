#!/usr/bin/env bash
# Measurement (not a test): locked instructions (a `lock` prefix, or `xchg` with
# memory, which locks without one) that `ferroban regex` runs per line with a stock
# sshd filter, counted exactly: callgrind's per-instruction counts summed over the
# addresses objdump shows for them. Each is a full barrier that waits for every
# write before it, so they cost more than their count says (see "2026-12-05
# (night)" in docs/performance.md). Start-up is included, on 100,000 lines.
# Usage: scripts/locked-instructions.sh [MODE]   (normal, ddos, extra, aggressive)
#   FERROBAN: the binary to measure (default target/release/ferroban).
# Needs valgrind and objdump (`apt-get install valgrind binutils`).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-aggressive}
ferroban=${FERROBAN:-target/release/ferroban}
[ -f /etc/fail2ban/filter.d/sshd.conf ] ||
  { echo "needs Fail2ban's stock filters in /etc/fail2ban (apt-get install fail2ban)" >&2; exit 1; }
[ -x "$ferroban" ] || cargo build --release -q
mkdir -p bench-out
[ -s bench-out/auth-1000000.log ] || python3 scripts/gen-authlog.py 1000000 > bench-out/auth-1000000.log
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -100000 bench-out/auth-1000000.log > "$tmp/auth.log"
valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file="$tmp/out" \
  "$ferroban" regex --no-progress -c /etc/fail2ban "$tmp/auth.log" "sshd[mode=$mode]" > /dev/null 2>&1
objdump -d --no-show-raw-insn "$ferroban" |
  grep -E '^\s+[0-9a-f]+:\s+(lock|xchg\s+%[a-z0-9]+,\()' | awk '{print $1}' | tr -d ':' > "$tmp/locked"
echo -n "sshd[mode=$mode]: "
python3 - "$tmp/locked" "$tmp/out" <<'PY'
import re, sys
locked = {int(a, 16) for a in open(sys.argv[1])}
total, at, after_call = 0, 0, False
for line in open(sys.argv[2]):
    if line.startswith("calls="):
        after_call = True  # the next line is the call's inclusive cost
        continue
    m = re.match(r"^(0x[0-9a-f]+|[+-]\d+|\*)\s+\S+\s+(\d+)", line)
    if not m:
        continue
    pos = m.group(1)
    if pos.startswith("0x"):
        at = int(pos, 16)
    elif pos[0] in "+-":
        at += int(pos)
    if after_call:
        after_call = False
    elif at in locked:
        total += int(m.group(2))
print("%.2f locked instructions a line (100,000 lines, start-up included)" % (total / 100000))
PY
