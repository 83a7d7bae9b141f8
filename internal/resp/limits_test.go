package resp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMaxClients: a connection beyond maxclients gets Redis's error and is
// closed; the others are served; CONFIG SET maxclients raises the cap.
func TestMaxClients(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{MaxClients: 2})
	a, b := dial(t, ts.addr()), dial(t, ts.addr())
	ra, rb := bufio.NewReader(a), bufio.NewReader(b)
	for _, c := range []struct {
		nc net.Conn
		r  *bufio.Reader
	}{{a, ra}, {b, rb}} {
		send(t, c.nc, frame("PING"))
		if got := readLine(t, c.r); got != "+PONG\r\n" {
			t.Fatalf("PING = %q", got)
		}
	}
	over := dial(t, ts.addr())
	expect(t, over, "-ERR max number of clients reached\r\n")
	expectClosed(t, over)
	send(t, a, frame("INFO", "stats"))
	if info, err := readReply(ra); err != nil || !strings.Contains(info, "rejected_connections:1\r\n") {
		t.Errorf("INFO stats = %q, %v", info, err)
	}
	send(t, b, frame("CONFIG", "SET", "maxclients", "3"))
	if got := readLine(t, rb); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET maxclients = %q", got)
	}
	if got := exchange(t, ts.addr(), cmd("PING"), cmd("CONFIG GET maxclients")); got[0] != "+PONG\r\n" ||
		got[1] != "*2\r\n$10\r\nmaxclients\r\n$1\r\n3\r\n" {
		t.Errorf("after CONFIG SET maxclients 3: %q", got)
	}
	if ts.RejectedConnections() != 1 || ts.MaxClients() != 3 {
		t.Errorf("RejectedConnections %d, MaxClients %d", ts.RejectedConnections(), ts.MaxClients())
	}
	send(t, a, frame("CONFIG", "SET", "maxclients", "0"))
	if got := readLine(t, ra); got != "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n" {
		t.Errorf("CONFIG SET maxclients 0 = %q", got)
	}
}

// quiet checks that nc stays open and silent for d: a read times out on
// the client's deadline (a bounded wait, not a synchronisation).
func quiet(tb testing.TB, nc net.Conn, d time.Duration) {
	tb.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	var buf [64]byte
	n, err := nc.Read(buf[:])
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		tb.Fatalf("read %q, %v; want the connection open and silent", buf[:n], err)
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
}

// closedWithin waits until the server closes nc, silently.
func closedWithin(tb testing.TB, nc net.Conn, d time.Duration) {
	tb.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	rest, err := io.ReadAll(nc)
	if err != nil && !isReset(err) {
		tb.Fatalf("waiting for the close: %v", err)
	}
	if len(rest) > 0 {
		tb.Fatalf("read %q before the close", rest)
	}
}

// TestIdleTimeout: an idle connection is closed after the timeout; with
// timeout 0 it is not; CONFIG SET timeout applies to open connections.
func TestIdleTimeout(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{IdleTimeout: 200 * time.Millisecond})
	nc := dial(t, ts.addr())
	send(t, nc, frame("PING"))
	expect(t, nc, "+PONG\r\n")
	start := time.Now()
	closedWithin(t, nc, 5*time.Second)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("closed after %v, before the timeout", d)
	}
	waitFor(t, "the server forgets the connection", func() bool { return ts.Connections() == 0 })

	if got := exchange(t, ts.addr(), cmd("CONFIG SET timeout 0"), cmd("CONFIG GET timeout")); got[0] != "+OK\r\n" ||
		got[1] != "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n" {
		t.Fatalf("CONFIG SET timeout 0: %q", got)
	}
	open := dial(t, ts.addr())
	quiet(t, open, 500*time.Millisecond)
	send(t, open, frame("PING"))
	expect(t, open, "+PONG\r\n")

	// Set on an open connection, the timeout applies to it.
	send(t, open, frame("CONFIG", "SET", "timeout", "1"))
	expect(t, open, "+OK\r\n")
	closedWithin(t, open, 5*time.Second)
	if got := ts.IdleTimeout(); got != time.Second {
		t.Errorf("IdleTimeout = %v", got)
	}
}

// TestIdleTimeoutSparesBusyConnections: a connection waiting for a slow
// command, run on its reader (Serial) or pipelined (Read, on workers),
// is not idle.
func TestIdleTimeoutSparesBusyConnections(t *testing.T) {
	m, err := NewMux(MuxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	block := func(ctx context.Context, _ *Conn, _ [][]byte) []byte {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return okReply
	}
	m.Register(Command{Name: "block", Arity: 1, Class: Serial, Run: block})
	m.Register(Command{Name: "rblock", Arity: 1, Class: Read, Run: block})
	ts := startServer(t, m, Config{IdleTimeout: 100 * time.Millisecond})

	serial := dial(t, ts.addr())
	send(t, serial, frame("BLOCK"))
	piped := dial(t, ts.addr())
	send(t, piped, frame("RBLOCK")+frame("RBLOCK"))
	quiet(t, serial, 500*time.Millisecond)
	quiet(t, piped, 10*time.Millisecond)
	close(release)
	expect(t, serial, "+OK\r\n")
	expect(t, piped, "+OK\r\n+OK\r\n")
	closedWithin(t, serial, 5*time.Second) // idle now
	closedWithin(t, piped, 5*time.Second)
}

func TestLimitsConfigValidation(t *testing.T) {
	for _, cfg := range []Config{{Addr: "127.0.0.1:0", MaxClients: -1}, {Addr: "127.0.0.1:0", IdleTimeout: -time.Second}} {
		if _, err := Listen(cfg, benchHandler{}); err == nil {
			t.Errorf("Listen(%+v) succeeded", cfg)
		}
	}
}
