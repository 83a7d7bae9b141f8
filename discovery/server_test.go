package discovery

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// TestTwoServersFederateAndStopCleanly runs two regions in one process on
// real sockets: a registration crosses over with its address rewritten, and
// when both stop every goroutine they started is gone.
func TestTwoServersFederateAndStopCleanly(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		sfo := newServer(t, "sfo", "127.0.0.1", nil)
		nyc := newServer(t, "nyc", "127.0.0.1", []string{sfo.srv.Addr()})
		pt.WaitFor(t, 10*time.Second, "nyc and sfo see each other", func() bool {
			return len(alive(sfo.srv)) == 2 && len(alive(nyc.srv)) == 2
		})
		now := time.Now()
		e, _, _ := sfo.srv.registry.Put("web", "localhost:8080", time.Minute, now)
		sfo.srv.broadcastPut(e, now)
		pt.WaitFor(t, 5*time.Second, "nyc lists sfo's web", func() bool {
			l := nyc.srv.List("web")
			return len(l) == 1 && l[0].Address == "127.0.0.1:8080" && l[0].Region == "sfo" && !l[0].Local
		})
		if l := nyc.srv.ListLocal("web"); len(l) != 0 {
			t.Errorf("nyc ListLocal = %v", l)
		}
		nyc.stop()
		pt.WaitFor(t, 5*time.Second, "sfo sees nyc leave", func() bool {
			for _, r := range sfo.srv.Regions() {
				if r.Name == "nyc" {
					return r.State == "left"
				}
			}
			return false
		})
		sfo.stop()
	}()
	pt.WaitFor(t, 10*time.Second, "goroutines return to their number before the servers", func() bool {
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

func TestRegionStates(t *testing.T) {
	now := t0
	s, err := New(Config{Region: "sfo", WGIP: net.ParseIP("127.0.0.1"), Port: -1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.closeListeners()
	ip := net.ParseIP("127.0.0.2")
	s.regions["nyc"] = regionState{ip: ip, port: 10200, state: "alive", since: t0, lastHeard: t0}
	s.regions["ams"] = regionState{ip: ip, port: 10201, state: "alive", since: t0, lastHeard: t0}
	s.regions["lon"] = regionState{ip: ip, port: 10202, state: "dead", since: t0}
	states := func() map[string]string {
		out := map[string]string{}
		for _, r := range s.Regions() {
			out[r.Name] = r.State
		}
		return out
	}
	since := func() map[string]time.Duration {
		out := map[string]time.Duration{}
		for _, r := range s.Regions() {
			out[r.Name] = r.Since.Sub(t0)
		}
		return out
	}
	if got := fmt.Sprint(since()); got != "map[ams:0s lon:0s nyc:0s sfo:0s]" {
		t.Fatalf("since at 0s: %s", got)
	}
	// Two alive peers: each is probed every 2 intervals; suspect after two
	// missed rounds plus a probe timeout: 2*2*1.5s + 1s = 7s.
	now = t0.Add(7 * time.Second)
	s.heard("ams")
	if got := fmt.Sprint(states()); got != "map[ams:alive lon:dead nyc:alive sfo:alive]" {
		t.Fatalf("at 7s: %s", got)
	}
	now = t0.Add(7*time.Second + time.Millisecond)
	if got := fmt.Sprint(states()); got != "map[ams:alive lon:dead nyc:suspect sfo:alive]" {
		t.Fatalf("at 7.001s: %s", got)
	}
	// nyc became suspect when its silence passed 7s; sfo has been alive
	// since New.
	if got := fmt.Sprint(since()); got != "map[ams:0s lon:0s nyc:7s sfo:0s]" {
		t.Fatalf("since at 7.001s: %s", got)
	}
	now = t0.Add(8 * time.Second)
	s.heard("nyc") // back from suspect: alive again since now
	if got := fmt.Sprint(states(), since()); got != "map[ams:alive lon:dead nyc:alive sfo:alive] map[ams:0s lon:0s nyc:8s sfo:0s]" {
		t.Fatalf("at 8s, nyc heard: %s", got)
	}
	now = t0.Add(9 * time.Second)
	s.heard("ams") // heard in time: still alive since it joined
	if got := fmt.Sprint(since()); got != "map[ams:0s lon:0s nyc:8s sfo:0s]" {
		t.Fatalf("since at 9s, ams heard: %s", got)
	}
	s.heard("lon") // a dead region's late message does not revive it
	if states()["lon"] != "dead" {
		t.Fatal("heard revived a dead region")
	}
	if s.numMembers() != 3 {
		t.Fatalf("numMembers = %d, want 3 (sfo, nyc, ams)", s.numMembers())
	}
}

func TestMemberlistLogLevels(t *testing.T) {
	var buf bytes.Buffer
	w := memberlistLogWriter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, line := range []string{"[DEBUG] memberlist: a", "[WARN] memberlist: b", "[ERR] memberlist: c", "plain"} {
		w.Write([]byte(line + "\n"))
	}
	for _, want := range []string{"level=DEBUG msg=a", "level=WARN msg=b", "level=ERROR msg=c", "level=INFO msg=plain"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}
