package discovery

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// benchInstances returns 1,000 instances: 100 services with 10 addresses
// each.
func benchInstances() (names []string, addrs [][]string) {
	for s := range 100 {
		names = append(names, fmt.Sprintf("svc-%03d", s))
		var as []string
		for k := range 10 {
			as = append(as, fmt.Sprintf("10.1.%d.%d:8080", s, 1+k))
		}
		addrs = append(addrs, as)
	}
	return names, addrs
}

func benchRegistry(b *testing.B) *Registry {
	r := NewRegistry(0)
	names, addrs := benchInstances()
	for s, name := range names {
		for _, a := range addrs[s] {
			if _, _, err := r.Put(name, a, time.Minute, t0); err != nil {
				b.Fatal(err)
			}
		}
	}
	return r
}

// BenchmarkRegistryPut is a heartbeat: refreshing an existing entry in a
// registry of 1,000.
func BenchmarkRegistryPut(b *testing.B) {
	r := benchRegistry(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, changed, err := r.Put("svc-042", "10.1.42.3:8080", time.Minute, t0.Add(time.Duration(i))); changed || err != nil {
			b.Fatalf("heartbeat: changed=%v err=%v", changed, err)
		}
	}
}

// BenchmarkRegistryList lists a service with 10 instances in a registry of
// 1,000.
func BenchmarkRegistryList(b *testing.B) {
	r := benchRegistry(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if n := len(r.List("svc-042")); n != 10 {
			b.Fatalf("List = %d instances, want 10", n)
		}
	}
}

// BenchmarkFederationApplyDelta applies puts with new versions of the
// entries of a region view holding 1,000.
func BenchmarkFederationApplyDelta(b *testing.B) {
	f := newFederation(time.Minute)
	names, addrs := benchInstances()
	var keys []entryKey
	for s, name := range names {
		for _, a := range addrs[s] {
			keys = append(keys, entryKey{name, a})
			f.applyPut("sfo", put(name, a, 1))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := keys[i%len(keys)]
		e := remoteEntry{Name: k.name, Address: k.address, TTL: time.Minute, Version: uint64(2 + i), Confirmed: t0}
		if !f.applyPut("sfo", e) {
			b.Fatalf("put of version %d not applied", e.Version)
		}
	}
}

// BenchmarkDecodeMessage decodes and validates one delta.
func BenchmarkDecodeMessage(b *testing.B) {
	msg := encodeMessage(msgDelta, &deltaMsg{
		Region: "sfo",
		Entry:  wireEntry{Name: "storage", Address: "10.0.0.1:10600", TTLms: 15000, Version: uint64(t0.UnixNano())},
		SentAt: t0.UnixNano(),
	})
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := decodeMessage(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerList serves GET /v1/services/{name} in process for a
// service with 10 local instances. The federated sub-benchmark adds 2,000
// entries of two other regions to the state (BenchmarkDiscoveryList's nyc
// holds about 1,333): List scans every federated entry.
func BenchmarkHandlerList(b *testing.B) {
	s := startServer(b, Config{})
	for k := range 10 {
		if _, _, err := s.Registry().Put("web", fmt.Sprintf("127.0.0.1:%d", 8080+k), time.Minute, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	h := s.Handler()
	run := func(b *testing.B) {
		req := httptest.NewRequest(http.MethodGet, "/v1/services/web", nil)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("GET = %d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("local", run)

	s.mu.Lock()
	for i := range 2000 {
		region := []string{"nyc", "ams"}[i%2]
		s.fed.applyPut(region, remoteEntry{Name: fmt.Sprintf("svc-%03d", i%200), Address: fmt.Sprintf("10.2.%d.%d:8080", i/250, 1+i%250),
			TTL: time.Hour, Version: 1, Confirmed: time.Now()})
	}
	s.mu.Unlock()
	b.Run("federated-2000", run)
}
