package wg

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestStatus(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tbl := testTable(t)
	resolved := map[string][]netip.AddrPort{
		"nyc": {mustAddrPort("198.18.0.2:51820")},
		"ams": {mustAddrPort("198.18.0.3:51820"), mustAddrPort("198.18.1.3:51820")},
	}
	nyc := Peer{PublicKey: testKey(2).PublicKey(), Endpoint: mustAddrPort("198.18.0.2:51820"),
		AllowedIPs: prefixes("198.19.0.2/32"), Keepalive: 25 * time.Second, LastHandshake: now.Add(-10 * time.Second), RxBytes: 1, TxBytes: 2}
	ams := Peer{PublicKey: testKey(3).PublicKey(), Endpoint: mustAddrPort("198.18.1.3:51820"),
		AllowedIPs: prefixes("198.19.0.3/32"), Keepalive: 25 * time.Second, LastHandshake: now.Add(-100 * time.Second)}
	dev := Device{PrivateKey: testKey(1), ListenPort: 51820, Peers: []Peer{nyc, ams}}
	with := func(f func(*Device)) Device {
		d := dev
		d.Peers = append([]Peer(nil), dev.Peers...)
		f(&d)
		return d
	}
	type row struct {
		region, state string
		reachable     bool
	}
	for _, tc := range []struct {
		name  string
		dev   Device
		rows  []row
		drift []Drift
	}{
		{"all up, no drift", dev, []row{{"nyc", StateUp, true}, {"ams", StateUp, true}}, []Drift{}},
		{"stale handshake is stuck", with(func(d *Device) { d.Peers[0].LastHandshake = now.Add(-StaleHandshake) }),
			[]row{{"nyc", StateStuck, false}, {"ams", StateUp, true}}, []Drift{}},
		{"stale handshake without keepalive is idle", with(func(d *Device) {
			d.Peers[0].LastHandshake, d.Peers[0].Keepalive = now.Add(-time.Hour), 0
		}), []row{{"nyc", StateIdle, false}, {"ams", StateUp, true}}, []Drift{}},
		{"never", with(func(d *Device) { d.Peers[1].LastHandshake = time.Time{} }),
			[]row{{"nyc", StateUp, true}, {"ams", StateNever, false}}, []Drift{}},
		{"missing and extra", with(func(d *Device) { d.Peers[1].PublicKey = testKey(7).PublicKey() }),
			[]row{{"nyc", StateUp, true}, {"", StateUp, true}},
			[]Drift{{Kind: DriftMissing, Region: "ams", Table: testKey(3).PublicKey().String()},
				{Kind: DriftExtra, Device: testKey(7).PublicKey().String()}}},
		{"endpoint and allowed IPs", with(func(d *Device) {
			d.Peers[0].Endpoint = mustAddrPort("198.18.9.9:51820")
			d.Peers[1].AllowedIPs = prefixes("198.19.0.3/32", "198.19.0.9/32")
		}), []row{{"nyc", StateUp, true}, {"ams", StateUp, true}},
			[]Drift{{Kind: DriftEndpoint, Region: "nyc", Table: "198.18.0.2:51820", Device: "198.18.9.9:51820"},
				{Kind: DriftAllowedIPs, Region: "ams", Table: "198.19.0.3/32", Device: "198.19.0.3/32,198.19.0.9/32"}}},
		{"own key and port", with(func(d *Device) { d.PrivateKey, d.ListenPort = testKey(8), 51821 }),
			[]row{{"nyc", StateUp, true}, {"ams", StateUp, true}},
			[]Drift{{Kind: DriftPublicKey, Region: "sfo", Table: testKey(1).PublicKey().String(), Device: testKey(8).PublicKey().String()},
				{Kind: DriftListenPort, Region: "sfo", Table: "198.18.0.1:51820", Device: "51821"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := Status(tc.dev, tbl, "sfo", resolved, now)
			var rows []row
			for _, p := range rep.Peers {
				rows = append(rows, row{p.Region, p.State, p.Reachable})
			}
			if !reflect.DeepEqual(rows, tc.rows) {
				t.Errorf("peers %v, want %v", rows, tc.rows)
			}
			if !reflect.DeepEqual(rep.Drift, tc.drift) {
				t.Errorf("drift\n got %+v\nwant %+v", rep.Drift, tc.drift)
			}
		})
	}
	t.Run("without a table", func(t *testing.T) {
		rep := Status(dev, nil, "", nil, now)
		if len(rep.Peers) != 2 || rep.Peers[0].Region != "" || len(rep.Drift) != 0 {
			t.Errorf("report %+v", rep)
		}
		if rep.Peers[0].HandshakeAge != 10*time.Second || rep.Peers[0].RxBytes != 1 || rep.Peers[0].TxBytes != 2 {
			t.Errorf("nyc: %+v", rep.Peers[0])
		}
	})
}
