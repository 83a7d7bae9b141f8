#!/usr/bin/env bash
# Checks the deployment scripts and units (part of `make test`); changes
# nothing on this machine (no file in /etc or /usr/local/bin, no firewall
# rule, no systemd state):
#   - bash -n and shellcheck on every script in scripts/;
#   - systemd-analyze verify on every unit, and its exposure score
#     (systemd-analyze security --offline=true): above 4.0 fails, but for
#     planet-wg.service, which needs CAP_NET_ADMIN and /dev/net/tun;
#   - install.sh: --help, --dry-run's actions, the ruleset of --print-nft
#     passes `nft -c` (check only: nothing is loaded), and a second run
#     into a temporary --root changes nothing;
#   - deploy.sh with a fake ssh and scp: regions in order, and it stops at
#     the first failure, naming the region and the service; --rotate-key:
#     the order of its steps, the table updated with the new key, and it
#     stops at the first failure with REGION's key not switched.
#
# How verify works without /usr/local/bin/planet: systemd-analyze verify
# checks that every Exec*= command exists and is executable, so the units
# are verified with --root=TMP, a temporary root holding a copy of the
# system's units (/usr/lib/systemd/system: verify needs the targets they
# are ordered against), the units under test in TMP/etc/systemd/system, and
# an executable stub at each Exec*= path (TMP/usr/local/bin/planet,
# TMP/usr/bin/kill, TMP/usr/sbin/nft). With --root every path is resolved
# in TMP, so the real units are checked unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools: /usr/sbin is not in every user's PATH.
PATH=$PATH:/usr/sbin:/sbin
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
if [ ${#missing[@]} -gt 0 ]; then
	echo "scripts/check.sh needs: ${missing[*]}" >&2
	echo "run as root:  apt-get update && apt-get install -y ${missing[*]}   (or: bash scripts/deps.sh)" >&2
	exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() { echo "ok    $*"; }
# indent shows what failed, under its FAIL line.
indent() { sed 's/^/    | /' >&2; }

# has FILE TEXT WHAT: FILE contains the line TEXT (fixed string).
has() {
	if grep -qxF -- "$2" "$1"; then
		return 0
	fi
	fail "$3: no line '$2' in:"
	indent <"$1"
	return 1
}

# --- lint ---------------------------------------------------------------------

echo "==> bash -n and shellcheck: scripts/*.sh"
for f in scripts/*.sh; do
	if ! bash -n "$f"; then
		fail "bash -n $f"
	elif ! shellcheck "$f"; then
		fail "shellcheck $f (its findings are above)"
	else
		pass "$f"
	fi
done

# --- units ----------------------------------------------------------------------

echo "==> systemd-analyze verify (in a temporary --root) and security --offline"
R=$TMP/root
mkdir -p "$R/usr/lib/systemd" "$R/etc/systemd/system" "$R/etc/planet"
cp -a /usr/lib/systemd/system "$R/usr/lib/systemd/"
cp scripts/*.service "$R/etc/systemd/system/"
: >"$R/etc/planet/region.env"
# A stub at every absolute Exec*= path of the units (after its prefixes -@:+!).
sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\(\/[^ ]*\).*/\1/p' scripts/*.service | sort -u >"$TMP/execs"
while read -r p; do
	mkdir -p "$R$(dirname "$p")"
	printf '#!/bin/sh\nexit 0\n' >"$R$p"
	chmod 755 "$R$p"
done <"$TMP/execs"
units=()
for f in scripts/*.service; do
	u=$(basename "$f")
	units+=("${u/@.service/@10600.service}")
done
for u in "${units[@]}"; do
	# verify warns (unknown keys, bad values) on stderr and still exits 0:
	# any output fails.
	if ! out=$(systemd-analyze verify --man=no --root="$R" "$u" 2>&1) || [ -n "$out" ]; then
		fail "systemd-analyze verify $u:"
		indent <<<"$out"
		continue
	fi
	if ! sec=$(systemd-analyze security --offline=true --root="$R" --no-pager "$u" 2>&1); then
		fail "systemd-analyze security --offline=true $u:"
		indent <<<"$sec"
		continue
	fi
	score=$(echo "$sec" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		fail "no exposure level for $u in: $sec"
	elif [ "$u" != planet-wg.service ] && awk -v s="$score" 'BEGIN { exit !(s > 4.0) }'; then
		fail "$u: exposure $score, above 4.0 (systemd-analyze security --offline=true on its file lists the exposures)"
	else
		pass "$u: verify clean, exposure $score"
	fi
done

# --- install.sh -----------------------------------------------------------------

echo "==> install.sh"
printf '#!/bin/sh\necho planet stub\n' >"$TMP/planet"
chmod 755 "$TMP/planet"
if bash scripts/install.sh --help >"$TMP/help" 2>&1 && grep -q -- '--dry-run' "$TMP/help"; then
	pass "install.sh --help"
else
	fail "install.sh --help"
fi

# --dry-run: every action printed, nothing done (as root it would do them).
if bash scripts/install.sh --dry-run --binary "$TMP/planet" --env region.env.example \
	--table regions/regions.example --secret "$TMP/planet" --public-iface eth0 >"$TMP/dry" 2>&1; then
	ok=1
	for line in \
		"would run: mkdir -p /var/lib/planet" \
		"would run: mv -f /usr/local/bin/planet.planet-new /usr/local/bin/planet" \
		"would run: install -D -m 640 -o root -g planet region.env.example /etc/planet/region.env.planet-new" \
		"would run: install -D -m 600 -o planet -g planet $TMP/planet /etc/planet/secret.planet-new" \
		"would run: nft -f /etc/planet/planet.nft" \
		"would run: systemctl enable planet-storage@10601.service" \
		"would run: systemctl start planet-wg.service"; do
		has "$TMP/dry" "$line" "install.sh --dry-run" || ok=0
	done
	if grep -q '^run:' "$TMP/dry"; then
		fail "install.sh --dry-run ran something:"
		grep '^run:' "$TMP/dry" >&2
		ok=0
	fi
	# wg before discovery before storage.
	order=$(grep '^would run: systemctl start' "$TMP/dry" | awk '{ print $5 }' | tr '\n' ' ')
	want="planet-firewall.service planet-wg.service planet-discovery.service planet-storage@10600.service planet-storage@10601.service planet-storage@10602.service planet-caching.service planet-waltailer.service "
	[ "$order" = "$want" ] || { fail "install.sh --dry-run start order: $order, want $want"; ok=0; }
	[ "$ok" = 0 ] || pass "install.sh --dry-run ($(grep -c '^would run:' "$TMP/dry") actions)"
else
	fail "install.sh --dry-run:"
	indent <"$TMP/dry"
fi

# The ruleset: nft -c checks it with the kernel and loads nothing.
if bash scripts/install.sh --write-nft "$TMP/planet.nft" --table regions/regions.example \
	--region nyc --public-iface eth0 &&
	has "$TMP/planet.nft" "table inet planet {" "install.sh --write-nft" &&
	has "$TMP/planet.nft" '		iifname { "lo", "wg0" } tcp dport @tcp_ports accept' "install.sh --write-nft" &&
	has "$TMP/planet.nft" '		iifname "eth0" udp dport 51820 accept comment "WireGuard"' "install.sh --write-nft" &&
	has "$TMP/planet.nft" '		tcp dport @tcp_ports drop' "install.sh --write-nft"; then
	if [ "$(id -u)" = 0 ]; then
		nftc=(nft -c -f "$TMP/planet.nft")
	else
		nftc=(unshare -rn nft -c -f "$TMP/planet.nft") # CAP_NET_ADMIN in a namespace of its own
	fi
	if out=$("${nftc[@]}" 2>&1); then
		pass "install.sh --write-nft: nft -c accepts the ruleset"
	else
		fail "${nftc[*]}: $out"
	fi
else
	fail "install.sh --write-nft"
fi
if bash scripts/install.sh --print-nft --tcp-ports '10200,bad' >/dev/null 2>&1; then
	fail "install.sh --tcp-ports 10200,bad: accepted"
fi

# Idempotent: a second run into the same --root changes nothing.
args=(--root "$TMP/inst" --binary "$TMP/planet" --env region.env.example --table regions/regions.example)
if bash scripts/install.sh "${args[@]}" >"$TMP/run1" 2>&1 && bash scripts/install.sh "${args[@]}" >"$TMP/run2" 2>&1; then
	if grep -q '^run:' "$TMP/run2" || [ "$(grep -c '^unchanged: ' "$TMP/run2")" -lt 12 ]; then
		fail "install.sh: the second run changed something or did not say unchanged:"
		indent <"$TMP/run2"
	elif ! cmp -s "$TMP/inst/usr/local/bin/planet" "$TMP/planet" ||
		[ "$(stat -c %a "$TMP/inst/etc/planet")" != 750 ] ||
		! grep -q '^table inet planet {' "$TMP/inst/etc/planet/planet.nft"; then
		fail "install.sh --root: files not installed as expected: $(find "$TMP/inst" | tr '\n' ' ')"
	else
		pass "install.sh twice into --root: second run all unchanged ($(grep -c '^unchanged: ' "$TMP/run2") items)"
	fi
else
	fail "install.sh --root:"
	cat "$TMP/run1" "$TMP/run2" 2>/dev/null | indent
fi

# --- deploy.sh -----------------------------------------------------------------

echo "==> deploy.sh with a fake ssh and scp"
# The fakes log their arguments; ssh fails the command that contains
# $FAIL_ON on host $FAIL_HOST.
# `planet wg rotate` prints $FAKE_KEY as the new public key (its real
# output's first lines), and `planet wg status` shows it as a peer that is up.
cat >"$TMP/ssh" <<'EOF'
#!/usr/bin/env bash
echo "ssh $*" >>"$FAKE_LOG"
if [ -n "${FAIL_HOST:-}" ] && [ "$1" = "$FAIL_HOST" ] && [[ "$*" == *"$FAIL_ON"* ]]; then
	echo "curl: (7) Failed to connect" >&2
	exit 7
fi
case $* in
*" wg rotate "*)
	printf 'wrote /etc/planet/wg.key.new; its public key:\n%s\n\nTo switch region %s to it:\n' "$FAKE_KEY" "${FAKE_REGION:-?}"
	;;
*" wg status "*)
	printf '{\n  "public_key": "x",\n  "peers": [\n    {\n      "region": "r",\n      "public_key": "%s",\n      "handshake_age_ns": 3000000000,\n      "state": "up",\n      "reachable": true\n    }\n  ],\n  "drift": []\n}\n' "$FAKE_KEY"
	;;
esac
EOF
cat >"$TMP/scp" <<'EOF'
#!/usr/bin/env bash
echo "scp $*" >>"$FAKE_LOG"
EOF
chmod 755 "$TMP/ssh" "$TMP/scp"
dargs=(--binary "$TMP/planet" --table regions/regions.example --regions "sfo,nyc,ams"
	--host sfo=root@sfo.test --host nyc=root@nyc.test --host ams=root@ams.test --timeout 0)

export FAKE_LOG=$TMP/deploy.log
: >"$FAKE_LOG"
if SSH="$TMP/ssh -o BatchMode=yes" SCP="$TMP/scp" bash scripts/deploy.sh "${dargs[@]}" >"$TMP/d1" 2>&1; then
	hosts=$(grep -o 'root@[a-z]*\.test' "$FAKE_LOG" | uniq | tr '\n' ' ')
	if [ "$hosts" != "root@sfo.test root@nyc.test root@ams.test " ]; then
		fail "deploy.sh: hosts in order $hosts, want sfo, nyc, ams one after the other"
	elif ! grep -q "^ssh -o BatchMode=yes root@nyc.test bash /var/tmp/planet-deploy/install.sh .*--region nyc --no-start" "$FAKE_LOG" ||
		! grep -q "^ssh -o BatchMode=yes root@ams.test curl -fsS --max-time 5 http://127.0.0.1:11602/health$" "$FAKE_LOG" ||
		! grep -q "^scp .*/install.sh .*/planet-wg.service .* root@sfo.test:/var/tmp/planet-deploy/$" "$FAKE_LOG"; then
		fail "deploy.sh: expected commands missing from the fake ssh log:"
		indent <"$FAKE_LOG"
	elif [ "$(grep -n 'root@nyc.test curl .*:11600/health$' "$FAKE_LOG" | cut -d: -f1)" -gt \
		"$(grep -n 'root@nyc.test systemctl restart planet-storage@10601.service$' "$FAKE_LOG" | cut -d: -f1)" ]; then
		fail "deploy.sh: storage-10601 restarted before storage-10600 was healthy (not a rolling restart)"
	else
		pass "deploy.sh: sfo, nyc, ams in order, each replica healthy before the next restarts ($(wc -l <"$FAKE_LOG") ssh/scp commands)"
	fi
else
	fail "deploy.sh with a fake ssh:"
	indent <"$TMP/d1"
fi

: >"$FAKE_LOG"
if SSH="$TMP/ssh" SCP="$TMP/scp" FAIL_HOST=root@nyc.test FAIL_ON=11601/health \
	bash scripts/deploy.sh "${dargs[@]}" >"$TMP/d2" 2>&1; then
	fail "deploy.sh: succeeded although nyc's storage-10601 /health failed"
elif ! grep -qF "deploy.sh: FAILED in region nyc, service storage-10601: http://127.0.0.1:11601/health not OK after 0s" "$TMP/d2" ||
	! grep -qF "deploy.sh: deployed: sfo; failed: nyc; not deployed: ams" "$TMP/d2"; then
	fail "deploy.sh: no clear failure message:"
	indent <"$TMP/d2"
elif grep -q 'ams.test' "$FAKE_LOG" || grep -q '11602/health' <(grep nyc.test "$FAKE_LOG"); then
	fail "deploy.sh: went on after the first failure:"
	indent <"$FAKE_LOG"
else
	pass "deploy.sh: stops at nyc storage-10601, ams untouched"
fi

if bash scripts/deploy.sh --dry-run --binary "$TMP/planet" --table regions/regions.example >"$TMP/d3" 2>&1 &&
	has "$TMP/d3" "+ ssh -o BatchMode=yes -o ConnectTimeout=10 root@ams.example.com 'systemctl restart planet-wg.service'" "deploy.sh --dry-run"; then
	pass "deploy.sh --dry-run (hosts from the table's endpoints)"
else
	fail "deploy.sh --dry-run:"
	indent <"$TMP/d3"
fi

# --rotate-key nyc on a copy of the example table; a fake planet (the
# local one, for `regions check`) logs too.
echo "==> deploy.sh --rotate-key with a fake ssh, scp and planet"
cat >"$TMP/fakeplanet" <<'EOF'
#!/usr/bin/env bash
echo "planet $*" >>"$FAKE_LOG"
EOF
chmod 755 "$TMP/fakeplanet"
export FAKE_KEY=ZmFrZSBuZXcgcHVibGljIGtleSBvZiBueWMgLSAzMiE= FAKE_REGION=nyc
rargs=(--rotate-key nyc --table "$TMP/rtable" --host sfo=root@sfo.test --host nyc=root@nyc.test
	--host ams=root@ams.test --timeout 0)
old_nyc=$(awk '$2 == "nyc" { print $5 }' regions/regions.example)
cp regions/regions.example "$TMP/rtable"
: >"$FAKE_LOG"
if SSH="$TMP/ssh" SCP="$TMP/scp" PLANET="$TMP/fakeplanet" bash scripts/deploy.sh "${rargs[@]}" >"$TMP/r1" 2>&1; then
	# The log reduced to steps: "host what", in order.
	sed -E -e 's/^ssh (root@[a-z]+)\.test .*wg rotate .*/\1 rotate/' \
		-e 's/^planet regions check --file=.*/local check/' \
		-e 's/^scp .* (root@[a-z]+)\.test:.*/\1 scp/' \
		-e 's/^ssh (root@[a-z]+)\.test chown root:planet .*mv -f .*/\1 table/' \
		-e 's/^ssh (root@[a-z]+)\.test systemctl reload planet-wg$/\1 reload/' \
		-e 's/^ssh (root@[a-z]+)\.test mv \/etc\/planet\/wg\.key\.new \/etc\/planet\/wg\.key && chown planet:planet .*chmod 600 .*/\1 key/' \
		-e 's/^ssh (root@[a-z]+)\.test .*wg status .*--region ([a-z]+) --json$/\1 status/' \
		"$FAKE_LOG" | tr '\n' ' ' >"$TMP/r1.steps"
	want="root@nyc rotate local check root@sfo scp root@sfo table root@sfo reload root@ams scp root@ams table root@ams reload "
	want+="root@nyc scp root@nyc table root@nyc key root@nyc reload root@sfo status root@ams status "
	if [ "$(cat "$TMP/r1.steps")" != "$want" ]; then
		fail "deploy.sh --rotate-key: steps '$(cat "$TMP/r1.steps")', want '$want'; log:"
		indent <"$FAKE_LOG"
	elif ! grep -qxF "ssh root@nyc.test /usr/local/bin/planet wg rotate --table /etc/planet/regions --region nyc --key /etc/planet/wg.key" "$FAKE_LOG" ||
		! grep -qxF "scp $TMP/rtable root@ams.test:/etc/planet/regions.planet-new" "$FAKE_LOG" ||
		! grep -qxF "planet regions check --file=$TMP/rtable" "$FAKE_LOG"; then
		fail "deploy.sh --rotate-key: expected commands missing from the log:"
		indent <"$FAKE_LOG"
	elif ! grep -qxF "region nyc 10.0.0.2 nyc.example.com:51820 $FAKE_KEY" "$TMP/rtable" ||
		[ "$(diff regions/regions.example "$TMP/rtable" | grep -c '^[<>]')" != 2 ] ||
		grep -qF "$old_nyc" "$TMP/rtable"; then
		fail "deploy.sh --rotate-key: the table does not have nyc's new key in place of the old one (only):"
		diff regions/regions.example "$TMP/rtable" | indent
	elif ! grep -qF "deploy.sh: rotated nyc's WireGuard key: $FAKE_KEY" "$TMP/r1"; then
		fail "deploy.sh --rotate-key: no report:"
		indent <"$TMP/r1"
	else
		pass "deploy.sh --rotate-key nyc: rotate on nyc, table here, sfo and ams reloaded, then nyc's key switched, handshakes seen"
	fi
else
	fail "deploy.sh --rotate-key with a fake ssh:"
	indent <"$TMP/r1"
fi

# The reload fails on ams (the second region reloaded): stops there, names
# it, nyc untouched but for the rotation, the table has the new key.
cp regions/regions.example "$TMP/rtable"
: >"$FAKE_LOG"
if SSH="$TMP/ssh" SCP="$TMP/scp" PLANET="$TMP/fakeplanet" FAIL_HOST=root@ams.test FAIL_ON="systemctl reload" \
	bash scripts/deploy.sh "${rargs[@]}" >"$TMP/r2" 2>&1; then
	fail "deploy.sh --rotate-key: succeeded although the reload failed on ams"
elif ! grep -qF "deploy.sh: --rotate-key nyc FAILED in region ams, step 3 (reload): systemctl reload planet-wg failed on root@ams.test" "$TMP/r2" ||
	! grep -qF "the table on sfo ams has the new key (ams not reloaded); not yet on: nyc." "$TMP/r2" ||
	! grep -qF "nyc still uses its old key (/etc/planet/wg.key); the new one is at /etc/planet/wg.key.new on nyc." "$TMP/r2"; then
	fail "deploy.sh --rotate-key: no clear failure message:"
	indent <"$TMP/r2"
elif grep -q 'wg\.key\.new /etc/planet/wg\.key' "$FAKE_LOG" || grep -q '^s[cs][ph] root@nyc\.test' <(grep -v 'wg rotate' "$FAKE_LOG") ||
	[ "$(grep -c 'systemctl reload' "$FAKE_LOG")" != 2 ]; then
	fail "deploy.sh --rotate-key: went on after the first failure:"
	indent <"$FAKE_LOG"
elif ! grep -qxF "region nyc 10.0.0.2 nyc.example.com:51820 $FAKE_KEY" "$TMP/rtable"; then
	fail "deploy.sh --rotate-key: the table here lacks the new key after the failure"
else
	pass "deploy.sh --rotate-key: stops at ams's reload, nyc's key not switched"
fi

# A rotation whose output has no key: stops before any table changes.
cp regions/regions.example "$TMP/rtable"
: >"$FAKE_LOG"
if SSH="$TMP/ssh" SCP="$TMP/scp" PLANET="$TMP/fakeplanet" FAKE_KEY=not-a-key \
	bash scripts/deploy.sh "${rargs[@]}" >"$TMP/r3" 2>&1; then
	fail "deploy.sh --rotate-key: succeeded without a new key"
elif ! grep -qF "deploy.sh: --rotate-key nyc FAILED in region nyc, step 1 (wg rotate): no public key" "$TMP/r3" ||
	[ "$(wc -l <"$FAKE_LOG")" != 1 ] || ! cmp -s regions/regions.example "$TMP/rtable"; then
	fail "deploy.sh --rotate-key: a bad key was not caught at once:"
	indent <"$TMP/r3"
	indent <"$FAKE_LOG"
else
	pass "deploy.sh --rotate-key: no key in wg rotate's output: stops, table unchanged"
fi

if bash scripts/deploy.sh --dry-run --rotate-key sfo --table regions/regions.example >"$TMP/r4" 2>&1 &&
	has "$TMP/r4" "+ ssh -o BatchMode=yes -o ConnectTimeout=10 root@nyc.example.com 'systemctl reload planet-wg'" "deploy.sh --dry-run --rotate-key" &&
	has "$TMP/r4" "+ ssh -o BatchMode=yes -o ConnectTimeout=10 root@sfo.example.com 'mv /etc/planet/wg.key.new /etc/planet/wg.key && chown planet:planet /etc/planet/wg.key && chmod 600 /etc/planet/wg.key'" "deploy.sh --dry-run --rotate-key"; then
	pass "deploy.sh --dry-run --rotate-key sfo"
else
	fail "deploy.sh --dry-run --rotate-key:"
	indent <"$TMP/r4"
fi

if [ "$failures" -gt 0 ]; then
	echo "scripts/check.sh: $failures check(s) failed" >&2
	exit 1
fi
echo "scripts/check.sh: all checks passed"
