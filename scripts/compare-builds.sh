#!/usr/bin/env bash
# Benchmark (not a test): is build NEW faster than build OLD on the stock sshd filter?
# Usage: scripts/compare-builds.sh OLD NEW [ROUNDS]   (two ferroban binaries; default 15)
#   MODE: the stock sshd filter's mode (normal, ddos, extra or aggressive; default normal).
#
# Why paired rounds: on a shared VM the CPU seconds of one run move by 1.5x from
# hour to hour, more than any one change. OLD and NEW run one after the other,
# ROUNDS times, on the same 1,000,000-line generated auth.log (scripts/gen-authlog.py,
# in bench-out/), in the tester's default mode (every failregex tried on a line, as
# fail2ban-regex does) and in the daemon's (--no-check-all: the first that matches).
# For each, the whole run's CPU seconds (median) and the median of the per-round
# ratios NEW/OLD with their range. A build against itself, 15 rounds here on
# 2026-12-01: medians 0.96 and 1.04, ranges 0.79-1.18; so a change is shown only when
# the whole range stays on one side of 1 over at least 10 rounds, and a change of a
# few percent cannot be told at all.
#
# With valgrind, also the figures of each build over lines 20,001-100,000 of that log
# (start-up cancels out), by scripts/sshd-line-costs.sh: instructions, then
# instruction- and data-cache misses and mispredicted branches as cachegrind
# simulates them, and the cycles they are modelled to cost. Instructions move by a few
# dozen from run to run (the memos' hash tables are seeded at random); the simulated
# instruction-cache misses move by +-15 % with where the linker happens to place
# functions (a build from another directory differs), so a change in them alone
# proves nothing.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,3p "$0" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2") rounds=${3:-15}
cd "$(dirname "$0")/.."
[ -f /etc/fail2ban/filter.d/sshd.conf ] ||
  { echo "needs Fail2ban's stock filters in /etc/fail2ban (apt-get install fail2ban)" >&2; exit 1; }
sshd_mode=${MODE:-normal}
case $sshd_mode in normal|ddos|extra|aggressive) ;; *) echo "MODE: one of normal, ddos, extra, aggressive" >&2; exit 2;; esac
mode="sshd[mode=$sshd_mode]"
log=bench-out/auth-1000000.log
mkdir -p bench-out
[ -s "$log" ] || python3 scripts/gen-authlog.py 1000000 > "$log"

cpu() { # binary, extra options... -> user+system CPU seconds of one run
  local bin=$1; shift
  /usr/bin/time -f "%U %S" -o bench-out/compare-time.txt "$bin" regex --no-progress "$@" \
    -c /etc/fail2ban "$log" "$mode" > /dev/null
  awk '{ print $1 + $2 }' bench-out/compare-time.txt
}

for opts in "" "--no-check-all"; do
  times=()
  for _ in $(seq "$rounds"); do
    # shellcheck disable=SC2086 # $opts: none or one option
    times+=("$(cpu "$old" $opts)" "$(cpu "$new" $opts)")
  done
  python3 -c "import statistics, sys
t = [float(x) for x in sys.argv[2:]]
old, new = t[0::2], t[1::2]
ratios = sorted(n / o for o, n in zip(old, new))
mode = 'daemon (--no-check-all)' if sys.argv[1] else 'tester (default)'
if len(ratios) >= 10 and ratios[-1] < 1:
    verdict = 'NEW faster'
elif len(ratios) >= 10 and ratios[0] > 1:
    verdict = 'NEW slower'
else:
    verdict = 'no difference shown' + ('' if len(ratios) >= 10 else ' (fewer than 10 rounds)')
print('%s: CPU s a run, median OLD %.3f NEW %.3f; NEW/OLD per round: median %.3f (range %.3f-%.3f, %d rounds): %s'
      % (mode, statistics.median(old), statistics.median(new),
         statistics.median(ratios), ratios[0], ratios[-1], len(ratios), verdict))" "$opts" "${times[@]}"
done

if command -v valgrind > /dev/null; then
  for bin in "$old" "$new"; do
    CACHES=1 KINDS=all FERROBAN=$bin scripts/sshd-line-costs.sh "$sshd_mode"
  done
fi
