#!/usr/bin/env bash
# Installs Planet on one droplet (run as root there): the `planet` system
# user and group, /etc/planet and /var/lib/planet, the binary, the systemd
# units, the region's files (region.env, the region table, the platform
# secret, the WireGuard key), and a firewall table of its own (table inet
# planet) that admits the platform's ports only on lo and the WireGuard
# interface. Then enables and starts the units.
#
# Idempotent: every item is compared before it is written, and a second run
# with the same inputs prints "unchanged" for each and changes nothing.
# --dry-run prints every action it would take and changes nothing.
# See --help.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'EOF'
Usage: install.sh [options]

Installs Planet on this droplet (as root). Every item is compared first:
a second run with the same inputs prints "unchanged" for each item.

Files:
  --binary PATH         planet binary to install as /usr/local/bin/planet
                        (default ./planet)
  --env FILE            region.env to install as /etc/planet/region.env;
                        without it, with --table and --region, it is
                        rendered here (planet regions env REGION
                        --bind-host 0.0.0.0 --secret-file /etc/planet/secret)
  --table FILE          region table to install as /etc/planet/regions
  --secret FILE         platform secret to install as /etc/planet/secret
                        (mode 0600, owner planet)
  --wg-key FILE         WireGuard private key to install as
                        /etc/planet/wg.key (mode 0600, owner planet); without
                        it, a missing key is generated (planet wg genkey)
                        and its public key printed for the region table
  --units DIR           directory of the unit files (default: this script's)
Services:
  --region NAME         this region (default: REGION= of the region.env)
  --storage-ports LIST  storage instances, comma-separated
                        (default 10600,10601,10602)
  --services LIST       units to enable and start, comma-separated, of
                        firewall,wg,discovery,storage,caching,waltailer
                        (default: all)
  --no-start            install and enable, but start nothing
Firewall:
  --wg-iface NAME       WireGuard interface (default wg0)
  --wg-port PORT        WireGuard UDP listen port, admitted on the public
                        interface (default: the port of this region's
                        endpoint in the table, else 51820)
  --public-iface NAME   public interface (default: the default route's)
  --tcp-ports LIST      platform TCP ports, admitted only on lo and the
                        WireGuard interface, dropped elsewhere (default
                        10200,10300,10600-10602,10700,11300,11600-11602)
  --udp-ports LIST      platform UDP ports, the same (default 10200)
  --print-nft           print the nftables ruleset and exit
  --write-nft PATH      write the nftables ruleset to PATH and exit
Run:
  --root DIR            install the files below DIR instead of / (for
                        images and tests): no user, owners, systemctl or nft
  --dry-run, -n         print every action, change nothing
  -h, --help            this help
EOF
}

die() {
	echo "install.sh: $*" >&2
	exit 2
}

BINARY=./planet
ENV_FILE=
TABLE=
SECRET=
WG_KEY=
UNITS_DIR=$SCRIPT_DIR
REGION=
STORAGE_PORTS=10600,10601,10602
SERVICES=firewall,wg,discovery,storage,caching,waltailer
START=1
WG_IFACE=wg0
WG_PORT=
PUBLIC_IFACE=
TCP_PORTS=10200,10300,10600-10602,10700,11300,11600-11602
UDP_PORTS=10200
NFT_OUT=
NFT_ONLY=0
ROOT=
DRY=0

need() {
	if [ $# -lt 2 ] || [ -z "$2" ]; then die "$1 needs a value (see --help)"; fi
}
while [ $# -gt 0 ]; do
	case $1 in
	--binary) need "$@"; BINARY=$2; shift ;;
	--env) need "$@"; ENV_FILE=$2; shift ;;
	--table) need "$@"; TABLE=$2; shift ;;
	--secret) need "$@"; SECRET=$2; shift ;;
	--wg-key) need "$@"; WG_KEY=$2; shift ;;
	--units) need "$@"; UNITS_DIR=$2; shift ;;
	--region) need "$@"; REGION=$2; shift ;;
	--storage-ports) need "$@"; STORAGE_PORTS=$2; shift ;;
	--services) need "$@"; SERVICES=$2; shift ;;
	--no-start) START=0 ;;
	--wg-iface) need "$@"; WG_IFACE=$2; shift ;;
	--wg-port) need "$@"; WG_PORT=$2; shift ;;
	--public-iface) need "$@"; PUBLIC_IFACE=$2; shift ;;
	--tcp-ports) need "$@"; TCP_PORTS=$2; shift ;;
	--udp-ports) need "$@"; UDP_PORTS=$2; shift ;;
	--print-nft) NFT_ONLY=1; NFT_OUT=- ;;
	--write-nft) need "$@"; NFT_ONLY=1; NFT_OUT=$2; shift ;;
	--root) need "$@"; ROOT=${2%/}; shift ;;
	-n | --dry-run) DRY=1 ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
	shift
done

# --- checks of the arguments ------------------------------------------------

port_list_re='^[0-9]{1,5}(-[0-9]{1,5})?(,[0-9]{1,5}(-[0-9]{1,5})?)*$'
[[ $TCP_PORTS =~ $port_list_re ]] || die "--tcp-ports: want ports and ranges separated by commas, got '$TCP_PORTS'"
[[ $UDP_PORTS =~ $port_list_re ]] || die "--udp-ports: want ports and ranges separated by commas, got '$UDP_PORTS'"
[[ $STORAGE_PORTS =~ ^[0-9]{1,5}(,[0-9]{1,5})*$ ]] || die "--storage-ports: want ports separated by commas, got '$STORAGE_PORTS'"
[[ $WG_IFACE =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || die "--wg-iface: not an interface name: '$WG_IFACE'"
[ -z "$PUBLIC_IFACE" ] || [[ $PUBLIC_IFACE =~ ^[A-Za-z0-9_.@-]{1,15}$ ]] || die "--public-iface: not an interface name: '$PUBLIC_IFACE'"
[ -z "$REGION" ] || [[ $REGION =~ ^[a-z][a-z0-9]*$ ]] || die "--region: want lowercase letters and digits starting with a letter, got '$REGION'"
for s in ${SERVICES//,/ }; do
	case $s in firewall | wg | discovery | storage | caching | waltailer) ;;
	*) die "--services: unknown service '$s' (firewall,wg,discovery,storage,caching,waltailer)" ;;
	esac
done

# REGION: the argument, else REGION= of the region.env to install.
if [ -z "$REGION" ] && [ -n "$ENV_FILE" ] && [ -r "$ENV_FILE" ]; then
	REGION=$(sed -n 's/^REGION=\([a-z][a-z0-9]*\)[[:space:]]*$/\1/p' "$ENV_FILE" | tail -n 1)
fi

# The WireGuard port: the argument, else the port of this region's
# endpoint in the table ("region NAME WG_IP HOST:PORT KEY"), else 51820.
if [ -z "$WG_PORT" ] && [ -n "$TABLE" ] && [ -n "$REGION" ] && [ -r "$TABLE" ]; then
	WG_PORT=$(awk -v r="$REGION" '$1 == "region" && $2 == r { n = split($4, a, ":"); print a[n] }' "$TABLE")
fi
WG_PORT=${WG_PORT:-51820}
if ! [[ $WG_PORT =~ ^[0-9]{1,5}$ ]] || [ "$WG_PORT" -lt 1 ] || [ "$WG_PORT" -gt 65535 ]; then
	die "--wg-port: not a port: '$WG_PORT'"
fi

if [ -z "$PUBLIC_IFACE" ] && command -v ip >/dev/null 2>&1; then
	PUBLIC_IFACE=$(ip -o route show default 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }') || true
fi

# --- the firewall ------------------------------------------------------------

# nft_ruleset prints the table: a table of its own, replaced as a whole on
# every load (the "table; delete table" idiom works whether it exists or
# not), with policy accept, so that it only ever drops the platform's ports
# arriving on other interfaces than lo and the WireGuard one.
nft_ruleset() {
	local pub=""
	[ -z "$PUBLIC_IFACE" ] || pub="iifname \"$PUBLIC_IFACE\" "
	cat <<EOF
#!/usr/sbin/nft -f
# Planet firewall, written by scripts/install.sh; loaded by
# planet-firewall.service (nft -f /etc/planet/planet.nft). A table of its
# own: loading it replaces this table only, and it drops nothing but the
# platform's ports arriving elsewhere than on lo and $WG_IFACE; every other
# packet (ssh included) passes on to the other tables unchanged.
table inet planet
delete table inet planet
table inet planet {
	set tcp_ports {
		type inet_service; flags interval
		elements = { ${TCP_PORTS//,/, } }
	}
	set udp_ports {
		type inet_service; flags interval
		elements = { ${UDP_PORTS//,/, } }
	}
	chain input {
		type filter hook input priority filter - 10; policy accept;
		ct state established,related accept
		iifname { "lo", "$WG_IFACE" } tcp dport @tcp_ports accept
		iifname { "lo", "$WG_IFACE" } udp dport @udp_ports accept
		${pub}udp dport $WG_PORT accept comment "WireGuard"
		tcp dport @tcp_ports drop
		udp dport @udp_ports drop
	}
}
EOF
}

if [ "$NFT_ONLY" = 1 ]; then
	if [ "$NFT_OUT" = - ]; then
		nft_ruleset
	else
		nft_ruleset >"$NFT_OUT"
	fi
	exit 0
fi

# --- actions -----------------------------------------------------------------

if [ -z "$ROOT" ] && [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
	die "run as root (or --dry-run, or --root DIR)"
fi
[ -f "$BINARY" ] || die "--binary: no file $BINARY"
for f in "$ENV_FILE" "$TABLE" "$SECRET" "$WG_KEY"; do
	[ -z "$f" ] || [ -r "$f" ] || die "cannot read $f"
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

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

# run prints an action and, unless --dry-run, does it.
run() {
	if [ "$DRY" = 1 ]; then
		echo "would run: $(quote "$@")"
	else
		echo "run: $(quote "$@")"
		"$@"
	fi
}

# sys runs what needs the real system (users, owners, systemctl, nft): not
# with --root.
sys() {
	if [ -n "$ROOT" ]; then
		echo "skipped (--root): $*"
	else
		run "$@"
	fi
}

ensure_group() {
	if [ -n "$ROOT" ]; then return; fi
	if getent group planet >/dev/null; then
		echo "unchanged: group planet"
	else
		run groupadd --system planet
	fi
}

ensure_user() {
	if [ -n "$ROOT" ]; then return; fi
	if getent passwd planet >/dev/null; then
		echo "unchanged: user planet"
	else
		run useradd --system --gid planet --home-dir /var/lib/planet --no-create-home \
			--shell /usr/sbin/nologin --comment "Planet services" planet
	fi
}

# owner_ok PATH OWNER GROUP MODE: whether PATH has them (owners not checked
# with --root).
owner_ok() {
	local want=$4
	[ -n "$ROOT" ] || want="$2:$3 $4"
	local fmt='%a'
	[ -n "$ROOT" ] || fmt='%U:%G %a'
	[ "$(stat -c "$fmt" "$1")" = "$want" ]
}

# ensure_dir PATH OWNER GROUP MODE
ensure_dir() {
	local p=$ROOT$1
	if [ -d "$p" ] && owner_ok "$p" "$2" "$3" "$4"; then
		echo "unchanged: $1"
		return
	fi
	[ -d "$p" ] || run mkdir -p "$p"
	[ -n "$ROOT" ] || run chown "$2:$3" "$p"
	run chmod "$4" "$p"
}

# CHANGED collects what changed in this run: the services are restarted (or
# reloaded) for it.
CHANGED=()

# ensure_file SRC DST OWNER GROUP MODE: installs SRC as DST unless it is
# there already with the same bytes, owner and mode. The new file is
# written next to DST and renamed over it, so that a service never reads
# half a file.
ensure_file() {
	local src=$1 dst=$ROOT$2
	[ -r "$src" ] || die "cannot read $src (for $2)"
	if [ -f "$dst" ] && cmp -s "$src" "$dst" && owner_ok "$dst" "$3" "$4" "$5"; then
		echo "unchanged: $2"
		return
	fi
	if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
		[ -n "$ROOT" ] || run chown "$3:$4" "$dst"
		run chmod "$5" "$dst"
		return
	fi
	if [ -n "$ROOT" ]; then
		run install -D -m "$5" "$src" "$dst.planet-new"
	else
		run install -D -m "$5" -o "$3" -g "$4" "$src" "$dst.planet-new"
	fi
	run mv -f "$dst.planet-new" "$dst"
	CHANGED+=("$2")
}

changed() {
	local c p
	for c in "${CHANGED[@]}"; do
		for p in "$@"; do [ "$c" = "$p" ] && return 0; done
	done
	return 1
}

has_service() { [[ ,$SERVICES, == *,$1,* ]]; }

# The units to install, and the ones to enable in start order.
UNIT_FILES=(planet-firewall.service planet-wg.service planet-discovery.service
	planet-storage@.service planet-caching.service planet-waltailer.service)
ENABLE=()
has_service firewall && ENABLE+=(planet-firewall.service)
has_service wg && ENABLE+=(planet-wg.service)
has_service discovery && ENABLE+=(planet-discovery.service)
if has_service storage; then
	for p in ${STORAGE_PORTS//,/ }; do ENABLE+=("planet-storage@$p.service"); done
fi
has_service caching && ENABLE+=(planet-caching.service)
has_service waltailer && ENABLE+=(planet-waltailer.service)

echo "install.sh: region ${REGION:-?}, binary $BINARY, units from $UNITS_DIR${ROOT:+, below $ROOT}$([ "$DRY" = 1 ] && echo ' (dry run: nothing changes)')"

ensure_group
ensure_user
ensure_dir /etc/planet root planet 750
ensure_dir /var/lib/planet planet planet 750

ensure_file "$BINARY" /usr/local/bin/planet root root 755
for u in "${UNIT_FILES[@]}"; do
	ensure_file "$UNITS_DIR/$u" "/etc/systemd/system/$u" root root 644
done
[ -z "$TABLE" ] || ensure_file "$TABLE" /etc/planet/regions root planet 640
[ -z "$SECRET" ] || ensure_file "$SECRET" /etc/planet/secret planet planet 600
# No --env: render this region's region.env from the installed table, with
# the installed secret, services on 0.0.0.0 behind the firewall below.
if [ -z "$ENV_FILE" ] && [ -n "$TABLE" ] && [ -n "$REGION" ]; then
	if [ "$DRY" = 1 ] || [ -n "$ROOT" ]; then
		echo "would render: /etc/planet/region.env (planet regions env $REGION --bind-host 0.0.0.0 --secret-file /etc/planet/secret)"
	else
		render=(/usr/local/bin/planet regions env "$REGION" --file /etc/planet/regions --bind-host 0.0.0.0)
		[ ! -e /etc/planet/secret ] || render+=(--secret-file /etc/planet/secret)
		"${render[@]}" >"$TMP/region.env" || die "rendering region.env failed: $(quote "${render[@]}")"
		ENV_FILE=$TMP/region.env
	fi
fi
[ -z "$ENV_FILE" ] || ensure_file "$ENV_FILE" /etc/planet/region.env root planet 640
[ -z "$WG_KEY" ] || ensure_file "$WG_KEY" /etc/planet/wg.key planet planet 600
nft_ruleset >"$TMP/planet.nft"
ensure_file "$TMP/planet.nft" /etc/planet/planet.nft root planet 640

# No key given and none there: a new one, whose public key (printed) goes
# into the region table (planet regions add|remove).
if [ -z "$WG_KEY" ] && [ -z "$ROOT" ] && has_service wg && [ ! -e /etc/planet/wg.key ]; then
	run /usr/local/bin/planet wg genkey /etc/planet/wg.key
	run chown planet:planet /etc/planet/wg.key
	CHANGED+=(/etc/planet/wg.key)
fi

for f in /etc/planet/region.env /etc/planet/regions /etc/planet/wg.key; do
	[ -e "$ROOT$f" ] || [ "$DRY" = 1 ] || echo "warning: $f is missing: the units need it (see --help)" >&2
done

if [ -n "$ROOT" ]; then
	echo "done below $ROOT (no user, owners, systemctl or nft with --root)"
	exit 0
fi

# systemd: reload if a unit changed, then enable and start in order.
if changed "${UNIT_FILES[@]/#//etc/systemd/system/}"; then
	run systemctl daemon-reload
else
	echo "unchanged: systemd units (no daemon-reload)"
fi

# The firewall first, so that no service listens before its rules are in.
if has_service firewall; then
	if changed /etc/planet/planet.nft || ! nft list table inet planet >/dev/null 2>&1; then
		run nft -f /etc/planet/planet.nft
	else
		echo "unchanged: nftables table inet planet"
	fi
fi

for u in "${ENABLE[@]}"; do
	if systemctl is-enabled --quiet "$u" 2>/dev/null; then
		echo "unchanged: $u enabled"
	else
		run systemctl enable "$u"
	fi
done

[ "$START" = 1 ] || { echo "not started (--no-start)"; exit 0; }

common=(/usr/local/bin/planet /etc/planet/region.env /etc/planet/secret)
for u in "${ENABLE[@]}"; do
	unit_file=/etc/systemd/system/${u/@*.service/@.service}
	if ! systemctl is-active --quiet "$u" 2>/dev/null; then
		run systemctl start "$u"
	elif [ "$u" = planet-firewall.service ]; then
		echo "unchanged: $u active" # its rules were loaded above
	elif changed "$unit_file" "${common[@]}"; then
		run systemctl restart "$u"
	elif [ "$u" = planet-wg.service ] && changed /etc/planet/regions /etc/planet/wg.key; then
		run systemctl reload "$u"
	else
		echo "unchanged: $u active"
	fi
done
