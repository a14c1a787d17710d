#!/usr/bin/env bash
# Benchmark (not a test): ferroban regex with ferroban's own filters on Fail2ban's
# sample log for each service, its log lines repeated to LINES lines (a mix of
# failures and other lines, as the corpus has them), optionally against
# fail2ban-regex with the same filters on a tenth of the lines.
# sendmail-reject merges lines by sendmail's queue id; a repeated sample repeats
# the same few ids thousands of times, which no real log does, and the engine's
# per-id cache makes that case slow (superlinear). Time it on a real log instead.
# Usage: scripts/bench-filters.sh [LINES] [--with-fail2ban] [FILTER...]
#   FERROBAN=path/to/ferroban to time another build (default target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-200000}; shift || true
with_fail2ban=false
if [ "${1:-}" = --with-fail2ban ]; then with_fail2ban=true; shift; fi
corpus=$(ls -d /usr/lib/python3*/dist-packages/fail2ban/tests/files/logs | head -1)
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(nginx-limit-req nginx-bad-request apache-badbots
  apache-noscript apache-overflows apache-modsecurity lighttpd-auth haproxy-http-auth
  traefik-auth courier-auth courier-smtp exim exim-spam sendmail-auth sieve)
ferroban=${FERROBAN:-target/release/ferroban}
[ -n "${FERROBAN:-}" ] || cargo build --release -q
out=bench-out; mkdir -p "$out"
rate() { python3 -c "import sys; print(int(int(sys.argv[1]) / max(float(sys.argv[2]), 0.01)))" "$@"; }
for f in "${filters[@]}"; do
  log=$out/filter-$f-$lines.log
  grep -v '^#' "$corpus/$f" | grep -v '^$' > "$out/lines.tmp"
  python3 -c "import sys,itertools; l=open(sys.argv[1]).read().splitlines(); print('\n'.join(itertools.islice(itertools.cycle(l), int(sys.argv[2]))))" \
    "$out/lines.tmp" "$lines" > "$log"
  /usr/bin/time -f "%U %S" -o "$out/time.txt" "$ferroban" regex -c config "$log" "$f" > /dev/null
  read -r u s < "$out/time.txt"
  cpu=$(python3 -c "print(round($u+$s, 2))")
  line="$(printf '%-20s ferroban %6ss cpu  %9s lines/cpu-s' "$f" "$cpu" "$(rate "$lines" "$cpu")")"
  if $with_fail2ban; then
    head -n $((lines / 10)) "$log" > "$out/tenth.tmp"
    /usr/bin/time -f "%U %S" -o "$out/time.txt" fail2ban-regex "$out/tenth.tmp" "config/filter.d/$f.conf" > /dev/null
    read -r u s < "$out/time.txt"
    cpu=$(python3 -c "print(round($u+$s, 2))")
    line="$line  | fail2ban-regex $(rate $((lines / 10)) "$cpu") lines/cpu-s"
  fi
  echo "$line"
done
rm -f "$out/lines.tmp" "$out/tenth.tmp"
