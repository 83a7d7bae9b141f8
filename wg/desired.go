package wg

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"planet/regions"
)

// Defaults of Config.
const (
	DefaultInterface       = "wg0"
	DefaultKeepalive       = 25 * time.Second
	DefaultKeepaliveDelay  = time.Second
	DefaultResolveInterval = 60 * time.Second
)

// ErrConfig is wrapped by the errors of a table, region or key that
// cannot make a mesh: a configuration error, not a failure.
var ErrConfig = errors.New("wg: bad configuration")

// checkMesh checks that t can configure region self with private key key:
// the table passes Check, has the region, and lists key's public key for it.
func checkMesh(t *regions.Table, self string, key PrivateKey) (regions.Region, error) {
	if t == nil {
		return regions.Region{}, fmt.Errorf("%w: no region table", ErrConfig)
	}
	if errs := t.Check(); len(errs) > 0 {
		return regions.Region{}, fmt.Errorf("%w: region table: %w", ErrConfig, errors.Join(errs...))
	}
	r, ok := t.Lookup(self)
	if !ok {
		return r, fmt.Errorf("%w: region %q is not in the table", ErrConfig, self)
	}
	if key.IsZero() {
		return r, fmt.Errorf("%w: no private key", ErrConfig)
	}
	if pub := key.PublicKey(); pub != r.PublicKey {
		return r, fmt.Errorf("%w: the private key's public key is %s, but the table has %s for region %s", ErrConfig, pub, r.PublicKey, self)
	}
	return r, nil
}

// endpointPort returns the port of a table endpoint ("host:port", already
// checked by regions.ValidEndpoint).
func endpointPort(endpoint string) int {
	i := strings.LastIndexByte(endpoint, ':')
	port, _ := strconv.Atoi(endpoint[i+1:])
	return port
}

// endpointHost returns the host of a table endpoint, without brackets.
func endpointHost(endpoint string) string {
	i := strings.LastIndexByte(endpoint, ':')
	return strings.TrimSuffix(strings.TrimPrefix(endpoint[:i], "["), "]")
}

// hostPrefix returns ip as a single-address prefix: /32 or /128.
func hostPrefix(ip netip.Addr) netip.Prefix {
	return netip.PrefixFrom(ip, ip.BitLen())
}

// desiredDevice is the device that region self of t wants, with key,
// endpoints resolved as given (a region missing from endpoints has an
// unknown endpoint) and each peer's keepalive from keepalive.
// t, self and key have passed checkMesh.
func desiredDevice(t *regions.Table, self string, key PrivateKey, endpoints map[string]netip.AddrPort, keepalive func(regions.Key) time.Duration) Device {
	me, _ := t.Lookup(self)
	d := Device{PrivateKey: key, ListenPort: endpointPort(me.Endpoint)}
	for _, r := range t.Regions {
		if r.Name == self {
			continue
		}
		d.Peers = append(d.Peers, Peer{
			PublicKey:  r.PublicKey,
			Endpoint:   endpoints[r.Name],
			AllowedIPs: []netip.Prefix{hostPrefix(r.IP)},
			Keepalive:  keepalive(r.PublicKey),
		})
	}
	return d
}

// initiates reports whether the region with public key self starts the
// first handshake with peer: the one whose key sorts lower does (see the
// package documentation).
func initiates(self, peer regions.Key) bool {
	return bytes.Compare(self[:], peer[:]) < 0
}

// keepaliveFor returns the persistent keepalive to configure for peer:
// interval at once if this region initiates; otherwise zero until the
// first handshake with peer (handshook) or until peer has been configured
// for delay (waited), whichever comes first, and interval after.
func keepaliveFor(interval time.Duration, self, peer regions.Key, handshook bool, waited, delay time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	if initiates(self, peer) || handshook || waited >= delay {
		return interval
	}
	return 0
}
