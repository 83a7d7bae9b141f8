package resp

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestCloseWaitsForCommands: Close stops accepting, closes connections,
// cancels running commands and returns only once they have returned; Run
// then returns nil.
func TestCloseWaitsForCommands(t *testing.T) {
	before := runtime.NumGoroutine()
	h := newTestHandler()
	var returned atomic.Bool
	m, err := NewMux(MuxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m.Register(Command{Name: "slow", Arity: 1, Class: Write, Run: func(ctx context.Context, c *Conn, args [][]byte) []byte {
		reply := h.slow(ctx)
		time.Sleep(50 * time.Millisecond) // Close must wait for this too
		returned.Store(true)
		return reply
	}})
	srv, err := Listen(Config{Addr: "127.0.0.1:0"}, m)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(context.Background()) }()

	idle := dial(t, srv.Addr().String())
	busy := dial(t, srv.Addr().String())
	send(t, busy, frame("SLOW"))
	<-h.slowStarted

	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !returned.Load() {
		t.Error("Close returned before the running command")
	}
	if n := h.slowCancelled.Load(); n != 1 {
		t.Errorf("%d commands saw their context cancelled, want 1", n)
	}
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	expectClosed(t, idle)
	if _, err := net.DialTimeout("tcp", srv.Addr().String(), time.Second); err == nil {
		t.Error("the server still accepts after Close")
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("Connections() = %d after Close", n)
	}

	// A second Close is a no-op that returns at once.
	start := time.Now()
	if err := srv.Close(); err != nil || time.Since(start) > time.Second {
		t.Errorf("second Close: %v after %v", err, time.Since(start))
	}
	idle.Close()
	busy.Close()
	waitFor(t, "goroutines back to their number before the server", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

// TestCloseBeforeRun releases the listener; Run then fails with
// ErrServerClosed, and Close stays idempotent.
func TestCloseBeforeRun(t *testing.T) {
	srv, err := Listen(Config{Addr: "127.0.0.1:0"}, newTestHandler())
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr().String()
	srv.Close()
	srv.Close()
	if err := srv.Run(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Run after Close: %v, want ErrServerClosed", err)
	}
	srv.Close() // after Run returned: does not block
	again, err := Listen(Config{Addr: addr}, newTestHandler())
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	again.Close()
}

// TestCloseConcurrent: Close from several goroutines while Run runs; each
// returns after the server stopped.
func TestCloseConcurrent(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	nc := dial(t, ts.addr())
	send(t, nc, "PING\r\n")
	expect(t, nc, "+PONG\r\n")
	done := make(chan struct{}, 4)
	for range 4 {
		go func() {
			ts.Close()
			if ts.Connections() != 0 {
				t.Error("Close returned with connections open")
			}
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	expectClosed(t, nc)
	ts.Stop(t) // Run returned nil
}
