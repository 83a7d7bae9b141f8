package wg

import (
	"net/netip"
	"slices"
	"time"

	"planet/regions"
)

// StaleHandshake is the age past which a peer's last handshake means it is
// not reachable: WireGuard rekeys every two minutes while packets flow (and
// the keepalive keeps them flowing), and refuses a session older than
// 180 s.
const StaleHandshake = 180 * time.Second

// Peer states in a status report.
const (
	StateUp    = "up"    // handshake younger than StaleHandshake
	StateStuck = "stuck" // keepalive on, handshake older than StaleHandshake
	StateIdle  = "idle"  // keepalive off, handshake older: no traffic, no proof either way
	StateNever = "never" // no handshake since the device started
)

// PeerStatus is one peer of a device as Status reports it.
type PeerStatus struct {
	Region        string         `json:"region,omitempty"` // "" if the table does not have the key
	PublicKey     regions.Key    `json:"public_key"`
	Endpoint      netip.AddrPort `json:"endpoint,omitzero"`
	AllowedIPs    []netip.Prefix `json:"allowed_ips"`
	Keepalive     time.Duration  `json:"keepalive_ns"`
	LastHandshake time.Time      `json:"last_handshake,omitzero"`
	HandshakeAge  time.Duration  `json:"handshake_age_ns,omitempty"` // zero if never
	RxBytes       int64          `json:"rx_bytes"`
	TxBytes       int64          `json:"tx_bytes"`
	State         string         `json:"state"`
	Reachable     bool           `json:"reachable"`
}

// Drift kinds: how the live device differs from the region table.
const (
	DriftMissing    = "missing"     // a region of the table is not a peer
	DriftExtra      = "extra"       // a peer is not a region of the table
	DriftEndpoint   = "endpoint"    // a peer's endpoint is not its table endpoint's address
	DriftAllowedIPs = "allowed-ips" // a peer's allowed IPs are not its WireGuard IP
	DriftPublicKey  = "public-key"  // the device's key is not this region's table key
	DriftListenPort = "listen-port" // the device listens elsewhere than this region's endpoint port
)

// Drift is one difference between the region table and the live device.
type Drift struct {
	Kind   string `json:"kind"`
	Region string `json:"region,omitempty"`
	Table  string `json:"table,omitempty"`  // what the table says
	Device string `json:"device,omitempty"` // what the device has
}

// Report is the status of a device, as compared with the region table.
type Report struct {
	Region     string       `json:"region,omitempty"`
	PublicKey  regions.Key  `json:"public_key"`
	ListenPort int          `json:"listen_port"`
	Peers      []PeerStatus `json:"peers"`
	Drift      []Drift      `json:"drift"`
}

// Status reports on dev at time now. With a table (t non-nil), peers are
// named by region and the drift from region self of t is listed; resolved
// gives the addresses each region's endpoint resolves to (a region absent
// from it has its endpoint not compared). Status is pure.
func Status(dev Device, t *regions.Table, self string, resolved map[string][]netip.AddrPort, now time.Time) Report {
	rep := Report{Region: self, PublicKey: dev.PrivateKey.PublicKey(), ListenPort: dev.ListenPort,
		Peers: []PeerStatus{}, Drift: []Drift{}}
	for _, p := range dev.Peers {
		rep.Peers = append(rep.Peers, peerStatus(p, now))
	}
	if t == nil {
		return rep
	}
	byKey := make(map[regions.Key]int, len(dev.Peers))
	for i, p := range dev.Peers {
		byKey[p.PublicKey] = i
	}
	rep.Drift = append(rep.Drift, deviceDrift(rep, t, self)...)
	for _, r := range t.Regions {
		if r.Name == self {
			continue
		}
		i, ok := byKey[r.PublicKey]
		if !ok {
			rep.Drift = append(rep.Drift, Drift{Kind: DriftMissing, Region: r.Name, Table: r.PublicKey.String()})
			continue
		}
		delete(byKey, r.PublicKey)
		rep.Peers[i].Region = r.Name
		rep.Drift = append(rep.Drift, peerDrift(r, dev.Peers[i], resolved)...)
	}
	for _, p := range dev.Peers {
		if _, extra := byKey[p.PublicKey]; extra {
			rep.Drift = append(rep.Drift, Drift{Kind: DriftExtra, Device: p.PublicKey.String()})
		}
	}
	return rep
}

func peerStatus(p Peer, now time.Time) PeerStatus {
	s := PeerStatus{PublicKey: p.PublicKey, Endpoint: p.Endpoint, AllowedIPs: p.AllowedIPs,
		Keepalive: p.Keepalive, LastHandshake: p.LastHandshake, RxBytes: p.RxBytes, TxBytes: p.TxBytes}
	if s.AllowedIPs == nil {
		s.AllowedIPs = []netip.Prefix{}
	}
	switch {
	case p.LastHandshake.IsZero():
		s.State = StateNever
	case now.Sub(p.LastHandshake) < StaleHandshake:
		s.State = StateUp
	case p.Keepalive > 0:
		s.State = StateStuck
	default:
		s.State = StateIdle
	}
	if !p.LastHandshake.IsZero() {
		s.HandshakeAge = max(now.Sub(p.LastHandshake), 0)
	}
	s.Reachable = s.State == StateUp
	return s
}

func deviceDrift(rep Report, t *regions.Table, self string) []Drift {
	me, ok := t.Lookup(self)
	if !ok {
		return nil
	}
	var d []Drift
	if rep.PublicKey != me.PublicKey {
		d = append(d, Drift{Kind: DriftPublicKey, Region: self, Table: me.PublicKey.String(), Device: rep.PublicKey.String()})
	}
	if port := endpointPort(me.Endpoint); port != rep.ListenPort {
		d = append(d, Drift{Kind: DriftListenPort, Region: self, Table: me.Endpoint, Device: itoa(rep.ListenPort)})
	}
	return d
}

func peerDrift(r regions.Region, p Peer, resolved map[string][]netip.AddrPort) []Drift {
	var d []Drift
	if addrs, ok := resolved[r.Name]; ok && !slices.Contains(addrs, p.Endpoint) {
		got := "none"
		if p.Endpoint.IsValid() {
			got = p.Endpoint.String()
		}
		d = append(d, Drift{Kind: DriftEndpoint, Region: r.Name, Table: r.Endpoint, Device: got})
	}
	want := []netip.Prefix{hostPrefix(r.IP)}
	if !samePrefixes(want, p.AllowedIPs) {
		d = append(d, Drift{Kind: DriftAllowedIPs, Region: r.Name, Table: prefixList(want), Device: prefixList(p.AllowedIPs)})
	}
	return d
}
