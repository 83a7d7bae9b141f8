package regions

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
)

// DiscoveryPort is the port of every region's discovery (DISCOVERY_PORT's
// default), used for DISCOVERY_PEERS.
const DiscoveryPort = 10200

// DefaultBindHost is the BIND_HOST that Env renders unless told otherwise.
//
// 0.0.0.0, not the WireGuard IP: with 0.0.0.0 the install script's
// firewall admits the platform's ports only on lo and the WireGuard
// interface (DESIGN "Security"), and every service is also reachable on
// 127.0.0.1, which DISCOVERY_ADDR, the CLI defaults and the deploy script's
// /health checks use. Binding the WireGuard IP instead would keep services
// off the public interface even without the firewall, but a service that
// starts while the WireGuard interface is down (planet-wg restarting) fails
// to bind, and storage does not yet also listen on loopback. EnvOptions
// .BindHost renders the WireGuard IP for operators who prefer it.
const DefaultBindHost = "0.0.0.0"

// EnvOptions are the choices Env leaves to its caller.
type EnvOptions struct {
	// BindHost is rendered as BIND_HOST, an IP address. Empty means
	// DefaultBindHost.
	BindHost string
	// SecretFile is rendered as PLANET_SECRET_FILE, an absolute path. The
	// caller checks that the file exists; empty renders the variable
	// commented out (an open mesh, for dev only).
	SecretFile string
}

// defaults are the variables of region.env that Env renders commented out,
// with their defaults, as region.env.example documents them.
var defaults = []struct{ name, value, doc string }{
	{"DISCOVERY_PORT", "10200", "Discovery's port: HTTP API and gossip (TCP and UDP)."},
	{"DISCOVERY_TTL", "15s", "Default TTL of `planet discovery register`."},
	{"DATA_DIR", "/var/lib/planet", "Root of all on-disk state."},
	{"LOG_LEVEL", "info", "debug, info, warn or error."},
	{"LOG_FORMAT", "text", "text or json."},
	{"QUORUM_W", "2", "Storage write quorum inside the region."},
	{"QUORUM_R", "2", "Storage read quorum inside the region."},
	{"STORAGE_CONSISTENCY", "linearizable", "linearizable or quorum."},
	{"STORAGE_DURABILITY", "always", "always, interval or never."},
	{"STORAGE_SYNC_INTERVAL", "100ms", "fsync period of STORAGE_DURABILITY=interval."},
	{"STORAGE_MAX_VALUE", "16777216", "Largest value in bytes."},
	{"STORAGE_CACHE_BYTES", "67108864", "Row cache in bytes; 0 turns it off."},
	{"STORAGE_COMPACT_BYTES", "67108864", "WAL size that starts a new generation."},
	{"STORAGE_TOMBSTONE_GRACE", "240h", "How long tombstones are kept."},
	{"STORAGE_QUORUM_TIMEOUT", "2s", "Bound of a quorum write or read."},
	{"STORAGE_ANTI_ENTROPY_INTERVAL", "10s", "Anti-entropy period."},
	{"STORAGE_PEER_CONNS", "1", "Pipelined connections to each peer replica."},
	{"GOGC", "100", "Go's garbage collector."},
	{"CACHE_MODE", "eventual", "Default cache write mode: eventual, quorum or strong."},
}

// Env renders the region.env of the region called name: REGION, WG_IP,
// BIND_HOST, DISCOVERY_PEERS (the other regions' WireGuard IPs on
// DiscoveryPort, in table order), DISCOVERY_ADDR, PLANET_SECRET_FILE, and
// the other variables commented out with their defaults. It refuses a
// table that Check rejects.
func (t *Table) Env(name string, opts EnvOptions) (string, error) {
	if errs := t.Check(); len(errs) > 0 {
		return "", fmt.Errorf("regions: the table has %d problem(s), the first: %w", len(errs), errs[0])
	}
	self, ok := t.Lookup(name)
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownRegion, name)
	}
	if opts.BindHost == "" {
		opts.BindHost = DefaultBindHost
	}
	if ip, err := netip.ParseAddr(opts.BindHost); err != nil || ip.Zone() != "" {
		return "", fmt.Errorf("regions: bind host %q is not an IP address", opts.BindHost)
	}
	if err := validSecretPath(opts.SecretFile); err != nil {
		return "", err
	}
	var peers []string
	for _, r := range t.Regions {
		if r.Name != name {
			peers = append(peers, netip.AddrPortFrom(r.IP, DiscoveryPort).String())
		}
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# /etc/planet/region.env of region %s, rendered by `planet regions env %s`", name, name)
	w("# from the region table (mesh %s, %d regions). Every Planet unit reads it", t.Mesh, len(t.Regions))
	w("# (EnvironmentFile=/etc/planet/region.env); region.env.example explains each variable.")
	w("")
	w("REGION=%s", name)
	w("WG_IP=%s", self.IP)
	w("# 0.0.0.0: the firewall admits the platform's ports only on lo and the")
	w("# WireGuard interface. A specific address: services bind it (and loopback).")
	w("BIND_HOST=%s", opts.BindHost)
	w("# The other regions' discovery, on their WireGuard IPs.")
	w("DISCOVERY_PEERS=%s", strings.Join(peers, ","))
	w("DISCOVERY_ADDR=127.0.0.1:%d", DiscoveryPort)
	w("# The mesh's platform secret, mode 0600, the same file in every region.")
	if opts.SecretFile == "" {
		w("# Unset: everything is open (dev only).")
		w("#PLANET_SECRET_FILE=/etc/planet/secret")
	} else {
		w("PLANET_SECRET_FILE=%s", opts.SecretFile)
	}
	w("")
	w("# Defaults, commented out. PORT and ADMIN_PORT are per instance (planet-storage@PORT).")
	for _, d := range defaults {
		w("# %s", d.doc)
		w("#%s=%s", d.name, d.value)
	}
	return b.String(), nil
}

// validSecretPath accepts an empty path or an absolute one that systemd's
// EnvironmentFile reads back unchanged (no white space, quotes,
// backslashes or $).
func validSecretPath(p string) error {
	if p == "" {
		return nil
	}
	if !filepath.IsAbs(p) || strings.ContainsFunc(p, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`"'\$`+"`", r)
	}) {
		return errors.New("regions: secret file must be an absolute path without spaces, quotes, backslashes or $")
	}
	return nil
}
