#!/usr/bin/env bash
# Deploys Planet from a workstation to every region's droplet, one region at
# a time: builds the binary once, then for each region copies the binary,
# install.sh and the units over scp, runs install.sh there (files, firewall,
# enable; it starts nothing), restarts the region's services in order, and
# waits until every one of them is healthy (`systemctl is-active`, and
# `curl /health` on the droplet: discovery 10200, storage admin 11600-11602,
# waltailer 10700)
# before it goes on to the next region. It stops at the first failure and
# says where: region, service, and what failed. See --help.
#
# --rotate-key REGION rotates one region's WireGuard key (no build, no
# install), in an order that keeps the gap short (REGION is cut off from a
# region between that region's reload and REGION's own, a few seconds):
#   1. REGION: planet wg rotate writes /etc/planet/wg.key.new and prints its
#      public key (2nd line of its output);
#   2. here: the --table file gets REGION's new key (only that field of its
#      line changes: the order, comments and region.env stay the same), and
#      `planet regions check` passes;
#   3. every other region, in table order: the table is copied to
#      /etc/planet/regions (scp to regions.planet-new, chown, chmod, mv) and
#      planet-wg reloaded: it replaces REGION's old peer with the new one;
#   4. REGION: the same table, then wg.key.new is moved over wg.key and
#      planet-wg reloaded;
#   5. every other region's `planet wg status --json` must show REGION's new
#      key with a recent handshake within --timeout.
# It stops at the first failure, names the region and step, and says what
# is done, what is not, and how to finish or roll back by hand.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	cat <<'EOF'
Usage: deploy.sh [options] [REGION...]
       deploy.sh --rotate-key REGION [--table FILE] [--host REGION=DEST]...
                 [--hosts FILE] [--binary PATH] [--timeout SECONDS] [--dry-run]

Deploys to the regions in order (REGION... or --regions, else the table's
order), one at a time, stopping at the first failure.

With --rotate-key REGION it instead rotates REGION's WireGuard key (no build,
no install; every region of --table is contacted, over ssh as root):
  1. on REGION: planet wg rotate --table /etc/planet/regions --region REGION
     --key /etc/planet/wg.key (writes wg.key.new; prints its public key);
  2. here: REGION's key in the --table file becomes the new one (only that
     field changes) and `planet regions check --file=TABLE` must pass;
  3. every other region, in table order: the table goes to
     /etc/planet/regions (root:planet 640) and planet-wg is reloaded;
  4. REGION: the table, then mv /etc/planet/wg.key.new /etc/planet/wg.key
     (planet:planet 600) and planet-wg is reloaded;
  5. every other region's `planet wg status --json` shows REGION's new key
     with a recent handshake, within --timeout.
REGION is cut off from a region between that region's reload (3) and its own
(4). It stops at the first failure, naming the region and step, and says
which tables have the new key and how to finish or roll back by hand.

  --table FILE         region table (default regions/regions if it exists);
                       gives the order, the default hosts (root@ the
                       endpoint's host) and is installed as /etc/planet/regions
  --regions LIST       regions in order, comma-separated (sfo,nyc,ams)
  --host REGION=DEST   ssh destination of a region (root@sfo.example.com);
                       repeatable
  --hosts FILE         lines "REGION DEST" (# comments)
  --binary PATH        deploy this binary instead of building one; with
                       --rotate-key, the planet binary run here to check the
                       table (default $PLANET, else bin/planet of this
                       checkout, else planet in PATH)
  --arch ARCH          GOARCH of the droplets (default amd64; GOOS is linux)
  --env-dir DIR        install DIR/REGION.env as region.env (default: install.sh
                       renders it on the droplet from the table and secret)
  --secret FILE        platform secret to install (the same in every region)
  --wg-key-dir DIR     install DIR/REGION.key as the region's WireGuard key
  --services LIST      services to restart and check, in order, of
                       wg,discovery,storage,caching,waltailer
                       (default wg,discovery,storage)
  --storage-ports LIST storage instances (default 10600,10601,10602); each
                       is checked on its admin port, PORT+1000
  --check NAME=PORT    also check http://127.0.0.1:PORT/health (repeatable;
                       e.g. caching's admin port)
  --timeout SECONDS    how long a region's services may take to become
                       healthy, or (--rotate-key) the other regions to see a
                       handshake with the new key (default 60)
  --rotate-key REGION  rotate REGION's WireGuard key (see above); needs
                       --table; no REGION... or --regions
  --dry-run, -n        print the commands, run none
  -h, --help           this help

Environment: SSH (default "ssh -o BatchMode=yes -o ConnectTimeout=10") and
SCP (default "scp -q -o BatchMode=yes -o ConnectTimeout=10") are the
commands used, options included; GO (default go); PLANET (see --binary).
EOF
}

die() {
	echo "deploy.sh: $*" >&2
	exit 2
}

TABLE=
[ -f "$ROOT_DIR/regions/regions" ] && TABLE=$ROOT_DIR/regions/regions
REGIONS=()
declare -A HOST=()
BINARY=
ARCH=amd64
ENV_DIR=
SECRET=
WG_KEY_DIR=
SERVICES=wg,discovery,storage
STORAGE_PORTS=10600,10601,10602
CHECKS=()
TIMEOUT=60
DRY=0
ROTATE=
GO=${GO:-go}
read -ra SSH_CMD <<<"${SSH:-ssh -o BatchMode=yes -o ConnectTimeout=10}"
read -ra SCP_CMD <<<"${SCP:-scp -q -o BatchMode=yes -o ConnectTimeout=10}"

need() {
	if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi
}
add_host() {
	[[ $1 == ?*=?* ]] || die "--host: want REGION=DEST, got '$1'"
	HOST[${1%%=*}]=${1#*=}
}
while [ $# -gt 0 ]; do
	case $1 in
	--table) need "$@"; TABLE=$2; shift ;;
	--regions) need "$@"; IFS=, read -ra REGIONS <<<"$2"; shift ;;
	--host) need "$@"; add_host "$2"; shift ;;
	--hosts)
		need "$@"
		[ -r "$2" ] || die "--hosts: cannot read $2"
		while read -r r d _; do
			[ -z "$r" ] || [[ $r == \#* ]] || add_host "$r=$d"
		done <"$2"
		shift
		;;
	--binary) need "$@"; BINARY=$2; shift ;;
	--arch) need "$@"; ARCH=$2; shift ;;
	--env-dir) need "$@"; ENV_DIR=$2; shift ;;
	--secret) need "$@"; SECRET=$2; shift ;;
	--wg-key-dir) need "$@"; WG_KEY_DIR=$2; shift ;;
	--services) need "$@"; SERVICES=$2; shift ;;
	--storage-ports) need "$@"; STORAGE_PORTS=$2; shift ;;
	--check)
		need "$@"
		[[ $2 =~ ^[a-z0-9-]+=[0-9]{1,5}$ ]] || die "--check: want NAME=PORT, got '$2'"
		CHECKS+=("$2")
		shift
		;;
	--timeout) need "$@"; TIMEOUT=$2; shift ;;
	--rotate-key) need "$@"; ROTATE=$2; shift ;;
	-n | --dry-run) DRY=1 ;;
	-h | --help) usage; exit 0 ;;
	-*) die "unknown option: $1 (see --help)" ;;
	*) REGIONS+=("$1") ;;
	esac
	shift
done

[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "--timeout: want seconds, got '$TIMEOUT'"
[[ $STORAGE_PORTS =~ ^[0-9]{1,5}(,[0-9]{1,5})*$ ]] || die "--storage-ports: want ports separated by commas, got '$STORAGE_PORTS'"
[ -z "$TABLE" ] || [ -r "$TABLE" ] || die "--table: cannot read $TABLE"
for s in ${SERVICES//,/ }; do
	case $s in wg | discovery | storage | caching | waltailer) ;;
	*) die "--services: unknown service '$s' (wg,discovery,storage,caching,waltailer)" ;;
	esac
done

# --rotate-key: every region of the table, in its order.
if [ -n "$ROTATE" ]; then
	[ -n "$TABLE" ] || die "--rotate-key needs --table (the region table to update)"
	[ ${#REGIONS[@]} -eq 0 ] || die "--rotate-key: no REGION... or --regions (every region of the table gets the new key)"
	[ "$DRY" = 1 ] || [ -w "$TABLE" ] || die "--table: cannot write $TABLE"
	mapfile -t REGIONS < <(awk '$1 == "region" { print $2 }' "$TABLE")
	[[ " ${REGIONS[*]} " == *" $ROTATE "* ]] || die "--rotate-key: no region '$ROTATE' in $TABLE"
fi

# The regions: the arguments, else the table's order.
if [ ${#REGIONS[@]} -eq 0 ] && [ -n "$TABLE" ]; then
	mapfile -t REGIONS < <(awk '$1 == "region" { print $2 }' "$TABLE")
fi
[ ${#REGIONS[@]} -gt 0 ] || die "no regions: give REGION..., --regions or --table"

# A region's ssh destination: --host/--hosts, else root@ the host of its
# endpoint in the table.
for r in "${REGIONS[@]}"; do
	[[ $r =~ ^[a-z][a-z0-9]*$ ]] || die "not a region name: '$r'"
	if [ -z "${HOST[$r]:-}" ] && [ -n "$TABLE" ]; then
		ep=$(awk -v r="$r" '$1 == "region" && $2 == r { print $4 }' "$TABLE")
		ep=${ep%:*}
		ep=${ep#[}
		ep=${ep%]}
		[ -z "$ep" ] || HOST[$r]=root@$ep
	fi
	[ -n "${HOST[$r]:-}" ] || die "region $r: no host (--host $r=root@HOST, --hosts FILE, or an endpoint in --table)"
	[ -z "$ENV_DIR" ] || [ -r "$ENV_DIR/$r.env" ] || die "region $r: cannot read $ENV_DIR/$r.env"
	[ -z "$WG_KEY_DIR" ] || [ -r "$WG_KEY_DIR/$r.key" ] || die "region $r: cannot read $WG_KEY_DIR/$r.key"
done
[ -z "$SECRET" ] || [ -r "$SECRET" ] || die "--secret: cannot read $SECRET"

# quote prints its arguments as one shell command line, quoting only the
# words that need it.
quote() {
	local w out=()
	for w in "$@"; do
		if [[ $w =~ ^[A-Za-z0-9_./:=@,+%-]+$ ]]; then
			out+=("$w")
		else
			out+=("'${w//\'/\'\\\'\'}'")
		fi
	done
	echo "${out[*]}"
}

# show prints a command; run prints and runs it (not with --dry-run).
show() { echo "+ $(quote "$@")"; }
run() {
	show "$@"
	[ "$DRY" = 1 ] || "$@"
}

# remote DEST CMD...: runs CMD on DEST, quoted for the remote shell.
remote() {
	local dest=$1
	shift
	run "${SSH_CMD[@]}" "$dest" "$(quote "$@")"
}

# fail REGION SERVICE WHAT: the one message of a failed deploy.
DONE=()
fail() {
	echo "deploy.sh: FAILED in region $1, service $2: $3" >&2
	local rest=("${REGIONS[@]:$((${#DONE[@]} + 1))}")
	echo "deploy.sh: deployed: ${DONE[*]:-none}; failed: $1; not deployed: ${rest[*]:-none}" >&2
	exit 1
}

# --- --rotate-key ----------------------------------------------------------

if [ -n "$ROTATE" ]; then
	R=$ROTATE
	RDEST=${HOST[$R]}
	WG_KEY=/etc/planet/wg.key
	WG_NEW=/etc/planet/wg.key.new
	RTABLE=/etc/planet/regions
	RTABLE_NEW=/etc/planet/regions.planet-new
	OTHERS=()
	for o in "${REGIONS[@]}"; do [ "$o" = "$R" ] || OTHERS+=("$o"); done
	# What runs on the droplets, each one ssh command line.
	INSTALL_TABLE="chown root:planet $RTABLE_NEW && chmod 640 $RTABLE_NEW && mv -f $RTABLE_NEW $RTABLE"
	RELOAD="systemctl reload planet-wg"
	SWITCH_KEY="mv $WG_NEW $WG_KEY && chown planet:planet $WG_KEY && chmod 600 $WG_KEY"

	# The planet binary run here (regions check).
	if [ -n "$BINARY" ]; then
		PLANET_BIN=$BINARY
	elif [ -n "${PLANET:-}" ]; then
		PLANET_BIN=$PLANET
	elif [ -x "$ROOT_DIR/bin/planet" ]; then
		PLANET_BIN=$ROOT_DIR/bin/planet
	else
		PLANET_BIN=$(command -v planet) || PLANET_BIN=
	fi
	[ "$DRY" = 1 ] || [ -x "$PLANET_BIN" ] ||
		die "--rotate-key: no planet binary to run here (make build, --binary PATH or PLANET=PATH)"
	OLD_KEY=$(awk -v r="$R" '$1 == "region" && $2 == r { sub(/\r$/, "", $5); print $5 }' "$TABLE")
	NEW_KEY=
	# show_output TEXT: a remote command's output, indented, on stderr.
	show_output() { [ -z "$1" ] || printf '%s\n' "$1" | sed 's/^/    | /' >&2; }

	# Where the rotation is, for rfail's report.
	STEP=1          # the step under way
	DONE_OTHERS=()  # other regions with the new table, reloaded
	CUR=            # the other region of step 3 under way
	CUR_TABLE=0     # 1 once CUR's table is installed
	R_TABLE=0       # 1 once REGION's table is installed
	R_KEY=0         # 1 once REGION's key is switched

	# rfail REGION STEP WHAT: the one message of a failed rotation: where
	# it failed, what is done, how to finish or roll back.
	rfail() {
		local say=(echo "deploy.sh:")
		{
			if [ "$1" = local ]; then
				echo "deploy.sh: --rotate-key $R FAILED here, step $2: $3"
			else
				echo "deploy.sh: --rotate-key $R FAILED in region $1, step $2: $3"
			fi
			case $STEP in
			1)
				"${say[@]}" "nothing has changed: the tables and $R's key are as they were."
				"${say[@]}" "if $WG_NEW is on $R from an earlier rotation, finish that one by hand or remove it (ssh $RDEST rm $WG_NEW), then run again."
				;;
			2)
				"${say[@]}" "no table has changed and $R still uses its old key; $R may have an unused new key at $WG_NEW."
				"${say[@]}" "to roll back: ssh $RDEST rm -f $WG_NEW"
				;;
			3)
				# with: tables with the new key; todo: the others still
				# to copy and reload (CUR first).
				local with=("${DONE_OTHERS[@]}") todo=("${OTHERS[@]:${#DONE_OTHERS[@]}}") note=
				if [ "$CUR_TABLE" = 1 ]; then
					with+=("$CUR")
					note=" ($CUR not reloaded)"
				fi
				"${say[@]}" "$TABLE here has $R's new key $NEW_KEY (the old one: $OLD_KEY)."
				local notyet=("${todo[@]:$CUR_TABLE}" "$R")
				"${say[@]}" "the table on ${with[*]:-no region} has the new key$note; not yet on: ${notyet[*]}."
				"${say[@]}" "$R still uses its old key ($WG_KEY); the new one is at $WG_NEW on $R.${DONE_OTHERS[*]:+ $R cannot reach ${DONE_OTHERS[*]} over the mesh until this is finished or rolled back.}"
				"${say[@]}" "to finish: on ${todo[*]}: copy $TABLE to $RTABLE and $RELOAD; then on $R: copy it too, then $SWITCH_KEY && $RELOAD"
				"${say[@]}" "to roll back: put $R's old key back in $TABLE, copy it to ${with[*]:-no region} and $RELOAD there; ssh $RDEST rm $WG_NEW"
				;;
			4)
				"${say[@]}" "every other region (${OTHERS[*]:-none}) has the new table and is reloaded; on $R the table is $([ "$R_TABLE" = 1 ] || echo "not ")installed and the key $([ "$R_KEY" = 1 ] || echo "not ")switched."
				if [ "$R_KEY" = 0 ]; then
					"${say[@]}" "$R cannot reach ${OTHERS[*]:-them} over the mesh until this is finished or rolled back; its old key is still $WG_KEY, the new one $WG_NEW."
					"${say[@]}" "to finish, on $R: $([ "$R_TABLE" = 1 ] || echo "copy $TABLE to $RTABLE, then ")$SWITCH_KEY && $RELOAD"
					"${say[@]}" "to roll back: put $R's old key $OLD_KEY back in $TABLE, copy it to every region and $RELOAD there; ssh $RDEST rm $WG_NEW"
				else
					"${say[@]}" "to finish, on $R: $RELOAD (journalctl -u planet-wg); the old key is gone: to undo, rotate again."
				fi
				;;
			5)
				"${say[@]}" "the rotation itself is done: every table has $R's new key $NEW_KEY and $R uses it."
				"${say[@]}" "check planet wg status on $1 and $R, and journalctl -u planet-wg on $R; the old key is gone: to undo, rotate again."
				;;
			esac
		} >&2
		exit 1
	}

	# 1. The new key, on REGION.
	echo "==> rotate $R's WireGuard key ($RDEST); regions: ${REGIONS[*]}"
	echo "==> 1. $R: planet wg rotate"
	cmd=$(quote /usr/local/bin/planet wg rotate --table "$RTABLE" --region "$R" --key "$WG_KEY")
	show "${SSH_CMD[@]}" "$RDEST" "$cmd"
	if [ "$DRY" = 1 ]; then
		NEW_KEY=NEW_PUBLIC_KEY
	else
		output=$("${SSH_CMD[@]}" "$RDEST" "$cmd") || {
			show_output "$output"
			rfail "$R" "1 (wg rotate)" "planet wg rotate failed on $RDEST (its output is above)"
		}
		STEP=2
		NEW_KEY=$(sed -n '2{s/^[[:space:]]*//;s/[[:space:]]*$//;p}' <<<"$output")
		if ! [[ $NEW_KEY =~ ^[A-Za-z0-9+/]{43}=$ ]]; then
			show_output "$output"
			rfail "$R" "1 (wg rotate)" "no public key (44 characters of base64) on the 2nd line of planet wg rotate's output (above)"
		fi
		[ "$NEW_KEY" != "$OLD_KEY" ] || rfail "$R" "1 (wg rotate)" "the new public key is the old one"
	fi
	STEP=2
	echo "    new public key of $R: $NEW_KEY (old: $OLD_KEY)"

	# 2. The table here: only REGION's key changes (the file is rewritten
	# in place: its mode and owner stay); back as it was if the check fails.
	echo "==> 2. $TABLE: $R's key"
	echo "+ (in $TABLE: region $R's key $OLD_KEY -> $NEW_KEY)"
	show "${PLANET_BIN:-planet}" regions check "--file=$TABLE"
	if [ "$DRY" = 0 ]; then
		TABLE_TMP=$(mktemp "${TMPDIR:-/tmp}/planet-regions.XXXXXX")
		TABLE_OLD=$(mktemp "${TMPDIR:-/tmp}/planet-regions.XXXXXX")
		trap 'rm -f "$TABLE_TMP" "$TABLE_OLD"' EXIT
		cp "$TABLE" "$TABLE_OLD"
		awk -v r="$R" -v key="$NEW_KEY" '
			$1 == "region" && $2 == r && NF == 5 {
				old = $5
				sub(/\r$/, "", old)
				i = length($0)
				while (i > 0 && substr($0, i, 1) ~ /[ \t\r]/) i--
				print substr($0, 1, i - length(old)) key substr($0, i + 1)
				n++
				next
			}
			{ print }
			END { exit n == 1 ? 0 : 3 }' "$TABLE" >"$TABLE_TMP" ||
			rfail local "2 (table)" "region $R not found once in $TABLE"
		cat "$TABLE_TMP" >"$TABLE" || rfail local "2 (table)" "cannot write $TABLE"
		if ! "$PLANET_BIN" regions check "--file=$TABLE"; then
			cat "$TABLE_OLD" >"$TABLE"
			rfail local "2 (regions check)" "planet regions check failed on $TABLE with the new key (its output is above); $TABLE is back as it was"
		fi
	fi
	STEP=3

	# 3. Every other region: the table, then a reload (REGION's peer gets
	# the new key).
	for o in "${OTHERS[@]}"; do
		dest=${HOST[$o]}
		CUR=$o CUR_TABLE=0
		echo "==> 3. $o ($dest): table, reload"
		run "${SCP_CMD[@]}" "$TABLE" "$dest:$RTABLE_NEW" || rfail "$o" "3 (copy table)" "scp to $dest:$RTABLE_NEW failed"
		run "${SSH_CMD[@]}" "$dest" "$INSTALL_TABLE" || rfail "$o" "3 (install table)" "ssh $dest failed ($INSTALL_TABLE)"
		CUR_TABLE=1
		run "${SSH_CMD[@]}" "$dest" "$RELOAD" || rfail "$o" "3 (reload)" "$RELOAD failed on $dest (journalctl -u planet-wg there)"
		DONE_OTHERS+=("$o")
		CUR='' CUR_TABLE=0
	done
	STEP=4

	# 4. REGION: the table, the new key, a reload.
	echo "==> 4. $R ($RDEST): table, key, reload"
	run "${SCP_CMD[@]}" "$TABLE" "$RDEST:$RTABLE_NEW" || rfail "$R" "4 (copy table)" "scp to $RDEST:$RTABLE_NEW failed"
	run "${SSH_CMD[@]}" "$RDEST" "$INSTALL_TABLE" || rfail "$R" "4 (install table)" "ssh $RDEST failed ($INSTALL_TABLE)"
	R_TABLE=1
	run "${SSH_CMD[@]}" "$RDEST" "$SWITCH_KEY" || rfail "$R" "4 (switch key)" "ssh $RDEST failed ($SWITCH_KEY)"
	R_KEY=1
	run "${SSH_CMD[@]}" "$RDEST" "$RELOAD" || rfail "$R" "4 (reload)" "$RELOAD failed on $RDEST (journalctl -u planet-wg there)"
	STEP=5

	# 5. Every other region sees a handshake with the new key: a peer of
	# that key exists only since the region's reload, and it can only
	# handshake with REGION's new private key. (Innermost JSON objects are
	# the peers and drifts; no jq needed.)
	deadline=$((SECONDS + TIMEOUT))
	for o in "${OTHERS[@]}"; do
		dest=${HOST[$o]}
		echo "==> 5. $o ($dest): handshake with $R's new key"
		cmd=$(quote /usr/local/bin/planet wg status --table "$RTABLE" --region "$o" --json)
		[ "$DRY" = 0 ] || { show "${SSH_CMD[@]}" "$dest" "$cmd"; continue; }
		while :; do
			show "${SSH_CMD[@]}" "$dest" "$cmd"
			output=$("${SSH_CMD[@]}" "$dest" "$cmd") || output=
			peer=$(tr -d ' \t\r\n' <<<"$output" | grep -o '{[^{}]*}' | grep -F "\"public_key\":\"$NEW_KEY\"" | head -n 1) || peer=
			if [[ $peer == *'"reachable":true'* ]]; then
				age=$(grep -o '"handshake_age_ns":[0-9]*' <<<"$peer" | cut -d: -f2) || age=
				echo "    $o: $R's peer is up${age:+, handshake $((age / 1000000000))s ago}"
				break
			fi
			if [ $SECONDS -ge $deadline ]; then
				show_output "$output"
				rfail "$o" "5 (handshake)" "no recent handshake with $R's new key after ${TIMEOUT}s ($([ -n "$output" ] && echo "its wg status is above" || echo "no wg status output"))"
			fi
			sleep 2
		done
	done
	if [ "$DRY" = 1 ]; then
		echo "deploy.sh: dry run: nothing ran, $TABLE unchanged"
	else
		echo "deploy.sh: rotated $R's WireGuard key: $NEW_KEY (tables: ${OTHERS[*]} $R, and $TABLE here)"
	fi
	exit 0
fi

# --- build once -----------------------------------------------------------

if [ -z "$BINARY" ]; then
	BINARY=$ROOT_DIR/bin/planet-linux-$ARCH
	echo "==> build $BINARY"
	run env GOOS=linux GOARCH="$ARCH" CGO_ENABLED=0 "$GO" build -C "$ROOT_DIR" -o "$BINARY" ./cmd/planet
fi
[ "$DRY" = 1 ] || [ -f "$BINARY" ] || die "--binary: no file $BINARY"

# What a region runs and checks, in order: the units to restart, each with
# the port of its /health ("" if none), and further (name, port) checks.
UNITS=()
UNIT_PORT=()
for s in ${SERVICES//,/ }; do
	case $s in
	storage)
		for p in ${STORAGE_PORTS//,/ }; do
			UNITS+=("planet-storage@$p.service")
			UNIT_PORT+=($((p + 1000)))
		done
		;;
	discovery)
		UNITS+=(planet-discovery.service)
		UNIT_PORT+=(10200)
		;;
	waltailer)
		UNITS+=(planet-waltailer.service)
		UNIT_PORT+=(10700)
		;;
	*)
		UNITS+=("planet-$s.service")
		UNIT_PORT+=("")
		;;
	esac
done
HEALTH=("${CHECKS[@]}")

# healthy DEST REGION NAME PORT DEADLINE: wait until /health on PORT is OK.
healthy() {
	local url=http://127.0.0.1:$4/health
	until remote "$1" curl -fsS --max-time 5 "$url"; do
		if [ $SECONDS -ge "$5" ]; then
			fail "$2" "$3" "$url not OK after ${TIMEOUT}s"
		fi
		sleep 1
	done
}

STAGE=/var/tmp/planet-deploy
UNIT_FILES=("$ROOT_DIR"/scripts/planet-*.service)

for r in "${REGIONS[@]}"; do
	dest=${HOST[$r]}
	echo "==> region $r ($dest)"

	# Copy: the binary, install.sh, the units and the region's files.
	remote "$dest" rm -rf "$STAGE" || fail "$r" deploy "ssh $dest failed (rm -rf $STAGE)"
	remote "$dest" mkdir -m 700 -p "$STAGE" || fail "$r" deploy "ssh $dest failed (mkdir $STAGE)"
	files=("$BINARY" "$ROOT_DIR/scripts/install.sh" "${UNIT_FILES[@]}")
	args=(--binary "$STAGE/$(basename "$BINARY")" --units "$STAGE" --region "$r" --no-start
		--services "firewall,$SERVICES" --storage-ports "$STORAGE_PORTS")
	if [ -n "$TABLE" ]; then
		files+=("$TABLE")
		args+=(--table "$STAGE/$(basename "$TABLE")")
	fi
	if [ -n "$ENV_DIR" ]; then
		files+=("$ENV_DIR/$r.env")
		args+=(--env "$STAGE/$r.env")
	fi
	if [ -n "$SECRET" ]; then
		files+=("$SECRET")
		args+=(--secret "$STAGE/$(basename "$SECRET")")
	fi
	if [ -n "$WG_KEY_DIR" ]; then
		files+=("$WG_KEY_DIR/$r.key")
		args+=(--wg-key "$STAGE/$r.key")
	fi
	run "${SCP_CMD[@]}" "${files[@]}" "$dest:$STAGE/" || fail "$r" deploy "scp to $dest:$STAGE failed"

	# Install (files, firewall, enable), then restart in order.
	remote "$dest" bash "$STAGE/install.sh" "${args[@]}" || fail "$r" install "install.sh failed on $dest (its output is above)"
	remote "$dest" rm -rf "$STAGE" || fail "$r" deploy "ssh $dest failed (rm -rf $STAGE)"
	# A rolling restart: each unit is active and healthy before the next
	# one restarts, so a region's storage keeps its quorum (two of three
	# replicas up) throughout.
	deadline=$((SECONDS + TIMEOUT))
	for i in "${!UNITS[@]}"; do
		u=${UNITS[$i]}
		remote "$dest" systemctl restart "$u" || fail "$r" "$u" "systemctl restart $u failed (journalctl -u $u on $dest)"
		until remote "$dest" systemctl is-active --quiet "$u"; do
			if [ $SECONDS -ge $deadline ]; then
				fail "$r" "$u" "not active after ${TIMEOUT}s (systemctl status $u; journalctl -u $u on $dest)"
			fi
			sleep 1
		done
		name=${u#planet-} name=${name%.service} # planet-storage@10600.service: storage-10600
		[ -z "${UNIT_PORT[$i]}" ] || healthy "$dest" "$r" "${name/@/-}" "${UNIT_PORT[$i]}" "$deadline"
	done
	for h in "${HEALTH[@]}"; do
		healthy "$dest" "$r" "${h%%=*}" "${h#*=}" "$deadline"
	done
	DONE+=("$r")
	echo "==> region $r: deployed, ${#UNITS[@]} units active and healthy"
done
echo "deploy.sh: deployed ${DONE[*]}"
