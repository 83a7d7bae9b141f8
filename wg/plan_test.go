package wg

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"planet/regions"
)

func TestPlan(t *testing.T) {
	nyc := Peer{PublicKey: testKey(2).PublicKey(), Endpoint: mustAddrPort("198.18.0.2:51820"),
		AllowedIPs: prefixes("198.19.0.2/32"), Keepalive: 25 * time.Second}
	ams := Peer{PublicKey: testKey(3).PublicKey(), Endpoint: mustAddrPort("198.18.0.3:51820"),
		AllowedIPs: prefixes("198.19.0.3/32"), Keepalive: 25 * time.Second}
	base := Device{PrivateKey: testKey(1), ListenPort: 51820, Peers: []Peer{nyc, ams}}
	with := func(d Device, f func(*Device)) Device {
		d.Peers = append([]Peer(nil), d.Peers...)
		f(&d)
		return d
	}
	nycMoved := nyc
	nycMoved.Endpoint = mustAddrPort("198.18.1.2:51820")
	nycRekeyed := nyc
	nycRekeyed.PublicKey = testKey(4).PublicKey()
	amsWiderIPs := ams
	amsWiderIPs.AllowedIPs = prefixes("198.19.0.3/32", "198.19.0.4/32")
	nycNoKeepalive := nyc
	nycNoKeepalive.Keepalive = 0
	nycUnknown := nyc
	nycUnknown.Endpoint = netip.AddrPort{}

	for _, tc := range []struct {
		name            string
		desired, actual Device
		want            []Change
	}{
		{"no change", base, base, nil},
		{"no change, peers in another order, stats differ", base, with(base, func(d *Device) {
			d.Peers[0], d.Peers[1] = d.Peers[1], d.Peers[0]
			d.Peers[0].RxBytes, d.Peers[0].LastHandshake = 100, time.Unix(1, 0)
		}), nil},
		{"no change, allowed IPs in another order", with(base, func(d *Device) { d.Peers[1] = amsWiderIPs }),
			with(base, func(d *Device) {
				d.Peers[1] = amsWiderIPs
				d.Peers[1].AllowedIPs = prefixes("198.19.0.4/32", "198.19.0.3/32")
			}), nil},
		{"new device", base, Device{},
			[]Change{{Kind: SetPrivateKey, PrivateKey: testKey(1)}, {Kind: SetListenPort, ListenPort: 51820},
				{Kind: AddPeer, Peer: nyc}, {Kind: AddPeer, Peer: ams}}},
		{"endpoint only", with(base, func(d *Device) { d.Peers[0] = nycMoved }), base,
			[]Change{{Kind: UpdatePeer, Peer: nycMoved, Fields: FieldEndpoint}}},
		{"unknown endpoint keeps the device's", with(base, func(d *Device) { d.Peers[0] = nycUnknown }), base, nil},
		{"allowed IPs", with(base, func(d *Device) { d.Peers[1] = amsWiderIPs }), base,
			[]Change{{Kind: UpdatePeer, Peer: amsWiderIPs, Fields: FieldAllowedIPs}}},
		{"keepalive off", with(base, func(d *Device) { d.Peers[0] = nycNoKeepalive }), base,
			[]Change{{Kind: UpdatePeer, Peer: nycNoKeepalive, Fields: FieldKeepalive}}},
		{"keepalive on", base, with(base, func(d *Device) { d.Peers[0] = nycNoKeepalive }),
			[]Change{{Kind: UpdatePeer, Peer: nyc, Fields: FieldKeepalive}}},
		{"several fields of one peer", with(base, func(d *Device) {
			p := nycMoved
			p.Keepalive = 0
			d.Peers[0] = p
		}), base, []Change{{Kind: UpdatePeer, Peer: Peer{PublicKey: nyc.PublicKey, Endpoint: nycMoved.Endpoint,
			AllowedIPs: nyc.AllowedIPs}, Fields: FieldEndpoint | FieldKeepalive}}},
		{"peer added", base, with(base, func(d *Device) { d.Peers = d.Peers[:1] }),
			[]Change{{Kind: AddPeer, Peer: ams}}},
		{"peer removed", with(base, func(d *Device) { d.Peers = d.Peers[1:] }), base,
			[]Change{{Kind: RemovePeer, Peer: nyc}}},
		{"peer key rotated: remove old, add new", with(base, func(d *Device) { d.Peers[0] = nycRekeyed }), base,
			[]Change{{Kind: RemovePeer, Peer: nyc}, {Kind: AddPeer, Peer: nycRekeyed}}},
		{"own key rotated", with(base, func(d *Device) { d.PrivateKey = testKey(9) }), base,
			[]Change{{Kind: SetPrivateKey, PrivateKey: testKey(9)}}},
		{"listen port", with(base, func(d *Device) { d.ListenPort = 51821 }), base,
			[]Change{{Kind: SetListenPort, ListenPort: 51821}}},
		{"zero key and port leave the device's", with(base, func(d *Device) { d.PrivateKey, d.ListenPort = PrivateKey{}, 0 }), base, nil},
		{"all peers removed", Device{PrivateKey: testKey(1), ListenPort: 51820}, base,
			[]Change{{Kind: RemovePeer, Peer: nyc}, {Kind: RemovePeer, Peer: ams}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Plan(tc.desired, tc.actual)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan:\n got %v\nwant %v", got, tc.want)
			}
			// Applying the plan to actual gives desired: planning again is empty.
			if again := Plan(tc.desired, applyToModel(tc.actual, got)); len(again) != 0 {
				t.Errorf("after the plan, Plan again = %v", again)
			}
		})
	}
}

// applyToModel applies changes to a Device the way a WireGuard device
// would, for checking that a plan reaches its goal.
func applyToModel(d Device, plan []Change) Device {
	peers := map[regions.Key]Peer{}
	var order []regions.Key
	for _, p := range d.Peers {
		peers[p.PublicKey] = p
		order = append(order, p.PublicKey)
	}
	for _, ch := range plan {
		k := ch.Peer.PublicKey
		switch ch.Kind {
		case SetPrivateKey:
			d.PrivateKey = ch.PrivateKey
		case SetListenPort:
			d.ListenPort = ch.ListenPort
		case RemovePeer:
			delete(peers, k)
		case AddPeer:
			peers[k] = ch.Peer
			order = append(order, k)
		case UpdatePeer:
			p := peers[k]
			if ch.Fields&FieldEndpoint != 0 {
				p.Endpoint = ch.Peer.Endpoint
			}
			if ch.Fields&FieldAllowedIPs != 0 {
				p.AllowedIPs = ch.Peer.AllowedIPs
			}
			if ch.Fields&FieldKeepalive != 0 {
				p.Keepalive = ch.Peer.Keepalive
			}
			peers[k] = p
		}
	}
	d.Peers = nil
	for _, k := range order {
		if p, ok := peers[k]; ok {
			d.Peers = append(d.Peers, p)
			delete(peers, k)
		}
	}
	return d
}

func TestChangeString(t *testing.T) {
	ch := Change{Kind: UpdatePeer, Peer: Peer{PublicKey: testKey(2).PublicKey()}, Fields: FieldEndpoint | FieldKeepalive}
	want := "update peer " + testKey(2).PublicKey().String() + ": endpoint,keepalive"
	if ch.String() != want {
		t.Errorf("String() = %q, want %q", ch, want)
	}
}
