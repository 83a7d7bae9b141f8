// Package storagetest runs a region of storage replicas inside a test
// process: N storage.Servers on loopback ports sharing an in-memory
// Discovery, helpers that wait by polling with a deadline, and a
// goroutine-leak check when the test ends.
//
// It is to internal/planettest what wireguard-go's conn/bindtest is to
// real sockets: the quorum, read-repair, hinted-handoff and anti-entropy
// tests run in a second or less each, without building or starting
// the planet binary, and a test can do what a real discovery cannot (list a
// replica that is gone, hide one that runs).
//
// What it cannot do is crash a replica. Stop cancels the replica's Run,
// which deregisters it and closes its data files cleanly; StopListed does
// the same but leaves it listed, as a dead process's registration is until
// its TTL expires. An in-process SIGKILL is impossible (nothing unsynced
// is lost, no torn WAL tail is left), and so is a SIGSTOP: the tests that
// need a process to die or freeze stay in internal/e2e.
//
// A test of W=3 with a replica down:
//
//	r := storagetest.NewRegion(t, 3, func(c *storage.Config) { c.W = 3 })
//	r.StopListed(2)
//	_, err := r.Do(0, "SET", "k", "v")
//	// err is a *peer.ReplyError: "NOQUORUM write: 2 of 3 required replicas
//	// acknowledged (3 known)"
//
// The harness talks to replicas with internal/peer's client (Client, Do):
// outside tests, go-redis belongs to internal/peer alone. Tests may use
// go-redis against Addr.
package storagetest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"planet/internal/peer"
	pt "planet/internal/planettest"
	"planet/internal/secret"
	"planet/storage"
)

// RegionName is the region of a Region's replicas; their versions' nodes
// are "sfo-<port>".
const RegionName = "sfo"

// Settings of every Region's replicas, unless an option changes them.
const (
	PeerRefresh   = 50 * time.Millisecond
	QuorumTimeout = time.Second
)

// Deadlines of the waiting helpers.
const (
	// WaitTimeout bounds each Wait helper.
	WaitTimeout = 10 * time.Second
	// StopTimeout bounds Stop: a replica's Run must return within it.
	StopTimeout = 10 * time.Second
	// DoTimeout bounds one command sent by Do and the helpers built on it.
	DoTimeout = 5 * time.Second
)

// Region is N storage replicas of one region in this process. Its methods
// take the replica's index, 0 to N-1. They are safe for concurrent use,
// but start and stop a replica from one goroutine at a time.
type Region struct {
	tb   testing.TB
	disc *Discovery
	sec  *secret.Secret
	dir  string
	logs *pt.SyncBuffer
	http *http.Client

	mu        sync.Mutex
	replicas  []*replica // fixed by NewRegion; their fields are guarded by mu
	skipLeaks bool       // guarded by mu
}

// replica is one storage.Server and what restarts it.
type replica struct {
	cfg    storage.Config     // Port and AdminPort fixed after the first start
	addr   string             // RESP address, once started
	srv    *storage.Server    // nil while stopped
	cancel context.CancelFunc // ends srv's Run
	done   chan error         // Run's result
	pinned bool               // listed in discovery while stopped (StopListed)
	client *peer.Client       // created by Client; kept across restarts
}

// NewRegion starts n replicas on free ports of 127.0.0.1, with their data
// under tb.TempDir(), and waits until each coordinates with all the
// others. Their Config is: region RegionName, the Region's Discovery,
// PeerRefresh and QuorumTimeout as the constants, anti-entropy off
// (AntiEntropyInterval -1), the Region's platform secret (see Secret), a
// logger whose output the test prints if it fails; then each option
// applies, in order. When the test ends the
// replicas stop and the goroutine-leak check runs (see CheckGoroutines and
// SkipLeakCheck).
func NewRegion(tb testing.TB, n int, opts ...func(*storage.Config)) *Region {
	tb.Helper()
	r := &Region{
		tb:   tb,
		disc: NewDiscovery(RegionName),
		sec:  secret.Random(),
		dir:  tb.TempDir(), // before Cleanup: removed after the replicas stop
		logs: &pt.SyncBuffer{},
		http: &http.Client{Timeout: DoTimeout, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	tb.Cleanup(r.cleanup)
	for i := range n {
		cfg := storage.Config{
			Region: RegionName, Port: -1, AdminPort: -1, DataDir: r.dir, Discovery: r.disc,
			PeerRefresh: PeerRefresh, QuorumTimeout: QuorumTimeout, AntiEntropyInterval: -1, HintReplayInterval: PeerRefresh,
			Secret: r.sec,
		}
		for _, o := range opts {
			o(&cfg)
		}
		if cfg.Logger == nil {
			h := slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo})
			cfg.Logger = slog.New(h).With("replica", i)
		}
		r.replicas = append(r.replicas, &replica{cfg: cfg})
	}
	for i := range n {
		r.Start(i)
	}
	r.WaitDiscovered()
	return r
}

// Secret is the platform secret of the Region's replicas (a random one),
// with which the harness's clients authenticate as the platform.
func (r *Region) Secret() *secret.Secret { return r.sec }

// DataDir is the replicas' DataDir.
func (r *Region) DataDir() string { return r.dir }

// Logs returns what the replicas logged so far.
func (r *Region) Logs() string { return r.logs.String() }

// Len returns the number of replicas, running or not.
func (r *Region) Len() int { return len(r.replicas) }

// Discovery returns the region's discovery, which a test may change.
func (r *Region) Discovery() *Discovery { return r.disc }

// Replica returns replica i's server, nil while it is stopped.
func (r *Region) Replica(i int) *storage.Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replicas[i].srv
}

// Addr returns replica i's RESP address, which stays the same across
// restarts.
func (r *Region) Addr(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replicas[i].addr
}

// Running reports whether replica i runs.
func (r *Region) Running(i int) bool { return r.Replica(i) != nil }

// SkipLeakCheck turns off the goroutine-leak check of this Region's test,
// for a test that leaves goroutines on purpose.
func (r *Region) SkipLeakCheck() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skipLeaks = true
}

// Start starts replica i: New with its Config (the same port and data
// directory as before, after a stop), then Run. It returns once the
// replica is registered in discovery.
func (r *Region) Start(i int) {
	r.tb.Helper()
	r.mu.Lock()
	rep := r.replicas[i]
	if rep.srv != nil {
		r.mu.Unlock()
		r.tb.Fatalf("replica %d: started while running", i)
	}
	cfg := rep.cfg
	r.mu.Unlock()
	s, err := storage.New(cfg)
	if err != nil {
		r.tb.Fatalf("replica %d: %v", i, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	running.Add(1)
	go func() { done <- s.Run(ctx) }()
	r.mu.Lock()
	rep.cfg.Port, rep.cfg.AdminPort = port(s.Addr()), port(s.AdminAddr())
	rep.addr = s.Addr()
	rep.srv, rep.cancel, rep.done = s, cancel, done
	pinned := rep.pinned
	rep.pinned = false
	r.mu.Unlock()
	pt.WaitFor(r.tb, WaitTimeout, fmt.Sprintf("replica %d to register", i), func() bool {
		return r.disc.isRegistered("storage", s.Addr())
	})
	if pinned {
		r.disc.Unpin("storage", s.Addr())
	}
}

// Stop stops replica i gracefully: its Run returns, having deregistered
// it from discovery and closed its data files.
func (r *Region) Stop(i int) {
	r.tb.Helper()
	if err := r.stop(i, false); err != nil {
		r.tb.Fatal(err)
	}
}

// StopListed stops replica i as Stop does, but discovery goes on listing
// it until it starts again: to its peers it looks like a replica that
// crashed and whose registration has not expired yet. Writes to it fail
// at once (the port is closed), as they do to a killed process.
func (r *Region) StopListed(i int) {
	r.tb.Helper()
	if err := r.stop(i, true); err != nil {
		r.tb.Fatal(err)
	}
}

// Restart stops replica i (Stop) and starts it again (Start).
func (r *Region) Restart(i int) {
	r.tb.Helper()
	r.Stop(i)
	r.Start(i)
}

func (r *Region) stop(i int, listed bool) error {
	r.mu.Lock()
	rep := r.replicas[i]
	s, cancel, done := rep.srv, rep.cancel, rep.done
	if s == nil {
		r.mu.Unlock()
		return fmt.Errorf("replica %d: stopped while not running", i)
	}
	rep.srv = nil
	rep.pinned = listed
	r.mu.Unlock()
	if listed {
		r.disc.Pin("storage", s.Addr())
	}
	cancel()
	select {
	case err := <-done:
		running.Add(-1)
		if err != nil {
			return fmt.Errorf("replica %d: Run: %v", i, err)
		}
		return nil
	case <-time.After(StopTimeout):
		return fmt.Errorf("replica %d: Run did not return within %v of its context's end", i, StopTimeout)
	}
}

// cleanup stops the running replicas, closes the harness's clients,
// prints the logs of a failed test and checks for leaked goroutines.
func (r *Region) cleanup() {
	for i := range r.replicas {
		if r.Running(i) {
			if err := r.stop(i, false); err != nil {
				r.tb.Error(err)
			}
		}
	}
	r.mu.Lock()
	for _, rep := range r.replicas {
		if rep.client != nil {
			rep.client.Close()
		}
	}
	skip := r.skipLeaks
	r.mu.Unlock()
	if r.tb.Failed() {
		r.tb.Logf("--- replica logs ---\n%s", r.logs)
	}
	if !skip {
		CheckGoroutines(r.tb)
	}
}

func port(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}
