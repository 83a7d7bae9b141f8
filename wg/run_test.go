package wg

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"planet/regions"
)

type testRunner struct {
	*runner
	ctl *fakeController
	now time.Time
}

func newTestRunner(t *testing.T, tbl *regions.Table, region string, key PrivateKey, res fakeResolver) *testRunner {
	t.Helper()
	tr := &testRunner{ctl: &fakeController{name: "wgtest"}, now: time.Unix(1_000_000, 0)}
	m, err := New(Config{Interface: "wgtest", Table: tbl, Region: region, Key: key, Resolver: res,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return tr.now }})
	if err != nil {
		t.Fatal(err)
	}
	tr.runner = &runner{Mesh: m, ctl: tr.ctl, src: meshSource{table: tbl, key: key}, since: map[regions.Key]time.Time{}}
	return tr
}

func (tr *testRunner) step(t *testing.T, resolve bool) []regions.Key {
	t.Helper()
	if resolve {
		tr.resolve(context.Background())
	}
	if err := tr.sync(); err != nil {
		t.Fatal(err)
	}
	return tr.ctl.touched()
}

func (tr *testRunner) peer(k regions.Key) Peer {
	d, _ := readDevice(tr.ctl, "wgtest")
	for _, p := range d.Peers {
		if p.PublicKey == k {
			return p
		}
	}
	return Peer{}
}

func TestReresolveUpdatesOnlyThatPeer(t *testing.T) {
	res := fakeResolver{"ams.test": {netip.MustParseAddr("198.18.0.3")}}
	tr := newTestRunner(t, testTable(t), "sfo", testKey(1), res)
	ams := testKey(3).PublicKey()
	tr.step(t, true)
	if got := tr.peer(ams).Endpoint; got != mustAddrPort("198.18.0.3:51820") {
		t.Fatalf("ams endpoint %v", got)
	}
	if touched := tr.step(t, true); len(touched) != 0 {
		t.Fatalf("same addresses: touched %v", touched)
	}

	res["ams.test"] = []netip.Addr{netip.MustParseAddr("198.18.1.3")}
	if touched := tr.step(t, true); !slices.Equal(touched, []regions.Key{ams}) {
		t.Fatalf("ams moved: touched %v, want ams only", touched)
	}
	if got := tr.peer(ams).Endpoint; got != mustAddrPort("198.18.1.3:51820") {
		t.Errorf("ams endpoint %v after it moved", got)
	}

	res["ams.test"] = []netip.Addr{netip.MustParseAddr("198.18.2.3"), netip.MustParseAddr("198.18.1.3")}
	if touched := tr.step(t, true); len(touched) != 0 {
		t.Errorf("current address still among the answers: touched %v", touched)
	}
	delete(res, "ams.test")
	if touched := tr.step(t, true); len(touched) != 0 {
		t.Errorf("lookup failed: touched %v, want the old address kept", touched)
	}
}

func TestKeepaliveWaitsForTheInitiator(t *testing.T) {
	tbl := testTable(t, "ams.test", "198.18.0.3")
	self := testKey(1).PublicKey()
	var first, second regions.Key // first initiates (sfo's key sorts lower), second waits
	for _, k := range []regions.Key{testKey(2).PublicKey(), testKey(3).PublicKey()} {
		if initiates(self, k) {
			first = k
		} else {
			second = k
		}
	}
	if first.IsZero() || second.IsZero() {
		t.Fatal("test keys: want sfo to initiate with one peer and not the other")
	}
	tr := newTestRunner(t, tbl, "sfo", testKey(1), nil)
	tr.step(t, true)
	if ka := tr.peer(first).Keepalive; ka != DefaultKeepalive {
		t.Errorf("initiator's keepalive %v, want %v at once", ka, DefaultKeepalive)
	}
	if ka := tr.peer(second).Keepalive; ka != 0 {
		t.Errorf("responder's keepalive %v, want off until a handshake", ka)
	}
	if !tr.awaiting {
		t.Error("not awaiting a handshake")
	}
	tr.now = tr.now.Add(DefaultKeepaliveDelay / 2)
	if touched := tr.step(t, false); len(touched) != 0 {
		t.Errorf("no handshake yet: touched %v", touched)
	}

	// The handshake arrives: the keepalive goes on, for that peer only.
	i := slices.IndexFunc(tr.ctl.dev.Peers, func(p wgtypes.Peer) bool { return regions.Key(p.PublicKey) == second })
	tr.ctl.dev.Peers[i].LastHandshakeTime = tr.now
	if touched := tr.step(t, false); !slices.Equal(touched, []regions.Key{second}) {
		t.Errorf("after the handshake: touched %v, want the responder's peer", touched)
	}
	if ka := tr.peer(second).Keepalive; ka != DefaultKeepalive || tr.awaiting {
		t.Errorf("after the handshake: keepalive %v, awaiting %v", ka, tr.awaiting)
	}
}

func TestKeepaliveFor(t *testing.T) {
	lo, hi := regions.Key{1}, regions.Key{2}
	const ka, delay = 25 * time.Second, 10 * time.Second
	for _, tc := range []struct {
		name      string
		self, p   regions.Key
		handshook bool
		waited    time.Duration
		interval  time.Duration
		want      time.Duration
	}{
		{"lower key initiates at once", lo, hi, false, 0, ka, ka},
		{"higher key waits", hi, lo, false, 0, ka, 0},
		{"higher key, handshake seen", hi, lo, true, 0, ka, ka},
		{"higher key, waited just short", hi, lo, false, delay - 1, ka, 0},
		{"higher key, waited the delay", hi, lo, false, delay, ka, ka},
		{"keepalive off", lo, hi, true, delay, -1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keepaliveFor(tc.interval, tc.self, tc.p, tc.handshook, tc.waited, delay); got != tc.want {
				t.Errorf("keepaliveFor = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPickAddr(t *testing.T) {
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name    string
		addrs   []netip.Addr
		current netip.Addr
		want    netip.Addr
	}{
		{"current kept", []netip.Addr{a("198.18.0.9"), a("198.18.0.3")}, a("198.18.0.3"), a("198.18.0.3")},
		{"first IPv4", []netip.Addr{a("2001:db8::1"), a("198.18.0.9"), a("198.18.0.3")}, a("198.18.0.1"), a("198.18.0.9")},
		{"IPv6 only", []netip.Addr{a("2001:db8::1")}, netip.Addr{}, a("2001:db8::1")},
		{"mapped IPv4", []netip.Addr{a("::ffff:198.18.0.3")}, netip.Addr{}, a("198.18.0.3")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pickAddr(tc.addrs, tc.current); got != tc.want {
				t.Errorf("pickAddr = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tbl := testTable(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no table", Config{Region: "sfo", Key: testKey(1)}},
		{"unknown region", Config{Table: tbl, Region: "lax", Key: testKey(1)}},
		{"another region's key", Config{Table: tbl, Region: "sfo", Key: testKey(2)}},
		{"no key", Config{Table: tbl, Region: "sfo"}},
		{"bad interface", Config{Table: tbl, Region: "sfo", Key: testKey(1), Interface: "a/b"}},
		{"long interface", Config{Table: tbl, Region: "sfo", Key: testKey(1), Interface: "wg0123456789abcdef"}},
		{"emulation of itself", Config{Table: tbl, Region: "sfo", Key: testKey(1), EmulateRTT: map[string]time.Duration{"sfo": time.Millisecond}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("New: %v, want ErrConfig", err)
			}
		})
	}
}
