#!/usr/bin/env bash
# Installs what `make bench` needs besides Go: the systems that
# BenchmarkStorageVsRedis measures Planet against, in the same run —
# redis-server (one alone, and a primary with two replicas), redis-tools
# (redis-cli, redis-benchmark) and etcd-server (three etcd members). As root
# it uses apt-get; otherwise it prints the exact command to run and fails,
# so that no benchmark runs without its comparison.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)

[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
	echo "make bench needs: ${missing[*]} (the systems the storage benchmark compares against)" >&2
	echo "run as root:  $cmd" >&2
	exit 1
fi
