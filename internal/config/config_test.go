package config

import (
	"errors"
	"testing"
	"time"
)

func TestParseRegion(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"sfo", true}, {"ams3", true}, {"", false}, {"SFO", false}, {"s-f", false},
		{"3sfo", false}, {"sfo ", false}, {"abcdefghijklmnopqrstuvwxyzabcdefg", false},
	} {
		_, err := ParseRegion(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseRegion(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestParsePeers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true},
		{"10.0.0.2:10200,10.0.0.3:10200", 2, true},
		{" 10.0.0.2:10200 , ", 1, true},
		{"[::1]:10200,nyc.example:10200", 2, true},
		{"10.0.0.2", 0, false},
		{"10.0.0.2:0", 0, false},
		{"10.0.0.2:99999", 0, false},
		{":10200", 0, false},
		{"bad host:10200", 0, false},
	} {
		got, err := ParsePeers(tc.in)
		if (err == nil) != tc.ok || len(got) != tc.want {
			t.Errorf("ParsePeers(%q) = %v, %v; want %d entries ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseIPAndDuration(t *testing.T) {
	if _, err := ParseIP("10.0.0.1"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "10.0.0", "nyc", "10.0.0.1:80"} {
		if _, err := ParseIP(bad); err == nil {
			t.Errorf("ParseIP(%q) accepted", bad)
		}
	}
	if d, err := ParseDuration("15s", time.Second, time.Hour); err != nil || d != 15*time.Second {
		t.Errorf("ParseDuration(15s) = %v, %v", d, err)
	}
	for _, bad := range []string{"", "15", "-1s", "2h", "1ms", "soon"} {
		if _, err := ParseDuration(bad, time.Second, time.Hour); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

func TestErrorNamesVariable(t *testing.T) {
	_, reason := ParseIP("nyc")
	err := Invalid("WG_IP", "nyc", reason)
	if got, want := err.Error(), `invalid WG_IP="nyc": not an IP address`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Var != "WG_IP" {
		t.Errorf("errors.As failed: %v", err)
	}
	if Invalid("X", "", nil) != nil {
		t.Error("Invalid with nil reason is not nil")
	}
}

// FuzzParsePeers: no input panics; every accepted entry is host:port.
func FuzzParsePeers(f *testing.F) {
	for _, s := range []string{"", "10.0.0.2:10200,10.0.0.3:10200", "[::1]:1", "a:b", ",,", "x:0", "h.example:65535 , "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		peers, err := ParsePeers(s)
		if err != nil {
			return
		}
		for _, p := range peers {
			if _, err := ParseHostPort(p); err != nil {
				t.Fatalf("accepted %q from %q: %v", p, s, err)
			}
		}
	})
}
