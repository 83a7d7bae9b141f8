package api

import (
	"encoding/json"
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"
)

func TestDecodeRegistration(t *testing.T) {
	addr, ttl, err := DecodeRegistration(strings.NewReader(`{"address":"127.0.0.1:10600","ttl":"15s"}`))
	if err != nil || addr != "127.0.0.1:10600" || ttl != 15*time.Second {
		t.Fatalf("got %q %v %v", addr, ttl, err)
	}
	_, _, err = DecodeRegistration(strings.NewReader(strings.Repeat(" ", MaxBodyBytes+1)))
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized body: %v", err)
	}
}

// FuzzDecodeRegistration: no input panics; every accepted body holds a
// valid address and TTL and survives a round trip.
func FuzzDecodeRegistration(f *testing.F) {
	for _, s := range []string{
		`{"address":"127.0.0.1:10600","ttl":"15s"}`,
		`{"address":"[::1]:1","ttl":"1h"}`,
		`{"address":"db.internal:5432","ttl":"1m30s"}`,
		`{"address":"127.0.0.1:1","ttl":"-1s"}`,
		`{"address":1}`, `null`, `{}`, `{"address":"a:1","ttl":"1s"}x`, "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		addr, ttl, err := DecodeRegistration(strings.NewReader(string(body)))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if ValidateAddress(addr) != nil || ttl < MinTTL || ttl > MaxTTL {
			t.Fatalf("accepted invalid registration %q %v", addr, ttl)
		}
		again, _ := json.Marshal(Registration{Address: addr, TTL: ttl.String()})
		addr2, ttl2, err := DecodeRegistration(strings.NewReader(string(again)))
		if err != nil || addr2 != addr || ttl2 != ttl {
			t.Fatalf("round trip of %s: %q %v %v", again, addr2, ttl2, err)
		}
	})
}

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"web", true},
		{"a.b-c_d", true},
		{"...", true},
		{".web", true},
		{"web.", true},
		{"..web", true},
		{"_", true},
		{"-", true},
		{strings.Repeat("x", MaxNameLen), true},
		{"", false},
		{".", false},
		{"..", false},
		{strings.Repeat("x", MaxNameLen+1), false},
		{"a/b", false},
		{"../x", false},
		{"we b", false},
		{"%2e%2e", false},
		{"é", false},
	} {
		err := ValidateName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, does not wrap ErrInvalid", tc.name, err)
		}
	}
}

// FuzzValidateName: every accepted name is 1-MaxNameLen bytes and a plain
// URL reaches it: it needs no escaping in a path segment, and cleaning the
// path (as HTTP servers and proxies do) leaves it as it is.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"web", "", "a.b-c_d", strings.Repeat("x", 65), "a/b", "é", ".", "..", "...", ".a", "a..", "%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if len(name) == 0 || len(name) > MaxNameLen || strings.ContainsAny(name, "/?# %\x00") {
			t.Fatalf("accepted bad name %q", name)
		}
		if url.PathEscape(name) != name {
			t.Fatalf("accepted name %q needs escaping in a URL path", name)
		}
		if p := "/v1/services/" + name; path.Clean(p) != p {
			t.Fatalf("accepted name %q: path %q cleans to %q", name, p, path.Clean(p))
		}
	})
}
