#!/usr/bin/env bash
# Benchmark (not a test) of the fleet: propagation latency, a 1,000-address burst,
# a join with many bans, resident memory. Needs root, nats-server and nftables.
# Usage: scripts/bench-fleet.sh [HOSTS] [SAMPLES] [JOIN_BANS]
#   (defaults 3 hosts, 200 latency samples, 100,000 bans for the join)
#
# Everything runs in a network namespace made for the run and removed after it:
# nats-server on its loopback, each ferroban host banning through native nftables
# into a table of its own, `nft monitor` timing when addresses reach a set.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-3}
samples=${2:-200}
join=${3:-100000}
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (network namespace, nftables)"; exit 0; }
command -v nats-server >/dev/null || { echo "SKIPPED: nats-server is not installed"; exit 0; }
cargo build --release -q
ns="ferroban-bench-fleet-$$"
root="$(mktemp -d /tmp/ferroban-bench-fleet.XXXXXX)"
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$root"' EXIT
ip netns add "$ns"
ip netns exec "$ns" python3 scripts/bench-fleet.py "$root" "$hosts" "$samples" "$join"
