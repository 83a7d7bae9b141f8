package discovery

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestRegistryExpiry(t *testing.T) {
	r := NewRegistry(0)
	if _, changed, err := r.Put("web", "127.0.0.1:80", 10*time.Second, t0); err != nil || !changed {
		t.Fatalf("first Put: changed=%v err=%v", changed, err)
	}
	r.Put("web", "127.0.0.1:81", 30*time.Second, t0)

	if gone := r.Expire(t0.Add(10 * time.Second)); len(gone) != 0 {
		t.Fatalf("expired at exactly the TTL: %v", gone)
	}
	gone := r.Expire(t0.Add(10*time.Second + time.Nanosecond))
	if len(gone) != 1 || gone[0].Address != "127.0.0.1:80" {
		t.Fatalf("Expire = %v, want the 10s entry", gone)
	}
	if got := r.List("web"); len(got) != 1 || got[0].Address != "127.0.0.1:81" {
		t.Fatalf("List after expiry = %v", got)
	}
	if r.Len() != 1 {
		t.Fatalf("Len = %d, want 1", r.Len())
	}
}

func TestRegistryRefresh(t *testing.T) {
	r := NewRegistry(0)
	e1, _, _ := r.Put("web", "127.0.0.1:80", 10*time.Second, t0)
	// A heartbeat before the TTL runs out keeps the entry, and is not a change.
	e2, changed, _ := r.Put("web", "127.0.0.1:80", 10*time.Second, t0.Add(8*time.Second))
	if changed || e2.Version != e1.Version {
		t.Fatalf("heartbeat changed=%v version %d -> %d", changed, e1.Version, e2.Version)
	}
	if gone := r.Expire(t0.Add(15 * time.Second)); len(gone) != 0 {
		t.Fatalf("refreshed entry expired: %v", gone)
	}
	// A new TTL is a change with a newer version.
	e3, changed, _ := r.Put("web", "127.0.0.1:80", 20*time.Second, t0.Add(9*time.Second))
	if !changed || e3.Version <= e2.Version {
		t.Fatalf("TTL change: changed=%v version %d -> %d", changed, e2.Version, e3.Version)
	}
}

func TestRegistryDeregister(t *testing.T) {
	r := NewRegistry(0)
	e, _, _ := r.Put("web", "127.0.0.1:80", 10*time.Second, t0)
	if _, ok := r.Delete("web", "127.0.0.1:99", t0); ok {
		t.Fatal("deleted an address that was never registered")
	}
	del, ok := r.Delete("web", "127.0.0.1:80", t0)
	if !ok || del.Version <= e.Version {
		t.Fatalf("Delete ok=%v version %d, registered %d", ok, del.Version, e.Version)
	}
	if r.Len() != 0 || len(r.List("web")) != 0 {
		t.Fatal("entry still listed after Delete")
	}
	if _, ok := r.Delete("web", "127.0.0.1:80", t0); ok {
		t.Fatal("second Delete succeeded")
	}
}

func TestRegistryVersionsNeverGoBack(t *testing.T) {
	r := NewRegistry(0)
	var last uint64
	// The clock goes backwards; versions must not.
	for i, at := range []time.Time{t0, t0.Add(-time.Hour), t0, t0.Add(time.Second)} {
		e, _, _ := r.Put("svc", "10.0.0.1:"+string(rune('1'+i)), time.Minute, at)
		if e.Version <= last {
			t.Fatalf("version %d after %d", e.Version, last)
		}
		last = e.Version
	}
	if _, v := r.Snapshot(); v != last {
		t.Fatalf("Snapshot version %d, want %d", v, last)
	}
}

func TestRegistryFull(t *testing.T) {
	r := NewRegistry(2)
	r.Put("a", "127.0.0.1:1", time.Minute, t0)
	r.Put("b", "127.0.0.1:1", time.Minute, t0)
	if _, _, err := r.Put("c", "127.0.0.1:1", time.Minute, t0); !errors.Is(err, ErrRegistryFull) {
		t.Fatalf("third Put err = %v, want ErrRegistryFull", err)
	}
	if _, _, err := r.Put("a", "127.0.0.1:1", time.Minute, t0); err != nil {
		t.Fatalf("refresh of an existing entry on a full registry: %v", err)
	}
}

func TestRewriteAddress(t *testing.T) {
	wg := []byte{10, 0, 0, 1}
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:10600", "10.0.0.1:10600"},
		{"127.0.1.1:10600", "10.0.0.1:10600"},
		{"localhost:80", "10.0.0.1:80"},
		{"LOCALHOST:80", "10.0.0.1:80"},
		{"0.0.0.0:80", "10.0.0.1:80"},
		{"[::]:80", "10.0.0.1:80"},
		{"[::1]:80", "10.0.0.1:80"},
		{"10.0.0.7:80", "10.0.0.7:80"},
		{"db.internal:5432", "db.internal:5432"},
		{"not-host-port", "not-host-port"},
	} {
		if got := RewriteAddress(tc.in, wg); got != tc.want {
			t.Errorf("RewriteAddress(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
