package discovery

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"planet/discovery/api"
)

// FuzzDecodeMessage: no gossip message panics the decoder, and every
// accepted message re-encodes to one that decodes to the same value.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(encodeMessage(msgDelta, &deltaMsg{Region: "sfo", Entry: wireEntry{"web", "10.0.0.1:80", 15000, 7}, SentAt: 1}))
	f.Add(encodeMessage(msgDelta, &deltaMsg{Region: "sfo", Delete: true, Entry: wireEntry{"web", "10.0.0.1:80", 0, 8}}))
	f.Add(encodeMessage(msgDigest, &digestMsg{Region: "nyc", Version: 3, Count: 1, Hash: 99}))
	f.Add(encodeMessage(msgSnapshot, &snapshotMsg{Region: "ams", Version: 9, Entries: []wireEntry{{"a", "b:1", 1000, 1}}, Reply: true}))
	f.Add(encodeMessage(msgSyncRequest, &syncRequestMsg{Region: "sfo"}))
	f.Add(encodeMessage(msgLeave, &leaveMsg{Region: "ams"}))
	f.Add([]byte{9, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := decodeMessage(b)
		if err != nil {
			return
		}
		again, err := decodeMessage(encodeMessage(msgType(b[0]), msg))
		if err != nil || !reflect.DeepEqual(msg, again) {
			t.Fatalf("round trip: %#v -> %#v (%v)", msg, again, err)
		}
	})
}

// FuzzAPI drives the HTTP API with arbitrary methods, paths and bodies: no
// request panics the server, every rejection is a 4xx, and only a 200 PUT
// may add an entry.
func FuzzAPI(f *testing.F) {
	f.Add(uint8(0), "/v1/services/web", []byte(`{"address":"127.0.0.1:1","ttl":"15s"}`))
	f.Add(uint8(1), "/v1/services/web", []byte{})
	f.Add(uint8(2), "/v1/services/web?address=127.0.0.1:1", []byte{})
	f.Add(uint8(1), "/v1/services/web?scope=local", []byte{})
	f.Add(uint8(1), "/v1/regions", []byte{})
	f.Add(uint8(3), "/v1/services/%zz", []byte("{"))
	s := startServer(f, Config{})
	h := s.Handler()
	methods := []string{"PUT", "GET", "DELETE", "POST", "HEAD"}
	f.Fuzz(func(t *testing.T, m uint8, path string, body []byte) {
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://x"+path, bytes.NewReader(body))
		if err != nil || req.URL.Path == "/metrics" || req.URL.Path == "/health" {
			return
		}
		before := s.Registry().Len()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code >= 500 && rec.Code != http.StatusInsufficientStorage:
			t.Fatalf("%s %q: %d %s", req.Method, path, rec.Code, rec.Body)
		case rec.Code != 200 && s.Registry().Len() > before:
			t.Fatalf("%s %q: %d but the registry grew", req.Method, path, rec.Code)
		}
	})
}

// FuzzLoadRegistrations: no file panics the loader; an accepted file has
// only valid, unique, live entries, and writing them out again loads the
// same entries.
func FuzzLoadRegistrations(f *testing.F) {
	const addr = "10.0.0.1:10200"
	f.Add(encodeRegistrations("sfo", addr, []Entry{
		{Name: "web", Address: "127.0.0.1:8080", TTL: 15 * time.Second, Version: 3, LastSeen: t0},
		{Name: "db", Address: "[::1]:5432", TTL: time.Hour, Version: 9, LastSeen: t0.Add(-time.Minute)},
	}, t0))
	f.Add(encodeRegistrations("sfo", addr, nil, t0))
	f.Add([]byte(`{"format":1,"region":"sfo","addr":"10.0.0.1:10200","entries":[{"name":"a","address":"h:1","ttl_ms":1000,"version":1,"expires":"2026-11-21T12:00:00.5+01:00"}]}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		live, _, err := decodeRegistrations(data, "sfo", addr, t0)
		if err != nil {
			if !errors.Is(err, ErrBadRegistrations) {
				t.Fatalf("error %v does not wrap ErrBadRegistrations", err)
			}
			return
		}
		seen := map[entryKey]bool{}
		for _, e := range live {
			if api.ValidateName(e.Name) != nil || api.ValidateAddress(e.Address) != nil || e.TTL < api.MinTTL ||
				e.TTL > api.MaxTTL || e.Version == 0 || e.expired(t0) || seen[entryKey{e.Name, e.Address}] {
				t.Fatalf("accepted a bad entry %+v from %q", e, data)
			}
			seen[entryKey{e.Name, e.Address}] = true
		}
		again, expired, err := decodeRegistrations(encodeRegistrations("sfo", addr, live, t0), "sfo", addr, t0)
		if err != nil || expired != 0 || len(again) != len(live) {
			t.Fatalf("round trip of %+v: %+v, %d expired, %v", live, again, expired, err)
		}
		byKey := map[entryKey]Entry{}
		for _, e := range live {
			byKey[entryKey{e.Name, e.Address}] = e
		}
		for _, e := range again {
			w := byKey[entryKey{e.Name, e.Address}]
			if w.TTL != e.TTL || w.Version != e.Version || !w.LastSeen.Equal(e.LastSeen) {
				t.Fatalf("round trip changed %+v into %+v", w, e)
			}
		}
	})
}
