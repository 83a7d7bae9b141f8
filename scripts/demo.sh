#!/usr/bin/env bash
# The Planet demo: starts the three-region platform with `planet dev` and
# walks through a scenario, printing each step and its outcome. Exits 0 only
# if every step held.
set -uo pipefail

BIN=${BIN:-bin/planet}
CONTROL=${PLANET_DEV_CONTROL:-127.0.0.1:10199}
export PLANET_DEV_CONTROL=$CONTROL
SFO=127.0.1.1:10200
NYC=127.0.1.2:10200
AMS=127.0.1.3:10200
WORK=$(mktemp -d)
LOG=$WORK/planet-dev.log
PIDS=()

if [ -t 1 ]; then B=$'\033[1m' G=$'\033[32m' R=$'\033[31m' N=$'\033[0m'; else B='' G='' R='' N=''; fi
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
ok()   { printf '    %sok%s   %s\n' "$G" "$N" "$*"; }
fail() {
	printf '    %sFAIL%s %s\n' "$R" "$N" "$*"
	echo "--- last 40 lines of planet dev's log ($LOG)"
	tail -n 40 "$LOG"
	exit 1
}
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "${DEV:-}" ]; then kill -INT "$DEV" 2>/dev/null; wait "$DEV" 2>/dev/null; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
wait_until() {
	local limit=$(( $1 * 1000 )) desc=$2 start
	shift 2
	start=$(now_ms)
	until "$@"; do
		if [ -n "${DEV:-}" ] && ! kill -0 "$DEV" 2>/dev/null; then
			fail "$desc: planet dev exited (is another planet dev running, or are ports 10199/10200 taken?)"
		fi
		if [ $(( $(now_ms) - start )) -gt "$limit" ]; then
			fail "$desc: not within $(( limit / 1000 ))s"
		fi
		sleep 0.05
	done
	ok "$desc (after $(( $(now_ms) - start )) ms)"
}

listed()     { "$BIN" discovery list "$2" --addr "$1" 2>/dev/null | grep -qx "$3"; }
not_listed() { "$BIN" discovery list "$2" --addr "$1" >"$WORK/out" 2>/dev/null && ! grep -qx "$3" "$WORK/out"; }
all_alive()  { [ "$("$BIN" discovery regions --json --addr "$1" 2>/dev/null | grep -c '"state": "alive"')" = 3 ]; }

step "Start the three-region platform: planet dev (sfo 127.0.1.1, nyc 127.0.1.2, ams 127.0.1.3)"
# planet dev generates the mesh's platform secret under its data directory;
# the CLI reads it from PLANET_SECRET_FILE, as services do from region.env.
export PLANET_SECRET_FILE=$WORK/data/secret
"$BIN" dev --control "$CONTROL" --data-dir "$WORK/data" >"$LOG" 2>&1 &
DEV=$!
for r in $SFO $NYC $AMS; do
	wait_until 20 "discovery at $r sees all three regions alive" all_alive "$r"
done
"$BIN" discovery regions --addr $SFO | sed 's/^/        /'

step "Register service 'web' at 127.0.0.1:8080 in sfo"
"$BIN" discovery register web 127.0.0.1:8080 --ttl 10m --addr $SFO || fail "register in sfo"
ok "registered in sfo"

step "It is listed in nyc and ams, with sfo's address (127.0.1.1) and region"
wait_until 5 "nyc lists web at 127.0.1.1:8080" listed $NYC web 127.0.1.1:8080
wait_until 5 "ams lists web at 127.0.1.1:8080" listed $AMS web 127.0.1.1:8080
"$BIN" discovery list web --json --addr $NYC >"$WORK/web.json" || fail "list --json in nyc"
grep -q '"region": "sfo"' "$WORK/web.json" || fail "nyc's entry does not carry region sfo"
ok "nyc's entry carries region sfo:"
sed 's/^/        /' "$WORK/web.json"

step "list_local in nyc does not show it"
local_out=$("$BIN" discovery list web --local --addr $NYC) || fail "list --local in nyc"
[ -z "$local_out" ] || fail "nyc's list_local shows: $local_out"
ok "nyc's list_local for web is empty"

step "A service in ams (heartbeating, as a real service does): 'api' at 127.0.0.1:9000"
"$BIN" discovery register api 127.0.0.1:9000 --heartbeat --ttl 3s --addr $AMS >"$WORK/api.log" 2>&1 &
PIDS+=($!)
wait_until 5 "sfo lists ams's api at 127.0.1.3:9000" listed $SFO api 127.0.1.3:9000
wait_until 5 "nyc lists ams's api at 127.0.1.3:9000" listed $NYC api 127.0.1.3:9000

step "Kill ams's discovery (SIGKILL): its services drop out of sfo and nyc"
"$BIN" dev kill ams discovery | sed 's/^/        /' || fail "planet dev kill"
wait_until 15 "sfo no longer lists ams's api" not_listed $SFO api 127.0.1.3:9000
wait_until 15 "nyc no longer lists ams's api" not_listed $NYC api 127.0.1.3:9000
"$BIN" discovery regions --addr $SFO | sed 's/^/        /'

step "Start ams's discovery again: its services come back, nothing else restarted"
"$BIN" dev start ams discovery | sed 's/^/        /' || fail "planet dev start"
wait_until 20 "sfo lists ams's api again" listed $SFO api 127.0.1.3:9000
wait_until 20 "nyc lists ams's api again" listed $NYC api 127.0.1.3:9000
wait_until 20 "ams lists sfo's web again" listed $AMS web 127.0.1.1:8080
"$BIN" dev ps | sed 's/^/        /'

S0=127.0.1.1:10600 S1=127.0.1.1:10601 S2=127.0.1.1:10602
replicas() { [ "$("$BIN" discovery list storage --local --addr $SFO 2>/dev/null | wc -l)" = "$1" ]; }
set_quiet() { "$BIN" storage set "$@" >/dev/null 2>&1; }
local_has() { [ "$("$BIN" storage get "$2" --local --addr "$1" 2>/dev/null | head -1)" = "$3" ]; }

tailers_ready() {
	local r
	for r in 127.0.1.1 127.0.1.2 127.0.1.3; do
		[ "$("$BIN" waltailer status --json --addr $r:10700 2>/dev/null | grep -c '"state": "ok"')" = 2 ] || return 1
	done
}
lagging() { "$BIN" waltailer status --json --addr 127.0.1.1:10700 2>/dev/null | tr -d ' \n' | grep -q "\"region\":\"$1\",\"state\":\"\(retrying\|catching up\)\""; }
both_in_ams() { local_has $A2 sfo:50 "while ams was down" && local_has $A2 nyc:50 "while ams was down"; }
verify_quiet() { "$BIN" verify --discovery $SFO --sample 0 >/dev/null 2>&1; }

step "Storage: three replicas per region; sfo's are 127.0.1.1:10600-10602 (W=2, R=2)"
wait_until 20 "sfo's discovery lists three storage replicas" replicas 3
"$BIN" discovery list storage --local --addr $SFO | sed 's/^/        /'

step "SET through one sfo replica (10600) is readable through the other two"
"$BIN" storage set greeting "hello from sfo" --addr $S0 >/dev/null || fail "storage set"
ok "SET greeting via $S0: OK"
for r in $S1 $S2; do
	got=$("$BIN" storage get greeting --addr "$r") || fail "storage get via $r"
	[ "$got" = "hello from sfo" ] || fail "GET via $r gave '$got'"
	ok "GET greeting via $r: $got"
done
"$BIN" storage get greeting --local --addr $S2 | sed 's/^/        10602 holds: /'

# resp HOST PORT COMMAND...: one RESP command over bash's /dev/tcp (no
# redis-cli needed); prints the first reply line.
resp() {
	local host=$1 port=$2 line
	shift 2
	exec 3<>"/dev/tcp/$host/$port" || return 1
	printf '*%d\r\n' $# >&3
	for a in "$@"; do printf '$%d\r\n%s\r\n' ${#a} "$a" >&3; done
	IFS= read -r line <&3
	exec 3<&- 3>&-
	printf '%s\n' "${line%$'\r'}"
}

step "Security: the platform's own traffic needs the mesh's secret"
if out=$(PLANET_SECRET_FILE='' "$BIN" discovery register rogue 127.0.0.1:6666 --addr $SFO 2>&1); then
	fail "a registration without the secret was accepted: $out"
fi
ok "register without PLANET_SECRET_FILE refused: $out"
got=$(resp 127.0.1.1 10600 REPL.PUT greeting forged 99999999999999.0.sfo-1) || fail "RESP to $S0"
case $got in -NOPERM*) ok "REPL.PUT from an unauthenticated client: $got" ;; *) fail "REPL.PUT answered: $got" ;; esac
got=$("$BIN" storage get greeting --addr $S1) || fail "storage get"
[ "$got" = "hello from sfo" ] || fail "GET greeting after the refused REPL.PUT: '$got'"
ok "GET greeting: $got (unchanged)"

step "Kill one sfo replica (SIGKILL 10602): writes with W=2 still succeed"
"$BIN" dev kill sfo storage-10602 | sed 's/^/        /' || fail "planet dev kill"
for i in $(seq 1 20); do
	"$BIN" storage set "order:$i" "paid-$i" --addr $S0 >/dev/null || fail "SET order:$i with one replica down"
done
ok "20 writes acknowledged (OK) with 10602 down"

step "Start 10602 again: it catches up without operator action (hinted handoff)"
"$BIN" dev start sfo storage-10602 | sed 's/^/        /' || fail "planet dev start"
wait_until 20 "10602's own copy of order:20 is paid-20" local_has $S2 order:20 paid-20
wait_until 20 "10602's own copy of order:1 is paid-1" local_has $S2 order:1 paid-1

step "Kill two sfo replicas: a write gets an error reply, never OK"
"$BIN" dev kill sfo storage-10601 | sed 's/^/        /'
"$BIN" dev kill sfo storage-10602 | sed 's/^/        /'
if out=$("$BIN" storage set doomed x --addr $S0 2>&1); then
	fail "SET with two of three replicas down answered: $out"
fi
ok "SET refused: $out"
"$BIN" dev start sfo storage-10601 >/dev/null && "$BIN" dev start sfo storage-10602 >/dev/null
wait_until 20 "writes succeed again once they are back" set_quiet again ok --addr $S0

N0=127.0.1.2:10600 N1=127.0.1.2:10601 A0=127.0.1.3:10600 A2=127.0.1.3:10602
get_is() { [ "$("$BIN" storage get "$2" --addr "$1" 2>/dev/null)" = "$3" ]; }

step "Geo-replication: a key written in sfo is readable in nyc and ams within a second (WAL tailers)"
wait_until 20 "every region's tailer ships to the two others" tailers_ready
"$BIN" storage set city "written in sfo" --addr $S0 >/dev/null || fail "SET city in sfo"
ok "SET city in sfo via $S0: OK"
wait_until 1 "GET city in nyc ($N0) is 'written in sfo'" get_is $N0 city "written in sfo"
wait_until 1 "GET city in ams ($A0) is 'written in sfo'" get_is $A0 city "written in sfo"
"$BIN" waltailer status --addr 127.0.1.1:10700 | sed 's/^/        /'

step "The same key written at the same moment in sfo and nyc: one value in all three regions"
"$BIN" storage set race "sfo's value" --addr $S1 >/dev/null &
P1=$!
"$BIN" storage set race "nyc's value" --addr $N1 >/dev/null &
P2=$!
wait "$P1" || fail "SET race in sfo"
wait "$P2" || fail "SET race in nyc"
ok "SET race in sfo and in nyc concurrently: both OK"
one_value() {
	local a b c
	a=$("$BIN" storage get race --addr $S0 2>/dev/null) && b=$("$BIN" storage get race --addr $N0 2>/dev/null) &&
		c=$("$BIN" storage get race --addr $A0 2>/dev/null) && [ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ]
}
wait_until 10 "sfo, nyc and ams agree on race" one_value
ok "race is '$("$BIN" storage get race --addr $A0)' everywhere (the newer version wins: last-writer-wins on HLC versions)"

step "Kill ams (discovery, three replicas, tailer) while sfo and nyc keep writing; start it again: it catches up"
for svc in waltailer storage-10600 storage-10601 storage-10602 discovery; do
	"$BIN" dev kill ams "$svc" >/dev/null || fail "planet dev kill ams $svc"
done
ok "ams killed (SIGKILL: discovery, storage-10600..10602, waltailer)"
for i in $(seq 1 50); do
	"$BIN" storage set "sfo:$i" "while ams was down" --addr $S0 >/dev/null || fail "SET sfo:$i with ams down"
	"$BIN" storage set "nyc:$i" "while ams was down" --addr $N0 >/dev/null || fail "SET nyc:$i with ams down"
done
ok "100 writes acknowledged in sfo and nyc with ams down"
wait_until 10 "sfo's tailer reports ams behind" lagging ams
"$BIN" waltailer status --addr 127.0.1.1:10700 | sed 's/^/        /'
for svc in discovery storage-10600 storage-10601 storage-10602 waltailer; do
	"$BIN" dev start ams "$svc" >/dev/null || fail "planet dev start ams $svc"
done
ok "ams started again"
wait_until 30 "ams holds sfo:50 and nyc:50" both_in_ams
wait_until 30 "planet verify: all nine replicas of the three regions agree" verify_quiet
"$BIN" verify --discovery $SFO --sample 0 | sed 's/^/        /'

CS=127.0.1.1:10300 CN=127.0.1.2:10300 CA=127.0.1.3:10300
cache() { "$BIN" caching cmd --addr "$@"; }
cache_is() { [ "$(cache "$1" GET "$2" 2>/dev/null)" = "$3" ]; }
cache_up() { [ "$(cache "$1" PING 2>/dev/null)" = PONG ]; }
cache_peers() { cache "$1" INFO planet 2>/dev/null | tr -d '\r' | grep -qx "peers:$2"; }
strong_set() { cache "$1" --mode strong SET "$2" "$3" >/dev/null 2>&1; }

step "Cache: one per region (Redis protocol, port 10300); a strong SET in sfo is readable at once in nyc and ams"
for c in $CS $CN $CA; do wait_until 20 "the cache at $c sees its two peers" cache_peers "$c" 2; done
out=$(cache $CS --mode strong --acks SET greeting "hello from sfo") || fail "strong SET greeting in sfo: $out"
ok "PLANET.MODE strong; SET greeting in sfo: $(echo "$out" | tr '\n' ';' | sed 's/;$//; s/;/; /')"
cache_is $CN greeting "hello from sfo" || fail "GET greeting in nyc right after the strong SET: '$(cache $CN GET greeting)'"
ok "GET greeting in nyc at once: '$(cache $CN GET greeting)'"
cache_is $CA greeting "hello from sfo" || fail "GET greeting in ams right after the strong SET: '$(cache $CA GET greeting)'"
ok "GET greeting in ams at once: '$(cache $CA GET greeting)'"

step "An eventual SET (the default mode) replies at once and arrives in nyc and ams shortly after"
cache $CS SET news "eventual, with a TTL" EX 3600 >/dev/null || fail "eventual SET news in sfo"
ok "SET news ... EX 3600 in sfo: OK"
wait_until 2 "GET news in nyc" cache_is $CN news "eventual, with a TTL"
wait_until 2 "GET news in ams" cache_is $CA news "eventual, with a TTL"
ok "TTL news in ams: $(cache $CA TTL news) s (TTLs travel with the value)"

step "Kill ams's cache: a strong SET fails naming ams; quorum and eventual SETs succeed"
"$BIN" dev kill ams caching >/dev/null || fail "planet dev kill ams caching"
ok "ams's cache killed (SIGKILL)"
out=$(cache $CS --mode strong SET after-kill strong 2>&1) && fail "a strong SET succeeded with ams's cache down: $out"
echo "$out" | grep -q "not acknowledged by ams (2 of 3 regions)" || fail "strong SET with ams down: '$out'"
ok "PLANET.MODE strong; SET after-kill: ${out#planet: }"
out=$(cache $CS --mode quorum --acks SET after-kill quorum) || fail "quorum SET with ams down: $out"
ok "PLANET.MODE quorum; SET after-kill: $(echo "$out" | tr '\n' ';' | sed 's/;$//; s/;/; /')"
out=$(cache $CS --mode eventual SET while-ams-down eventual) || fail "eventual SET with ams down: $out"
ok "PLANET.MODE eventual; SET while-ams-down: $out (queued for ams)"

step "Start ams's cache again: dev runs one cache per region, so there is no cache of ams to copy (warm start skipped): it starts empty"
"$BIN" dev start ams caching >/dev/null || fail "planet dev start ams caching"
wait_until 10 "ams's cache answers" cache_up $CA
ok "its log: $(grep 'region=ams' "$LOG" | grep -o 'msg="warm start[^"]*"' | tail -1)"
ok "GET greeting in ams: '$(cache $CA GET greeting)' (written before it was killed: gone with the process)"
wait_until 5 "the writes queued for ams while it was down arrive (GET after-kill is 'quorum')" cache_is $CA after-kill quorum
wait_until 20 "ams's cache sees its two peers again" cache_peers $CA 2
wait_until 10 "a strong SET in sfo succeeds again" strong_set $CS welcome-back yes
cache_is $CA welcome-back yes || fail "GET welcome-back in ams right after the strong SET"
ok "GET welcome-back in ams at once: yes"

printf '\n%sDemo passed: every step held (%d s).%s\n' "$B$G" $(( ($(now_ms) - T0) / 1000 )) "$N"
