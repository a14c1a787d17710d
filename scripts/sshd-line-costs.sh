#!/usr/bin/env bash
# Measurement (not a test): instructions per line of `ferroban regex` with a stock
# sshd filter, for the whole generated auth.log and for each kind of line alone, where
# the CPU seconds of a small VM move too much to compare builds. For each log it
# runs callgrind on its first 20,000 lines and on all of it, and divides the
# difference by the extra lines, so start-up is left out (as in docs/performance.md).
# Usage: scripts/sshd-line-costs.sh [MODE]   (normal, ddos, extra, aggressive)
#   FERROBAN: the binary to measure (default target/release/ferroban).
#   CACHES=1: cachegrind with its cache and branch simulation instead: per line also
#   the instruction-cache misses, data-cache misses and mispredicted branches, and
#   a model of the cycles they cost (instructions / 3.5 + 12, 10 and 15 cycles a
#   miss; see "Where the CPU time goes" in docs/performance.md), which tracks CPU seconds
#   where instructions alone do not (a profile-guided build, say). Slower.
#   KINDS: the kinds of line to measure (default "all failure ending missed").
#   OPTIONS: more options of `ferroban regex`; OPTIONS=--no-check-all measures the
#   daemon's way (stop at the first matching failregex, drop what is no failure).
# Needs valgrind (`apt-get install valgrind`). The kinds are cut with `grep -E`
# from the first 300,000 lines of bench-out/auth-1000000.log (made if missing), so a
# connection's lines are no longer all together: the multi-line merges differ a
# little from the whole log's, and the kinds weighted by their shares come close to,
# not exactly at, the whole log's figure.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-normal}
ferroban=${FERROBAN:-target/release/ferroban}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[ -f /etc/fail2ban/filter.d/sshd.conf ] ||
  { echo "needs Fail2ban's stock filters in /etc/fail2ban (apt-get install fail2ban)" >&2; exit 1; }
[ -n "${FERROBAN:-}" ] || cargo build --release -q
log=bench-out/auth-1000000.log
mkdir -p bench-out
[ -s "$log" ] || python3 scripts/gen-authlog.py 1000000 > "$log"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failure='Failed |Invalid user|authentication failure;|maximum authentication'
ending='Connection closed by|Connection reset by|Received disconnect|Disconnected from|Accepted '
first() { # the first $1 lines of stdin, all of it read (no broken pipe under pipefail)
  awk -v n="$1" 'NR <= n'
}
kind_of() { # lines on stdin → the lines of kind $1
  case $1 in
    all) cat ;;
    failure) grep -E "$failure" || true ;;
    ending) grep -vE "$failure" | grep -E "$ending" || true ;;
    missed) grep -vE "$failure|$ending" || true ;;
  esac
}
first 300000 < "$log" > "$work/head"
total=100000

costs() { # log: instructions of the whole run (CACHES=1: then its I1, D1 and branch misses)
  if [ -n "${CACHES:-}" ]; then
    valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes --cachegrind-out-file=/dev/null \
      "$ferroban" regex --no-progress ${OPTIONS:-} -c /etc/fail2ban "$1" "sshd[mode=$mode]" 2>&1 >/dev/null |
      awk '{ gsub(",", "") } / I +refs:/ { i = $4 } / I1 +misses:/ { i1 = $4 } / D1 +misses:/ { d1 = $4 }
           /Mispredicts:/ { b = $3 } END { print i, i1, d1, b }'
  else
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$ferroban" regex --no-progress \
      ${OPTIONS:-} -c /etc/fail2ban "$1" "sshd[mode=$mode]" 2>&1 >/dev/null | awk '/Collected/ {print $NF}'
  fi
}

echo "sshd[mode=$mode] ${OPTIONS:-}, $ferroban: a line's costs past the first 20,000 lines"
for kind in ${KINDS:-all failure ending missed}; do
  kind_of "$kind" < "$work/head" | first 100000 > "$work/$kind"
  lines=$(wc -l < "$work/$kind")
  share=$(first $total < "$work/head" | kind_of "$kind" | wc -l)
  if [ "$lines" -le 20000 ]; then
    echo "$kind: too few lines ($lines)"
    continue
  fi
  head -20000 "$work/$kind" > "$work/$kind.20k"
  a=$(costs "$work/$kind.20k")
  b=$(costs "$work/$kind")
  printf '%-8s (%3d %% of the log) ' "$kind" $(( 100 * share / total ))
  awk -v a="$a" -v b="$b" -v n=$(( lines - 20000 )) 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    for (k = 1; k <= 4; k++) d[k] = (y[k] - x[k]) / n
    if (x[2] == "") { printf "%6d instructions a line\n", d[1]; exit }
    printf "%6d instructions, %5.1f I1 / %5.1f D1 misses, %5.1f mispredicts a line: ~%d cycles\n",
      d[1], d[2], d[3], d[4], d[1] / 3.5 + 12 * d[2] + 10 * d[3] + 15 * d[4] }'
done
