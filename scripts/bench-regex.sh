#!/usr/bin/env bash
# Benchmark (not a test): ferroban regex vs fail2ban-regex vs rg -c on the same
# generated Apache access log with the guide's wordpress-auth filter.
# Usage: scripts/bench-regex.sh [LINES] [--skip-fail2ban]
#   FERROBAN: the binary to measure (default target/release/ferroban), to compare builds.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
out=bench-out; mkdir -p "$out"
log=$out/access-$lines.log
cargo build --release -q
if [ ! -s "$log" ]; then
  python3 scripts/gen-accesslog.py "$lines" > "$log"
fi
filter=examples/config/filter.d/wordpress-auth.conf
measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%U %S %M %e" -o "$out/time.txt" "$@" > "$out/$name.out" 2>/dev/null || true
  read -r u s m e < "$out/time.txt"
  local cpu; cpu=$(python3 -c "print(round($u+$s,2))")
  local rate; rate=$(python3 -c "print(int($lines/max($u+$s,0.01)))")
  printf '%-16s cpu %6ss  wall %6ss  peak %6.1f MB  %10s lines/cpu-s\n' "$name" "$cpu" "$e" "$(python3 -c "print($m/1024)")" "$rate"
  echo "$cpu" > "$out/$name.cpu"
}
echo "log: $log ($lines lines)"
measure ferroban "${FERROBAN:-target/release/ferroban}" regex --no-progress "$log" "$filter"
grep -E "^Lines:" "$out/ferroban.out"
# ripgrep is a yardstick (a plain regex count), not a dependency: skipped when absent
if command -v rg >/dev/null; then
  measure rg rg -c '^\S+ - - \[.*\] "(GET|POST) (?:/[^"]*)?wp-login\.php(?:\?.*)? HTTP/[^"]+" 403 .*' "$log"
  echo "rg count: $(cat "$out/rg.out")"
else
  echo "rg: not installed (apt-get install ripgrep), skipped"
fi
if [ "${2:-}" != "--skip-fail2ban" ] && command -v fail2ban-regex >/dev/null; then
  measure fail2ban fail2ban-regex "$log" "$filter"
  grep -E "^Lines:" "$out/fail2ban.out"
  python3 -c "print('ratio fail2ban/ferroban CPU: %.0fx' % ($(cat $out/fail2ban.cpu)/max($(cat $out/ferroban.cpu),0.01)))"
fi
if command -v rg >/dev/null; then
  python3 -c "print('ferroban/rg CPU: %.2fx' % ($(cat $out/ferroban.cpu)/max($(cat $out/rg.cpu),0.01)))"
fi
