package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"planet/discovery/api"
	pt "planet/internal/planettest"
)

// fakeDiscovery is a minimal discovery API that records what it is asked.
type fakeDiscovery struct {
	mu      sync.Mutex
	puts    int
	deletes []string
	list    []api.Instance
	fail    bool
}

func (f *fakeDiscovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		http.Error(w, `{"error":"down"}`, http.StatusServiceUnavailable)
		return
	}
	switch r.Method {
	case http.MethodPut:
		var reg api.Registration
		json.NewDecoder(r.Body).Decode(&reg)
		if reg.TTL == "" || reg.Address == "" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(api.Error{Error: "bad registration"})
			return
		}
		f.puts++
	case http.MethodDelete:
		f.deletes = append(f.deletes, r.URL.Query().Get("address"))
	case http.MethodGet:
		if strings.HasSuffix(r.URL.Path, "/bad") {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(api.Error{Error: "no such thing"})
			return
		}
		json.NewEncoder(w).Encode(f.list)
	}
}

func (f *fakeDiscovery) set(fn func(f *fakeDiscovery)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func newTestClient(t *testing.T, cfg Config) (*Client, *fakeDiscovery, *httptest.Server) {
	fake := &fakeDiscovery{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg.Addr = strings.TrimPrefix(srv.URL, "http://")
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, fake, srv
}

func TestRegisterHeartbeatsThenDeregisters(t *testing.T) {
	c, fake, _ := newTestClient(t, Config{TTL: 3 * time.Second}) // heartbeat every 1s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Register(ctx, "web", "127.0.0.1:80") }()
	pt.WaitFor(t, 5*time.Second, "a first registration and a heartbeat", func() bool {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		return fake.puts >= 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Register returned %v", err)
	}
	if len(fake.deletes) != 1 || fake.deletes[0] != "127.0.0.1:80" {
		t.Fatalf("deregistrations = %v", fake.deletes)
	}
}

func TestRegisterRejectsBadInput(t *testing.T) {
	c, _, _ := newTestClient(t, Config{})
	for _, tc := range [][2]string{{"", "127.0.0.1:1"}, {"web", "nope"}, {strings.Repeat("x", 65), "127.0.0.1:1"}, {".", "127.0.0.1:1"}, {"..", "127.0.0.1:1"}} {
		// Bad input returns at once; were it accepted, Register would
		// heartbeat until this context ends and then return nil.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := c.Register(ctx, tc[0], tc[1]); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("Register(%q, %q) = %v, want ErrInvalid", tc[0], tc[1], err)
		}
		cancel()
	}
}

// TestBadNamesNeverSent: every call that takes a service name rejects an
// invalid one with ErrInvalid before asking discovery. "." and ".." matter
// most: as a URL path segment they would address another route.
func TestBadNamesNeverSent(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(api.Error{Error: "no route"})
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{Addr: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"", ".", "..", "a/b", strings.Repeat("x", 65)} {
		for call, err := range map[string]error{
			"RegisterOnce": c.RegisterOnce(ctx, name, "127.0.0.1:1", api.DefaultTTL),
			"Deregister":   c.Deregister(ctx, name, "127.0.0.1:1"),
			"List":         second(c.List(ctx, name)),
			"ListLocal":    second(c.ListLocal(ctx, name)),
		} {
			if !errors.Is(err, api.ErrInvalid) {
				t.Errorf("%s(%q) = %v, want ErrInvalid", call, name, err)
			}
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached discovery", n)
	}
}

func second[T any](_ T, err error) error { return err }

func TestListServesLastAnswerWhileUnreachable(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	c, fake, srv := newTestClient(t, Config{MaxStale: time.Minute, Now: clock})
	fake.set(func(f *fakeDiscovery) {
		f.list = []api.Instance{{Name: "storage", Address: "10.0.0.1:10600", Region: "sfo"}}
	})
	ctx := context.Background()
	if l, err := c.ListLocal(ctx, "storage"); err != nil || len(l) != 1 {
		t.Fatalf("ListLocal = %v, %v", l, err)
	}

	fake.set(func(f *fakeDiscovery) { f.fail = true }) // 503
	if l, err := c.ListLocal(ctx, "storage"); err != nil || len(l) != 1 || l[0].Address != "10.0.0.1:10600" {
		t.Fatalf("ListLocal during a 503 = %v, %v; want the last answer", l, err)
	}
	srv.Close() // unreachable
	if l, err := c.ListLocal(ctx, "storage"); err != nil || len(l) != 1 {
		t.Fatalf("ListLocal while unreachable = %v, %v; want the last answer", l, err)
	}
	if _, err := c.List(ctx, "storage"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("List (other scope, never answered) = %v, want ErrUnavailable", err)
	}
	advance(2 * time.Minute)
	if _, err := c.ListLocal(ctx, "storage"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ListLocal past MaxStale = %v, want ErrUnavailable", err)
	}
}

func TestListDoesNotHideClientErrors(t *testing.T) {
	c, _, _ := newTestClient(t, Config{})
	_, err := c.List(context.Background(), "bad")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Message != "no such thing" {
		t.Fatalf("List = %v, want APIError 400 with the server's message", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without an address succeeded")
	}
	if _, err := New(Config{Addr: "127.0.0.1:1", TTL: time.Millisecond}); err == nil {
		t.Error("New with a 1ms TTL succeeded")
	}
}
