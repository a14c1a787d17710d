#!/usr/bin/env bash
# The README's per-filter table: how many of Fail2ban's sample-log lines each of
# ferroban's own filters (config/filter.d) handles as Fail2ban's stock filter
# does, from one conformance run. Prints Markdown rows (filter, lines as stock,
# share) and the total; exits 1 when a filter handles less than 98% of its
# lines, counting the lines tests/stock-exceptions excuses (where stock lets a
# client choose the address). Needs the Debian package fail2ban (its corpus).
#   scripts/filter-table.sh [TOOL]    (default: target/release/ferroban regex)
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${1:-"$PWD/target/release/ferroban regex"}
# run.py exits 1 when any line fails; the table is wanted all the same.
python3 ../shared/conformance/run.py --tool "$tool" --config config -v > target/conformance-config.txt || true
awk '
  FNR == NR { if ($0 !~ /^#/ && NF) excusable[$1] = 1; next }
  /^filter +pass +fail/ { table = 1; print "| filter | lines as stock | share |"; print "|---|---|---|"; next }
  table && NF >= 3 && $2 ~ /^[0-9]+$/ {
    printf "| %s | %d / %d | %.1f%% |\n", $1, $2, $2 + $3, 100 * $2 / ($2 + $3)
    filters[++n] = $1; passed[$1] = $2; lines[$1] = $2 + $3
    next
  }
  { table = 0 }
  # "FAIL FILE:LINE [variant] why": one per failed line and variant.
  /^FAIL / && ($2 in excusable) { split($2, at, ":"); excused[at[1]]++ }
  /^conformance:/ { total = $0 }
  END { if (!total) { print "no conformance result" > "/dev/stderr"; exit 1 } print ""; print total
        for (i = 1; i <= n; i++) { f = filters[i]; if (passed[f] + excused[f] < 0.98 * lines[f]) low = low " " f }
        if (low) { print "below 98%:" low > "/dev/stderr"; exit 1 } }
' tests/stock-exceptions target/conformance-config.txt
