package regions

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func testRegion(name string, n byte) Region {
	return Region{
		Name:      name,
		IP:        netip.AddrFrom4([4]byte{10, 0, 0, n}),
		Endpoint:  name + ".example.com:51820",
		PublicKey: testKey(n),
	}
}

func testTable() *Table {
	return &Table{
		Mesh:    netip.MustParsePrefix("10.0.0.0/24"),
		Regions: []Region{testRegion("sfo", 1), testRegion("nyc", 2), testRegion("ams", 3)},
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Table)
		want []string // substrings of the problems, in order
	}{
		{"ok", func(*Table) {}, nil},
		{"no mesh", func(t *Table) { t.Mesh = netip.Prefix{} }, []string{"mesh: no valid subnet", "outside the mesh", "outside the mesh", "outside the mesh"}},
		{"mesh not masked", func(t *Table) { t.Mesh = netip.MustParsePrefix("10.0.0.7/24") }, []string{"want 10.0.0.0/24"}},
		{"bad name", func(t *Table) { t.Regions[1].Name = "Nyc" }, []string{"region Nyc: name: must start with a lowercase letter"}},
		{"duplicate name", func(t *Table) { t.Regions[2].Name = "sfo" }, []string{"region sfo: name used twice"}},
		{"duplicate ip", func(t *Table) { t.Regions[2].IP = t.Regions[0].IP }, []string{"region ams: wg ip 10.0.0.1 is also sfo's"}},
		{"duplicate key", func(t *Table) { t.Regions[2].PublicKey = t.Regions[1].PublicKey }, []string{"region ams: public key " + testKey(2).String() + " is also nyc's"}},
		{"duplicate endpoint", func(t *Table) { t.Regions[2].Endpoint = "NYC.example.com:51820" }, []string{"region ams: endpoint NYC.example.com:51820 is also nyc's"}},
		{"duplicate ip endpoint", func(t *Table) {
			t.Regions[0].Endpoint, t.Regions[1].Endpoint = "[2001:db8::1]:1", "[2001:db8:0::1]:1"
		}, []string{"region nyc: endpoint [2001:db8:0::1]:1 is also sfo's"}},
		{"same host other port", func(t *Table) { t.Regions[2].Endpoint = "nyc.example.com:51821" }, nil},
		{"outside mesh", func(t *Table) { t.Regions[1].IP = netip.MustParseAddr("10.0.1.2") }, []string{"wg ip 10.0.1.2 is outside the mesh 10.0.0.0/24"}},
		{"other family", func(t *Table) { t.Regions[1].IP = netip.MustParseAddr("::ffff:10.0.0.2") }, []string{"outside the mesh"}},
		{"network address", func(t *Table) { t.Regions[1].IP = netip.MustParseAddr("10.0.0.0") }, []string{"the mesh's network address"}},
		{"broadcast", func(t *Table) { t.Regions[1].IP = netip.MustParseAddr("10.0.0.255") }, []string{"the mesh's broadcast address"}},
		{"no ip", func(t *Table) { t.Regions[1].IP = netip.Addr{} }, []string{"region nyc: no wg ip"}},
		{"zero key", func(t *Table) { t.Regions[1].PublicKey = Key{} }, []string{"region nyc: public key is all zeros"}},
		{"bad endpoint", func(t *Table) { t.Regions[1].Endpoint = "nyc.example.com:0" }, []string{"port must be 1-65535"}},
		{"empty endpoint", func(t *Table) { t.Regions[1].Endpoint = "" }, []string{"want host:port"}},
		{"ipv6 mesh", func(t *Table) {
			t.Mesh = netip.MustParsePrefix("fd00::/64")
			for i := range t.Regions {
				t.Regions[i].IP = netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(i + 1)})
			}
		}, nil},
		{"several", func(t *Table) { t.Regions[0].PublicKey = Key{}; t.Regions[2].IP = t.Regions[1].IP },
			[]string{"region sfo: public key is all zeros", "region ams: wg ip 10.0.0.2 is also nyc's"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := testTable()
			tc.edit(tab)
			errs := tab.Check()
			if len(errs) != len(tc.want) {
				t.Fatalf("Check = %v, want %d problems %q", errs, len(tc.want), tc.want)
			}
			for i, err := range errs {
				if !strings.Contains(err.Error(), tc.want[i]) {
					t.Errorf("problem %d = %q, want %q", i, err, tc.want[i])
				}
			}
		})
	}
}

func TestBroadcast(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/24": "10.0.0.255", "10.0.0.0/30": "10.0.0.3", "10.0.0.0/8": "10.255.255.255",
		"10.0.0.0/31": "invalid IP", "fd00::/64": "invalid IP",
	} {
		if got := broadcast(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("broadcast(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestAddRemove(t *testing.T) {
	tab := testTable()
	if err := tab.Add(testRegion("lon", 4)); err != nil {
		t.Fatal(err)
	}
	if r, ok := tab.Lookup("lon"); !ok || r.IP.String() != "10.0.0.4" {
		t.Fatalf("Lookup(lon) = %v, %v", r, ok)
	}
	before := testTable()
	before.Regions = append(before.Regions, testRegion("lon", 4))
	for _, tc := range []struct {
		r    Region
		want string
	}{
		{testRegion("sfo", 9), `regions: cannot add "sfo": region sfo: name used twice; region sfo: endpoint sfo.example.com:51820 is also sfo's`},
		{testRegion("par", 2), `regions: cannot add "par": region par: wg ip 10.0.0.2 is also nyc's; region par: public key ` + testKey(2).String() + " is also nyc's"},
		{Region{Name: "par"}, `regions: cannot add "par": region par: no wg ip; region par: endpoint "": want host:port; region par: public key is all zeros`},
	} {
		if err := tab.Add(tc.r); err == nil || err.Error() != tc.want {
			t.Errorf("Add(%v) = %v\nwant %s", tc.r, err, tc.want)
		}
		if !reflect.DeepEqual(tab, before) {
			t.Errorf("a refused Add changed the table")
		}
	}
	if err := tab.Remove("nyc"); err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Lookup("nyc"); ok || len(tab.Regions) != 3 {
		t.Errorf("nyc still there: %v", tab.Regions)
	}
	if err := tab.Remove("nyc"); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("Remove(nyc) again = %v", err)
	}
}
