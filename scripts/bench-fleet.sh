#!/usr/bin/env bash
# Benchmark (not a test) of the fleet: propagation latency, a 1,000-address burst,
# a join with many bans, resident memory. Needs root, nats-server and nftables.
# Usage: scripts/bench-fleet.sh [HOSTS] [SAMPLES] [JOIN_BANS]
#   (defaults 3 hosts, 200 latency samples, 100,000 bans for the join)
#
# Everything runs in network namespaces made for the run and removed after it:
# nats-server in one, each host in one of its own (over a veth pair, with its own
# nftables), the two hosts whose kernel sets are timed (the last one, the joining
# one) each watched by an `nft monitor` of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${1:-3}
samples=${2:-200}
join=${3:-100000}
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root (network namespace, nftables)"; exit 0; }
command -v nats-server >/dev/null || { echo "SKIPPED: nats-server is not installed"; exit 0; }
[ "$hosts" -ge 2 ] || { echo "HOSTS must be at least 2"; exit 2; }
cargo build --release -q
ns="ferroban-bench-fleet-$$"
root="$(mktemp -d /tmp/ferroban-bench-fleet.XXXXXX)"
trap 'for n in $(ip netns list | cut -d" " -f1 | grep -x -e "$ns" -e "$ns-[0-9]*"); do ip netns del "$n"; done; rm -rf "$root"' EXIT
ip netns add "$ns"
ip netns exec "$ns" python3 scripts/bench-fleet.py "$root" "$ns" "$hosts" "$samples" "$join"
