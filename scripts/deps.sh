#!/usr/bin/env bash
# Installs what `make test` needs besides Go: a C compiler for the race
# detector (cgo), redis-tools (redis-cli, redis-benchmark) and
# redis-server for the storage and RESP interop tests, and for
# scripts/check.sh shellcheck, systemd (systemd-analyze verify and
# security on the units) and nftables (nft -c on install.sh's ruleset);
# wireguard-tools (wg show) and iproute2 (ip netns) for the mesh smoke test.
# With "bench" it adds what `make bench` compares Planet against in the same run: etcd-server
# (three etcd members; redis-server serves as a primary with two replicas
# and alone). As root it uses apt-get; otherwise it prints the exact
# command to run and fails, so that no test or benchmark is skipped
# silently.
set -euo pipefail

missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
command -v wg >/dev/null 2>&1 || missing+=(wireguard-tools)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
if [ "${1:-}" = bench ]; then
	command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
fi

[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
	echo "make ${1:-test} needs: ${missing[*]} (a C compiler for the race detector; redis for the interop tests; shellcheck, systemd and nftables for scripts/check.sh; wireguard-tools and iproute2 for the mesh test; etcd for the benchmark)" >&2
	echo "run as root:  $cmd" >&2
	exit 1
fi
