#!/usr/bin/env bash
# Benchmark (not a test): what a catastrophic back-tracking filter costs on hostile
# lines, in ferroban and in the real fail2ban-regex.
# Usage: scripts/bench-redos.sh [HOSTILE_LINES] [NORMAL_LINES]
#
# The filter ^(?:(\w+)\s?)+(?<=\d) from <HOST>$ needs back-tracking (a look-behind),
# and a line of 40 letters without a digit makes it try every way of splitting them:
# exponential for Python's re. ferroban gives such a search up after a bounded number
# of steps (BACKTRACK_LIMIT) and counts the line as not matching.
set -euo pipefail
cd "$(dirname "$0")/.."
hostile=${1:-1000}
normal=${2:-100000}
cargo build --release -q
out=bench-out/redos
mkdir -p "$out"
printf '[Definition]\nfailregex = ^(?:(\\w+)\\s?)+(?<=\\d) from <HOST>$\n' > "$out/redos.conf"
python3 - "$out" "$hostile" "$normal" <<'PY'
import sys
out, hostile, normal = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad = "a" * 40 + "b from 203.0.113.66\n"
with open(out + "/hostile.log", "w") as f:
    f.write(bad * hostile)
with open(out + "/normal.log", "w") as f:
    for i in range(normal):
        f.write("user%d from 192.0.2.%d\n" % (i, i % 250 + 1))
with open(out + "/mixed.log", "w") as f:
    for i in range(normal):
        f.write("user%d from 192.0.2.%d\n" % (i, i % 250 + 1))
        if hostile and i % max(1, normal // hostile) == 0:
            f.write(bad)
PY
cpu() { # CPU seconds of a command
  /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'
}
f="target/release/ferroban regex"
h=$(cpu $f "$out/hostile.log" "$out/redos.conf")
n=$(cpu $f "$out/normal.log" "$out/redos.conf")
m=$(cpu $f "$out/mixed.log" "$out/redos.conf")
matched=$($f --json "$out/mixed.log" "$out/redos.conf" | wc -l)
echo "ferroban: $hostile hostile lines in ${h} CPU s ($(echo "scale=3; $h * 1000 / $hostile" | bc) ms each)"
echo "ferroban: $normal normal lines in ${n} CPU s; mixed log in ${m} CPU s, $matched of $normal normal lines still found"
if command -v fail2ban-regex >/dev/null; then
  head -1 "$out/hostile.log" > "$out/one.log"
  start=$(date +%s.%N)
  if timeout 60 fail2ban-regex "$out/one.log" "$out/redos.conf" >/dev/null 2>&1; then
    echo "fail2ban-regex: one hostile line in $(echo "$(date +%s.%N) - $start" | bc) s"
  else
    echo "fail2ban-regex: one hostile line still running after 60 s (stopped)"
  fi
fi
