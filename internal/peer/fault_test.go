package peer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestRefused checks that a refused dial fails fast with ErrUnavailable
// and opens the backoff window, during which nothing is dialled, and that
// the client recovers after it.
func TestRefused(t *testing.T) {
	checkGoroutines(t)
	addr := freeAddr(t)
	clock := newFakeClock()
	c := newClient(addr, Config{IOTimeout: time.Minute, Backoff: time.Second}, clock.now)
	t.Cleanup(func() { c.Close() })

	if !c.Available() {
		t.Fatal("Available() = false before any command")
	}
	start := time.Now()
	_, err := do(t, c, "PING")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Do to a refused port: err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Do to a refused port took %v", took)
	}
	if c.Available() {
		t.Fatal("Available() = true right after a refused dial")
	}
	// More windows with a refused dial each: enough to trip go-redis's own
	// dial-failure latch, if this package did not keep it out of the way.
	for range 5 {
		clock.advance(time.Second)
		if _, err := do(t, c, "PING"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Do to a refused port: err = %v, want ErrUnavailable", err)
		}
	}

	// The peer comes up, but the window is still open: no dial.
	peer := startFakePeer(t, addr, answerOK)
	clock.advance(999 * time.Millisecond)
	if _, err := do(t, c, "PING"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Do in the backoff window: err = %v, want ErrUnavailable", err)
	}
	if c.Available() {
		t.Fatal("Available() = true in the backoff window")
	}
	if accepted, _ := peer.stats(); accepted != 0 {
		t.Fatalf("peer accepted %d connections during the backoff window", accepted)
	}

	clock.advance(time.Millisecond)
	if !c.Available() {
		t.Fatal("Available() = false after the backoff window")
	}
	if _, err := do(t, c, "PING"); err != nil {
		t.Fatalf("Do after the backoff window: %v", err)
	}
	if !c.Available() {
		t.Fatal("Available() = false after a success")
	}
}

// TestServerRestart kills redis-server under a client, and checks that
// commands fail fast and then work again once it is back.
func TestServerRestart(t *testing.T) {
	srv := startRedis(t)
	c := New(srv.addr, Config{IOTimeout: time.Minute, Backoff: 20 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	if _, err := do(t, c, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}

	srv.stop()
	start := time.Now()
	_, err := do(t, c, "GET", "k")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Do with the server killed: err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Do with the server killed took %v", took)
	}

	srv.start()
	waitFor(t, 10*time.Second, "client to work again", func() bool {
		_, err := do(t, c, "PING")
		return err == nil
	})
	if !c.Available() {
		t.Fatal("Available() = false after recovery")
	}
}

// TestQueuedFailFast stalls the only connection with many commands queued
// behind it, then resets it: every command must fail at once, long before
// IOTimeout.
func TestQueuedFailFast(t *testing.T) {
	checkGoroutines(t)
	peer := startFakePeer(t, "", answerNothing)
	c := New(peer.addr(), Config{Conns: 1, MaxBatch: 4, IOTimeout: time.Minute, Backoff: time.Minute})
	t.Cleanup(func() { c.Close() })

	const n = 5 // one in flight, and a full queue behind it
	errs := make(chan error, n)
	var wg sync.WaitGroup
	send := func() {
		wg.Go(func() {
			_, err := do(t, c, "SET", "k", "v")
			errs <- err
		})
	}
	send()
	waitFor(t, 5*time.Second, "first command to reach the peer", func() bool {
		_, cmds := peer.stats()
		return len(cmds) == 1
	})
	for range n - 1 {
		send()
	}
	waitFor(t, 5*time.Second, "the rest to queue", func() bool { return len(c.queue) == n-1 })

	start := time.Now()
	peer.dropConns()
	wg.Wait()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("queued commands took %v to fail", took)
	}
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("err = %v, want ErrUnavailable", err)
		}
	}
	if _, cmds := peer.stats(); len(cmds) != 1 {
		t.Errorf("peer read %d commands, want 1: the queued ones must not be sent", len(cmds))
	}
}

// TestTimeout checks that a caller's deadline ends its wait with
// ErrTimeout, however long the peer takes.
func TestTimeout(t *testing.T) {
	checkGoroutines(t)
	peer := startFakePeer(t, "", answerNothing)
	c := New(peer.addr(), Config{IOTimeout: time.Minute})
	t.Cleanup(func() { c.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, bs("GET", "k")...)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout wrapping context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Do took %v with a 50ms deadline", took)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, bs("GET", "k")...); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: err = %v, want ErrTimeout wrapping context.Canceled", err)
	}
	if !c.Available() {
		t.Fatal("a caller's timeout made the peer unavailable")
	}
}

// TestIOTimeout checks that a peer slower than IOTimeout is a transport
// failure.
func TestIOTimeout(t *testing.T) {
	checkGoroutines(t)
	peer := startFakePeer(t, "", answerNothing)
	c := New(peer.addr(), Config{IOTimeout: 50 * time.Millisecond, Backoff: time.Minute})
	t.Cleanup(func() { c.Close() })

	if _, err := do(t, c, "GET", "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if c.Available() {
		t.Fatal("Available() = true after an I/O timeout")
	}
}

// TestClose checks that Close is idempotent, fails pending and later
// commands with ErrUnavailable, and leaves no goroutine behind.
func TestClose(t *testing.T) {
	checkGoroutines(t)
	peer := startFakePeer(t, "", answerNothing)
	c := New(peer.addr(), Config{Conns: 2, MaxBatch: 1, QueueSize: 2, IOTimeout: time.Minute})

	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := do(t, c, "SET", "k", "v")
			errs <- err
		}()
	}
	waitFor(t, 5*time.Second, "commands to be in flight and queued", func() bool {
		_, cmds := peer.stats()
		return len(cmds) == 2 && len(c.queue) == cap(c.queue)
	})

	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Close took %v", took)
	}
	for range n {
		if err := <-errs; !errors.Is(err, ErrUnavailable) {
			t.Errorf("pending Do: err = %v, want ErrUnavailable", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := do(t, c, "GET", "k"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Do after Close: err = %v, want ErrUnavailable", err)
	}
	if c.Available() {
		t.Fatal("Available() = true after Close")
	}
}

// TestCloseUnused closes a client that never dialled.
func TestCloseUnused(t *testing.T) {
	checkGoroutines(t)
	c := New(freeAddr(t), Config{Conns: 8})
	c.Close()
	c.Close()
}

// TestServerRestartUnderLoad kills and restarts redis-server while many
// goroutines send commands: every command either succeeds or fails with
// ErrUnavailable, and the client recovers.
func TestServerRestartUnderLoad(t *testing.T) {
	checkGoroutines(t)
	srv := startRedis(t)
	c := New(srv.addr, Config{Conns: 3, MaxBatch: 16, IOTimeout: 5 * time.Second, Backoff: 10 * time.Millisecond})
	t.Cleanup(func() { c.Close() })

	stop := make(chan struct{})
	var load sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for range 20 {
		load.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := do(t, c, "INCR", "n")
				kind := "ok"
				switch {
				case errors.Is(err, ErrUnavailable):
					kind = "unavailable"
				case err != nil:
					t.Errorf("unexpected error: %v", err)
					return
				}
				mu.Lock()
				counts[kind]++
				mu.Unlock()
			}
		})
	}
	count := func(kind string) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[kind]
	}
	waitFor(t, 5*time.Second, "some successes", func() bool { return count("ok") > 100 })
	srv.stop()
	waitFor(t, 5*time.Second, "failures", func() bool { return count("unavailable") > 0 })
	srv.start()
	okBefore := count("ok")
	waitFor(t, 10*time.Second, "successes after restart", func() bool { return count("ok") > okBefore+100 })
	close(stop)
	load.Wait()
	t.Logf("outcomes: %v", counts)
}
