package discovery

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestTwoServersFederateAndStopCleanly runs two regions in one process on
// real sockets: a registration crosses over with its address rewritten, and
// when both stop every goroutine they started is gone.
func TestTwoServersFederateAndStopCleanly(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		sfo := newServer(t, "sfo", "127.0.0.1", nil)
		nyc := newServer(t, "nyc", "127.0.0.1", []string{sfo.srv.Addr()})
		waitFor(t, 10*time.Second, "nyc and sfo see each other", func() bool {
			return len(alive(sfo.srv)) == 2 && len(alive(nyc.srv)) == 2
		})
		now := time.Now()
		e, _, _ := sfo.srv.registry.Put("web", "localhost:8080", time.Minute, now)
		sfo.srv.broadcastPut(e, now)
		waitFor(t, 5*time.Second, "nyc lists sfo's web", func() bool {
			l := nyc.srv.List("web")
			return len(l) == 1 && l[0].Address == "127.0.0.1:8080" && l[0].Region == "sfo" && !l[0].Local
		})
		if l := nyc.srv.ListLocal("web"); len(l) != 0 {
			t.Errorf("nyc ListLocal = %v", l)
		}
		nyc.stop()
		waitFor(t, 5*time.Second, "sfo sees nyc leave", func() bool {
			for _, r := range sfo.srv.Regions() {
				if r.Name == "nyc" {
					return r.State == "left"
				}
			}
			return false
		})
		sfo.stop()
	}()
	waitFor(t, 10*time.Second, "goroutines return to their number before the servers", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

type runningServer struct {
	srv  *Server
	stop func()
}

func newServer(t *testing.T, region, ip string, peers []string) runningServer {
	t.Helper()
	s, err := New(Config{Region: region, WGIP: net.ParseIP(ip), BindHost: ip, Port: -1, Peers: peers, Logger: testLogger(t, region)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return runningServer{s, stop}
}

func alive(s *Server) []string {
	var out []string
	for _, r := range s.Regions() {
		if r.State == "alive" {
			out = append(out, r.Name)
		}
	}
	return out
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{WGIP: net.ParseIP("127.0.0.1")},
		{Region: "Sfo", WGIP: net.ParseIP("127.0.0.1")},
		{Region: "sfo"},
		{Region: "sfo", WGIP: net.ParseIP("127.0.0.1"), BindHost: "nowhere"},
		{Region: "sfo", WGIP: net.ParseIP("127.0.0.1"), Peers: []string{"10.0.0.2"}},
		{Region: "sfo", WGIP: net.ParseIP("127.0.0.1"), ProbeInterval: time.Second, ProbeTimeout: 2 * time.Second},
	} {
		if s, err := New(cfg); err == nil {
			s.closeListeners()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func testLogger(t *testing.T, region string) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("region", region)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
