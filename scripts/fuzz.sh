#!/usr/bin/env bash
# Runs every fuzz target of the module (every func Fuzz* in a _test.go
# file, found with `go test -list`), FUZZTIME each (default 30s), and
# prints a line per target with the executions go test reported.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
n=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $($GO list ./...); do
	for f in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		n=$((n + 1))
		echo "==> $pkg $f ($FUZZTIME)"
		if ! $GO test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1; then
			cat "$log" >&2
			echo "FAIL: $pkg $f" >&2
			exit 1
		fi
		grep -E 'elapsed: .*execs' "$log" | tail -1 || true
	done
done
echo "fuzzed $n targets, $FUZZTIME each"
