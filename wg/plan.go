package wg

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"planet/regions"
)

// Device is a WireGuard interface's configuration: what the region table
// wants (desired) or what the device reports (actual).
type Device struct {
	// PrivateKey is the interface's private key; zero in a desired Device
	// leaves the device's key alone.
	PrivateKey PrivateKey
	// ListenPort is the UDP port the interface listens on; zero in a
	// desired Device leaves the device's port alone.
	ListenPort int
	// Peers, one per other region.
	Peers []Peer
}

// Peer is one peer of a Device.
type Peer struct {
	// PublicKey identifies the peer.
	PublicKey regions.Key
	// Endpoint is where packets to the peer go. The zero value means
	// unknown: in a desired Device (a DNS name that does not resolve) it
	// leaves the device's endpoint alone.
	Endpoint netip.AddrPort
	// AllowedIPs are the mesh addresses routed to the peer: its WireGuard
	// IP as a /32 (or /128). Compared as a set.
	AllowedIPs []netip.Prefix
	// Keepalive is the persistent keepalive interval; zero is off.
	Keepalive time.Duration

	// Reported by the device only; Plan ignores them.
	LastHandshake    time.Time // zero: never
	RxBytes, TxBytes int64
}

// ChangeKind is what a Change does.
type ChangeKind uint8

// The kinds of Change, in the order Plan returns them: the device first,
// then removals (which free allowed IPs), updates, additions.
const (
	SetPrivateKey ChangeKind = iota + 1
	SetListenPort
	RemovePeer
	UpdatePeer
	AddPeer
)

func (k ChangeKind) String() string {
	switch k {
	case SetPrivateKey:
		return "set private key"
	case SetListenPort:
		return "set listen port"
	case RemovePeer:
		return "remove peer"
	case UpdatePeer:
		return "update peer"
	case AddPeer:
		return "add peer"
	}
	return fmt.Sprintf("ChangeKind(%d)", k)
}

// Field is a set of a peer's fields that an UpdatePeer change sets.
type Field uint8

// The fields of a peer that an update may change.
const (
	FieldEndpoint Field = 1 << iota
	FieldAllowedIPs
	FieldKeepalive
)

func (f Field) String() string {
	var s []string
	for _, x := range []struct {
		f    Field
		name string
	}{{FieldEndpoint, "endpoint"}, {FieldAllowedIPs, "allowed-ips"}, {FieldKeepalive, "keepalive"}} {
		if f&x.f != 0 {
			s = append(s, x.name)
		}
	}
	return strings.Join(s, ",")
}

// Change is one step that brings a device to its desired configuration.
// Each is applied on its own; none touches a peer it does not name.
type Change struct {
	Kind ChangeKind
	// Peer is the desired peer of AddPeer and UpdatePeer, the device's peer
	// of RemovePeer.
	Peer Peer
	// Fields are the fields an UpdatePeer sets (from Peer); the others stay.
	Fields Field
	// PrivateKey of SetPrivateKey.
	PrivateKey PrivateKey
	// ListenPort of SetListenPort.
	ListenPort int
}

func (c Change) String() string {
	switch c.Kind {
	case SetPrivateKey:
		return fmt.Sprintf("%v (public %s)", c.Kind, c.PrivateKey.PublicKey())
	case SetListenPort:
		return fmt.Sprintf("%v %d", c.Kind, c.ListenPort)
	case UpdatePeer:
		return fmt.Sprintf("%v %s: %v", c.Kind, c.Peer.PublicKey, c.Fields)
	}
	return fmt.Sprintf("%v %s", c.Kind, c.Peer.PublicKey)
}

// Plan returns the changes that make actual into desired, and none when
// they agree. A peer is matched by public key: a peer whose key changed
// is removed and added. A peer that agrees with desired gets no change,
// and an UpdatePeer sets only the fields that differ.
func Plan(desired, actual Device) []Change {
	var plan []Change
	if !desired.PrivateKey.IsZero() && desired.PrivateKey != actual.PrivateKey {
		plan = append(plan, Change{Kind: SetPrivateKey, PrivateKey: desired.PrivateKey})
	}
	if desired.ListenPort != 0 && desired.ListenPort != actual.ListenPort {
		plan = append(plan, Change{Kind: SetListenPort, ListenPort: desired.ListenPort})
	}
	want := make(map[regions.Key]bool, len(desired.Peers))
	for _, p := range desired.Peers {
		want[p.PublicKey] = true
	}
	have := make(map[regions.Key]Peer, len(actual.Peers))
	for _, p := range actual.Peers {
		have[p.PublicKey] = p
		if !want[p.PublicKey] {
			plan = append(plan, Change{Kind: RemovePeer, Peer: p})
		}
	}
	var adds []Change
	for _, p := range desired.Peers {
		old, ok := have[p.PublicKey]
		if !ok {
			adds = append(adds, Change{Kind: AddPeer, Peer: p})
			continue
		}
		if f := peerDiff(p, old); f != 0 {
			plan = append(plan, Change{Kind: UpdatePeer, Peer: p, Fields: f})
		}
	}
	return append(plan, adds...)
}

// peerDiff returns the fields of desired that differ from actual.
func peerDiff(desired, actual Peer) Field {
	var f Field
	if desired.Endpoint.IsValid() && desired.Endpoint != actual.Endpoint {
		f |= FieldEndpoint
	}
	if !samePrefixes(desired.AllowedIPs, actual.AllowedIPs) {
		f |= FieldAllowedIPs
	}
	if desired.Keepalive != actual.Keepalive {
		f |= FieldKeepalive
	}
	return f
}

// samePrefixes reports whether a and b hold the same prefixes, in any order.
func samePrefixes(a, b []netip.Prefix) bool {
	return slices.Equal(sortedPrefixes(a), sortedPrefixes(b))
}

func sortedPrefixes(p []netip.Prefix) []netip.Prefix {
	s := make([]netip.Prefix, len(p))
	for i, x := range p {
		s[i] = x.Masked()
	}
	slices.SortFunc(s, func(x, y netip.Prefix) int {
		if c := x.Addr().Compare(y.Addr()); c != 0 {
			return c
		}
		return x.Bits() - y.Bits()
	})
	return slices.Compact(s)
}
