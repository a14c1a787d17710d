#!/usr/bin/env bash
# Benchmark (not a test), as root: ferroban's native nftables bans against Fail2ban's
# stock nftables action, inside a network namespace made (and removed) here.
# Usage: scripts/bench-firewall.sh [PROBES] [BANS_FERROBAN] [BANS_FAIL2BAN] [--skip-fail2ban]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
ns="fbbench$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip netns exec "$ns" python3 scripts/bench-firewall.py "$@"
