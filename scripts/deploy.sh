#!/usr/bin/env bash
# Deploys Planet from a workstation to every region's droplet, one region at
# a time: builds the binary once, then for each region copies the binary,
# install.sh and the units over scp, runs install.sh there (files, firewall,
# enable; it starts nothing), restarts the region's services in order, and
# waits until every one of them is healthy (`systemctl is-active`, and
# `curl /health` on the droplet: discovery 10200, storage admin 11600-11602)
# before it goes on to the next region. It stops at the first failure and
# says where: region, service, and what failed. See --help.
set -euo pipefail

ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() {
	cat <<'EOF'
Usage: deploy.sh [options] [REGION...]

Deploys to the regions in order (REGION... or --regions, else the table's
order), one at a time, stopping at the first failure.

  --table FILE         region table (default regions/regions if it exists);
                       gives the order, the default hosts (root@ the
                       endpoint's host) and is installed as /etc/planet/regions
  --regions LIST       regions in order, comma-separated (sfo,nyc,ams)
  --host REGION=DEST   ssh destination of a region (root@sfo.example.com);
                       repeatable
  --hosts FILE         lines "REGION DEST" (# comments)
  --binary PATH        deploy this binary instead of building one
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
                       healthy (default 60)
  --dry-run, -n        print the commands, run none
  -h, --help           this help

Environment: SSH (default "ssh -o BatchMode=yes -o ConnectTimeout=10") and
SCP (default "scp -q -o BatchMode=yes -o ConnectTimeout=10") are the
commands used, options included; GO (default go).
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

# --- build once -----------------------------------------------------------

if [ -z "$BINARY" ]; then
	BINARY=$ROOT_DIR/bin/planet-linux-$ARCH
	echo "==> build $BINARY"
	run env GOOS=linux GOARCH="$ARCH" CGO_ENABLED=0 "$GO" build -C "$ROOT_DIR" -o "$BINARY" ./cmd/planet
fi
[ "$DRY" = 1 ] || [ -f "$BINARY" ] || die "--binary: no file $BINARY"

# What a region runs and checks, in order: units to restart, and
# (name, port) of each /health.
UNITS=()
HEALTH=()
for s in ${SERVICES//,/ }; do
	case $s in
	storage)
		for p in ${STORAGE_PORTS//,/ }; do
			UNITS+=("planet-storage@$p.service")
			HEALTH+=("storage-$p=$((p + 1000))")
		done
		;;
	discovery)
		UNITS+=(planet-discovery.service)
		HEALTH+=(discovery=10200)
		;;
	*) UNITS+=("planet-$s.service") ;;
	esac
done
HEALTH+=("${CHECKS[@]}")

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
	for u in "${UNITS[@]}"; do
		remote "$dest" systemctl restart "$u" || fail "$r" "$u" "systemctl restart $u failed (journalctl -u $u on $dest)"
	done

	# Wait until every unit is active and every /health answers OK.
	deadline=$((SECONDS + TIMEOUT))
	for u in "${UNITS[@]}"; do
		until remote "$dest" systemctl is-active --quiet "$u"; do
			if [ $SECONDS -ge $deadline ]; then
				fail "$r" "$u" "not active after ${TIMEOUT}s (systemctl status $u; journalctl -u $u on $dest)"
			fi
			sleep 1
		done
	done
	for h in "${HEALTH[@]}"; do
		name=${h%%=*} port=${h#*=}
		url=http://127.0.0.1:$port/health
		until remote "$dest" curl -fsS --max-time 5 "$url"; do
			if [ $SECONDS -ge $deadline ]; then
				fail "$r" "$name" "$url not OK after ${TIMEOUT}s"
			fi
			sleep 1
		done
	done
	DONE+=("$r")
	echo "==> region $r: deployed, ${#UNITS[@]} units active, ${#HEALTH[@]} /health OK"
done
echo "deploy.sh: deployed ${DONE[*]}"
