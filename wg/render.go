package wg

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"planet/regions"
)

// Render returns the wg-quick configuration of region self of t with
// private key key: the [Interface] (private key, address with the mesh's
// prefix length, listen port) and one [Peer] per other region, in table
// order, with its endpoint as the table has it (wg-quick resolves names),
// its WireGuard IP as the allowed IP and keepalive seconds (zero: none).
func Render(t *regions.Table, self string, key PrivateKey, keepalive time.Duration) ([]byte, error) {
	me, err := checkMesh(t, self, key)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Planet WireGuard configuration of region %s, rendered from the region table.\n", self)
	fmt.Fprintf(&b, "[Interface]\nPrivateKey = %s\nAddress = %s\nListenPort = %d\n",
		key, netip.PrefixFrom(me.IP, t.Mesh.Bits()), endpointPort(me.Endpoint))
	for _, r := range t.Regions {
		if r.Name == self {
			continue
		}
		fmt.Fprintf(&b, "\n# %s\n[Peer]\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s\n",
			r.Name, r.PublicKey, r.Endpoint, hostPrefix(r.IP))
		if s := int(keepalive / time.Second); s > 0 {
			fmt.Fprintf(&b, "PersistentKeepalive = %d\n", s)
		}
	}
	return b.Bytes(), nil
}

// prefixList formats prefixes as wg does: comma-separated, "none" if empty.
func prefixList(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "none"
	}
	var b bytes.Buffer
	for i, p := range ps {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func itoa(n int) string { return fmt.Sprint(n) }
