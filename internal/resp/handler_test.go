package resp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"planet/internal/planettest"
)

// testHandler is an in-memory key-value store: GET (Read), SET, DEL, SLOW
// and BYE (Write), PING, ECHO and QUIT (Serial). SLOW blocks until release is
// closed or the server shuts down. It records ordering violations.
type testHandler struct {
	mu   sync.Mutex
	data map[string]string // guarded by mu

	release     chan struct{} // closed to let SLOW return
	slowStarted chan struct{} // gets a value as each SLOW starts

	slowRunning     atomic.Int32
	slowCancelled   atomic.Int32 // SLOWs that returned because ctx ended
	gets            atomic.Int32
	readDuringWrite atomic.Int32 // GETs that ran while a SLOW ran
	serialDuringRun atomic.Int32 // PINGs that ran while a SLOW ran
}

var _ Handler = (*testHandler)(nil)

func newTestHandler() *testHandler {
	return &testHandler{
		data:        make(map[string]string),
		release:     make(chan struct{}),
		slowStarted: make(chan struct{}, 64),
	}
}

func (h *testHandler) Class(args [][]byte) Class {
	switch strings.ToUpper(string(args[0])) {
	case "GET":
		return Read
	case "SET", "DEL", "SLOW", "BYE":
		return Write
	}
	return Serial
}

func (h *testHandler) Exec(ctx context.Context, c *Conn, args [][]byte) []byte {
	name := strings.ToUpper(string(args[0]))
	arity := map[string]int{"GET": 2, "SET": 3, "SLOW": 1, "ECHO": 2, "QUIT": 1}
	if n, ok := arity[name]; ok && len(args) != n || name == "DEL" && len(args) < 2 {
		return ErrWrongArity(args[0])
	}
	switch name {
	case "PING":
		if h.slowRunning.Load() > 0 {
			h.serialDuringRun.Add(1)
		}
		if len(args) > 1 {
			return AppendBulk(nil, args[1])
		}
		return AppendSimple(nil, "PONG")
	case "ECHO":
		return AppendBulk(nil, args[1])
	case "QUIT", "BYE": // BYE is QUIT as a Write, run concurrently
		c.CloseAfterReply()
		return AppendOK(nil)
	case "GET":
		return h.get(string(args[1]))
	case "SET":
		h.mu.Lock()
		defer h.mu.Unlock()
		h.data[string(args[1])] = string(args[2])
		return AppendOK(nil)
	case "DEL":
		return h.del(args[1:])
	case "SLOW":
		return h.slow(ctx)
	}
	return ErrUnknownCommand(args)
}

func (h *testHandler) get(key string) []byte {
	h.gets.Add(1)
	if h.slowRunning.Load() > 0 {
		h.readDuringWrite.Add(1)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.data[key]
	if !ok {
		return AppendNull(nil)
	}
	return AppendBulkString(nil, v)
}

func (h *testHandler) del(keys [][]byte) []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := h.data[string(k)]; ok {
			delete(h.data, string(k))
			n++
		}
	}
	return AppendInt(nil, int64(n))
}

func (h *testHandler) slow(ctx context.Context) []byte {
	h.slowRunning.Add(1)
	defer h.slowRunning.Add(-1)
	h.slowStarted <- struct{}{}
	select {
	case <-h.release:
		return AppendOK(nil)
	case <-ctx.Done():
		h.slowCancelled.Add(1)
		return AppendError(nil, "ERR shutting down")
	}
}

func (h *testHandler) has(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.data[key]
	return ok
}

// testServer is a running server; Stop cancels it and waits for Run.
type testServer struct {
	*Server
	stop     context.CancelFunc
	done     chan error
	stopOnce sync.Once
}

// startServer runs a server for h on 127.0.0.1, stopped at cleanup.
func startServer(tb testing.TB, h Handler, cfg Config) *testServer {
	tb.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv, err := Listen(cfg, h)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: srv, stop: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Run(ctx) }()
	tb.Cleanup(func() { ts.Stop(tb) })
	return ts
}

// Stop cancels the server and waits (up to a deadline) for Run to return.
func (ts *testServer) Stop(tb testing.TB) {
	tb.Helper()
	ts.stopOnce.Do(func() {
		ts.stop()
		select {
		case err := <-ts.done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Fatal("Run did not return within 10s of cancel")
		}
	})
}

func (ts *testServer) addr() string { return ts.Addr().String() }

// dial connects to addr; the connection fails any I/O after 10s and is
// closed at cleanup.
func dial(tb testing.TB, addr string) *net.TCPConn {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	tb.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}

func send(tb testing.TB, nc net.Conn, s string) {
	tb.Helper()
	if _, err := io.WriteString(nc, s); err != nil {
		tb.Fatal(err)
	}
}

// expect reads exactly len(want) bytes and compares them with want.
func expect(tb testing.TB, nc net.Conn, want string) {
	tb.Helper()
	got := make([]byte, len(want))
	n, err := io.ReadFull(nc, got)
	if string(got[:n]) != want {
		tb.Fatalf("read %q (%v), want %q", got[:n], err, want)
	}
}

// expectClosed reads until the server closes the connection, which must
// send nothing more.
func expectClosed(tb testing.TB, nc net.Conn) {
	tb.Helper()
	rest, err := io.ReadAll(nc)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		tb.Fatalf("reading until close: %v", err)
	}
	if len(rest) > 0 {
		tb.Fatalf("read %q, want the connection closed", rest)
	}
}

func isReset(err error) bool { return strings.Contains(err.Error(), "connection reset") }

// frame encodes a command as a multibulk frame.
func frame(args ...string) string {
	b := AppendArray(nil, len(args))
	for _, a := range args {
		b = AppendBulkString(b, a)
	}
	return string(b)
}

// waitFor polls cond with a deadline.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	planettest.WaitFor(tb, 10*time.Second, what, cond)
}

// readLine reads one reply line (for tests that read replies one by one).
func readLine(tb testing.TB, r *bufio.Reader) string {
	tb.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		tb.Fatalf("reading a reply: %v", err)
	}
	return line
}
