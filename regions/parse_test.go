package regions

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testKey returns a valid key whose bytes are all b.
func testKey(b byte) Key {
	var k Key
	for i := range k {
		k[i] = b
	}
	return k
}

func mustParse(t testing.TB, s string) *Table {
	t.Helper()
	tab, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, s)
	}
	return tab
}

func TestExample(t *testing.T) {
	data, err := os.ReadFile("regions.example")
	if err != nil {
		t.Fatal(err)
	}
	tab := mustParse(t, string(data))
	if errs := tab.Check(); errs != nil {
		t.Fatalf("Check: %v", errs)
	}
	var names []string
	for i, r := range tab.Regions {
		names = append(names, r.Name)
		if want := netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}); r.IP != want {
			t.Errorf("%s: ip %s, want %s", r.Name, r.IP, want)
		}
	}
	if got := strings.Join(names, " "); got != "sfo nyc ams" || tab.Mesh.String() != "10.0.0.0/24" {
		t.Errorf("regions %q mesh %s", got, tab.Mesh)
	}
	if got := tab.Format(); !bytes.Equal(got, data) {
		t.Errorf("regions.example is not in canonical form; Format gives:\n%s", got)
	}
}

func TestParseGood(t *testing.T) {
	k1, k2 := testKey(1).String(), testKey(2).String()
	tab := mustParse(t, "  # head\r\n\nmesh\t10.0.0.0/24 \r\n# about a\n\tregion a 10.0.0.1 a.example.com:1 "+k1+
		"\n\n# about b\n# more\nregion  b  10.0.0.2  [2001:db8::1]:65535  "+k2+"\n# tail\n")
	want := &Table{
		Mesh:    netip.MustParsePrefix("10.0.0.0/24"),
		Comment: []string{"# head"},
		Regions: []Region{
			{Name: "a", IP: netip.MustParseAddr("10.0.0.1"), Endpoint: "a.example.com:1", PublicKey: testKey(1), Comment: []string{"# about a"}},
			{Name: "b", IP: netip.MustParseAddr("10.0.0.2"), Endpoint: "[2001:db8::1]:65535", PublicKey: testKey(2), Comment: []string{"# about b", "# more"}},
		},
		Trailer: []string{"# tail"},
	}
	if !reflect.DeepEqual(tab, want) {
		t.Fatalf("got  %+v\nwant %+v", tab, want)
	}
	again := mustParse(t, string(tab.Format()))
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("round trip:\n%s", tab.Format())
	}
}

func TestParseBad(t *testing.T) {
	k := testKey(1).String()
	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 0, "no mesh line"},
		{"comments only", "# x\n\n", 0, "no mesh line"},
		{"unknown directive", "mesh 10.0.0.0/24\npeer a", 2, `unknown directive "peer"`},
		{"directive case", "Mesh 10.0.0.0/24", 1, "unknown directive"},
		{"mesh twice", "mesh 10.0.0.0/24\n\nmesh 10.0.1.0/24", 3, "second mesh line (the first is line 1)"},
		{"mesh fields", "mesh 10.0.0.0/24 x", 1, "want mesh PREFIX"},
		{"mesh not prefix", "mesh 10.0.0.0", 1, `mesh "10.0.0.0"`},
		{"mesh not masked", "mesh 10.0.0.1/24", 1, "want 10.0.0.0/24"},
		{"region first", "region a 10.0.0.1 a.example.com:1 " + k + "\nmesh 10.0.0.0/24", 1, "region before the mesh line"},
		{"few fields", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:1", 2, "got 4 fields"},
		{"inline comment", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:1 " + k + " # sfo", 2, "comments go on their own line"},
		{"bad name", "mesh 10.0.0.0/24\nregion SFO 10.0.0.1 a.example.com:1 " + k, 2, `name "SFO"`},
		{"long name", "mesh 10.0.0.0/24\nregion " + strings.Repeat("a", 33) + " 10.0.0.1 a.example.com:1 " + k, 2, "longer than 32"},
		{"bad ip", "mesh 10.0.0.0/24\nregion a 10.0.0.256 a.example.com:1 " + k, 2, `wg ip "10.0.0.256"`},
		{"ip zone", "mesh fd00::/64\nregion a fd00::1%eth0 a.example.com:1 " + k, 2, "wg ip"},
		{"no port", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com " + k, 2, "want host:port"},
		{"port 0", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:0 " + k, 2, "port must be 1-65535"},
		{"port big", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:65536 " + k, 2, "port must be 1-65535"},
		{"port zero-led", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:051820 " + k, 2, "port must be"},
		{"host label", "mesh 10.0.0.0/24\nregion a 10.0.0.1 -a.example.com:1 " + k, 2, "bad DNS label"},
		{"host char", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a_b.example.com:1 " + k, 2, "bad character"},
		{"ipv6 no brackets", "mesh 10.0.0.0/24\nregion a 10.0.0.1 ::1:1 " + k, 2, "endpoint"},
		{"ipv4 brackets", "mesh 10.0.0.0/24\nregion a 10.0.0.1 [192.0.2.1]:1 " + k, 2, "only they, go in brackets"},
		{"unspecified host", "mesh 10.0.0.0/24\nregion a 10.0.0.1 0.0.0.0:1 " + k, 2, "not a unicast"},
		{"key short", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:1 " + k[:43], 2, "want 44 base64"},
		{"key not base64", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:1 " + strings.Repeat("!", 44), 2, "not the base64"},
		{"key url base64", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:1 " + "-_" + k[2:], 2, "not the base64"},
		{"key padding bits", "mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:1 " + k[:42] + "B=", 2, "not the base64"},
		{"later line", "mesh 10.0.0.0/24\n# c\n\nregion a 10.0.0.1 a.example.com:1 " + k + "\nregion b x y z", 5, `wg ip "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SyntaxError", err)
			}
			if se.Line != tc.line || !strings.Contains(se.Error(), tc.msg) {
				t.Errorf("err = %q (line %d), want line %d and %q", se, se.Line, tc.line, tc.msg)
			}
		})
	}
}

func TestParseAllErrors(t *testing.T) {
	_, err := Parse(strings.NewReader("mesh 10.0.0.0/24\nregion a\nbogus\nregion b"))
	want := "regions: line 2: want region NAME WG_IP ENDPOINT PUBLIC_KEY, got 2 fields\n" +
		"regions: line 3: unknown directive \"bogus\" (want mesh or region)\n" +
		"regions: line 4: want region NAME WG_IP ENDPOINT PUBLIC_KEY, got 2 fields"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestParseTooLarge(t *testing.T) {
	in := "mesh 10.0.0.0/24\n" + strings.Repeat("#\n", MaxFileSize)
	if _, err := Parse(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v", err)
	}
}

func TestKeyText(t *testing.T) {
	k := testKey(0xab)
	p, err := ParseKey(k.String())
	if err != nil || p != k {
		t.Fatalf("ParseKey(%s) = %v, %v", k, p, err)
	}
	b, _ := k.MarshalText()
	var u Key
	if err := u.UnmarshalText(b); err != nil || u != k {
		t.Fatalf("UnmarshalText = %v, %v", u, err)
	}
	if err := u.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText accepted garbage")
	}
}
