package caching

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// startServer runs a Server on a free loopback port until the test ends.
func startServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	cfg.Port = -1
	if cfg.Discovery == nil {
		cfg.Discovery = &fakeDiscovery{region: cfg.Region}
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	pt.WaitFor(tb, 10*time.Second, "the warm start", func() bool { return !s.Loading() })
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("Run did not return after its context ended")
		}
	})
	return s
}

// inline sends line as an inline command and returns the reply's first
// line.
func inline(tb testing.TB, c net.Conn, r *bufio.Reader, line string) string {
	tb.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\r\n")); err != nil {
		tb.Fatal(err)
	}
	reply, err := r.ReadString('\n')
	if err != nil {
		tb.Fatalf("%s: %v", line, err)
	}
	return strings.TrimSuffix(reply, "\r\n")
}

func TestServerServesRESP(t *testing.T) {
	s := startServer(t, Config{MaxMemory: 1 << 20, Policy: NoEviction})
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, tc := range []struct{ cmd, want string }{
		{"PING", "+PONG"},
		{"SET greeting hello EX 100", "+OK"},
		{"STRLEN greeting", ":5"},
		{"TTL greeting", ":100"},
		{"CONFIG SET maxmemory 2mb", "+OK"},
		{"CONFIG SET maxmemory-policy volatile-lru", "+OK"},
		{"CONFIG SET maxmemory-policy lfu", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, allkeys-lru, allkeys-random, noeviction"},
		{"NOSUCH x", "-ERR unknown command 'NOSUCH', with args beginning with: 'x' "},
	} {
		if got := inline(t, c, r, tc.cmd); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.cmd, got, tc.want)
		}
	}
	if got := s.Store().MaxMemory(); got != 2<<20 {
		t.Errorf("MaxMemory() = %d after CONFIG SET maxmemory 2mb", got)
	}
	if got := s.Store().Policy(); got != VolatileLRU {
		t.Errorf("Policy() = %s after CONFIG SET", got)
	}
	info := readInfo(t, c, r)
	for _, want := range []string{"planet_service:caching", "# Memory", "maxmemory_policy:volatile-lru",
		"# Keyspace", "db0:keys=1,expires=1,avg_ttl=0", "keyspace_hits:1"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
}

// readInfo returns the text of INFO.
func readInfo(tb testing.TB, c net.Conn, r *bufio.Reader) string {
	tb.Helper()
	header := inline(tb, c, r, "INFO")
	n, err := strconv.Atoi(strings.TrimPrefix(header, "$"))
	if err != nil {
		tb.Fatalf("INFO: %q", header)
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(r, buf); err != nil {
		tb.Fatal(err)
	}
	return string(buf)
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Port: -1, MaxMemory: -1},
		{Port: -1, Policy: "lfu"},
		{Port: -1, Node: "Bad Node"},
		{Port: 70000},
		{Port: -1, AdminPort: 70000},
		{Port: -1, MaxClients: -1},
		{Port: -1, IdleTimeout: -time.Second},
	} {
		cfg.Discovery = &fakeDiscovery{}
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
