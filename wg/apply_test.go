package wg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"planet/regions"
)

// fakeController is a WireGuard device in memory that records every
// ConfigureDevice call.
type fakeController struct {
	name    string
	dev     wgtypes.Device
	configs []wgtypes.Config
}

var _ controller = (*fakeController)(nil)

func (f *fakeController) Device(name string) (*wgtypes.Device, error) {
	if name != f.name {
		return nil, os.ErrNotExist
	}
	d := f.dev
	d.Peers = slices.Clone(d.Peers)
	return &d, nil
}

func (f *fakeController) ConfigureDevice(name string, cfg wgtypes.Config) error {
	if name != f.name {
		return os.ErrNotExist
	}
	f.configs = append(f.configs, cfg)
	if cfg.ReplacePeers {
		return fmt.Errorf("ReplacePeers used")
	}
	if cfg.PrivateKey != nil {
		f.dev.PrivateKey, f.dev.PublicKey = *cfg.PrivateKey, cfg.PrivateKey.PublicKey()
	}
	if cfg.ListenPort != nil {
		f.dev.ListenPort = *cfg.ListenPort
	}
	for _, pc := range cfg.Peers {
		i := slices.IndexFunc(f.dev.Peers, func(p wgtypes.Peer) bool { return p.PublicKey == pc.PublicKey })
		switch {
		case pc.Remove:
			if i >= 0 {
				f.dev.Peers = slices.Delete(f.dev.Peers, i, i+1)
			}
			continue
		case i < 0 && pc.UpdateOnly:
			continue
		case i < 0:
			f.dev.Peers = append(f.dev.Peers, wgtypes.Peer{PublicKey: pc.PublicKey})
			i = len(f.dev.Peers) - 1
		}
		p := &f.dev.Peers[i]
		if pc.Endpoint != nil {
			p.Endpoint = pc.Endpoint
		}
		if pc.PersistentKeepaliveInterval != nil {
			p.PersistentKeepaliveInterval = *pc.PersistentKeepaliveInterval
		}
		if pc.ReplaceAllowedIPs {
			p.AllowedIPs = nil
		}
		p.AllowedIPs = append(p.AllowedIPs, pc.AllowedIPs...)
	}
	return nil
}

// touched returns the public keys of the peers that the recorded
// configurations named, and clears the record.
func (f *fakeController) touched() []regions.Key {
	var keys []regions.Key
	for _, c := range f.configs {
		for _, p := range c.Peers {
			keys = append(keys, regions.Key(p.PublicKey))
		}
	}
	f.configs = nil
	return keys
}

func TestApplyTouchesOnlyChangedPeers(t *testing.T) {
	f := &fakeController{name: "wgtest"}
	tbl := testTable(t)
	eps := map[string]netip.AddrPort{"nyc": mustAddrPort("198.18.0.2:51820"), "ams": mustAddrPort("198.18.0.3:51820")}
	ka := func(regions.Key) time.Duration { return 25 * time.Second }
	sync := func(d Device) []Change {
		t.Helper()
		actual, err := readDevice(f, "wgtest")
		if err != nil {
			t.Fatal(err)
		}
		plan := Plan(d, actual)
		if err := apply(f, "wgtest", plan); err != nil {
			t.Fatal(err)
		}
		return plan
	}
	sync(desiredDevice(tbl, "sfo", testKey(1), eps, ka))
	if len(f.configs) != 4 {
		t.Fatalf("first sync: %d ConfigureDevice calls, want 4 (key, port, two peers)", len(f.configs))
	}
	f.configs = nil
	if plan := sync(desiredDevice(tbl, "sfo", testKey(1), eps, ka)); len(plan) != 0 || len(f.configs) != 0 {
		t.Fatalf("second sync of the same table: plan %v, %d calls", plan, len(f.configs))
	}

	eps["ams"] = mustAddrPort("198.18.1.3:51820")
	sync(desiredDevice(tbl, "sfo", testKey(1), eps, ka))
	want := wgtypes.PeerConfig{PublicKey: wgtypes.Key(testKey(3).PublicKey()), UpdateOnly: true,
		Endpoint: &net.UDPAddr{IP: net.IPv4(198, 18, 1, 3).To4(), Port: 51820}}
	if len(f.configs) != 1 || !reflect.DeepEqual(f.configs[0].Peers, []wgtypes.PeerConfig{want}) {
		t.Fatalf("endpoint change: configs %+v, want one with %+v", f.configs, want)
	}
	f.configs = nil

	rekeyed := testTable(t, testKey(2).PublicKey().String(), testKey(5).PublicKey().String())
	sync(desiredDevice(rekeyed, "sfo", testKey(1), eps, ka))
	got := f.touched()
	if want := []regions.Key{testKey(2).PublicKey(), testKey(5).PublicKey()}; !slices.Equal(got, want) {
		t.Errorf("nyc's key rotated: touched %v, want the old and the new key only", got)
	}
	if !f.dev.Peers[len(f.dev.Peers)-1].Endpoint.AddrPort().IsValid() {
		t.Error("the new peer has no endpoint")
	}
}

func TestReadDeviceMissing(t *testing.T) {
	f := &fakeController{name: "wgtest"}
	if _, err := readDevice(f, "other"); !errors.Is(err, ErrNoDevice) {
		t.Errorf("readDevice of a missing device: %v, want ErrNoDevice", err)
	}
}

// fakeResolver resolves from a map; a missing name fails.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
