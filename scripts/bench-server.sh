#!/usr/bin/env bash
# Benchmark (not a test): the ferroban daemon against fail2ban-server on the same
# appended logs. Usage: scripts/bench-server.sh [LINES] [BANS_FERROBAN] [BANS_FAIL2BAN] [--skip-fail2ban]
# With --sshd: one sshd jail (stock filter) on a generated auth.log: scripts/bench-server.sh 200000 --sshd
# With --sshd --callgrind (valgrind): also the instructions per line outside the filter.
# With --sshd --mode MODE: the stock filter in that mode (normal, ddos, extra, aggressive).
# With --seed N: logs generated from seed N (build-pgo.sh trains on logs the benchmarks do not read).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
exec python3 scripts/bench-server.py "$@"
