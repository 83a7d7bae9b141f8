package resp

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// asyncHandler adds ASET (Write, asynchronous) to testHandler: it completes
// when the test releases it, in any order the test chooses.
type asyncHandler struct {
	*testHandler
	mu      sync.Mutex
	pending []func() // guarded by mu: completions not run yet
	started chan struct{}
}

var _ AsyncHandler = (*asyncHandler)(nil)

func (h *asyncHandler) Class(args [][]byte) Class {
	if strings.EqualFold(string(args[0]), "ASET") {
		return Write
	}
	return h.testHandler.Class(args)
}

func (h *asyncHandler) Async(args [][]byte) bool { return strings.EqualFold(string(args[0]), "ASET") }

func (h *asyncHandler) ExecAsync(_ context.Context, _ *Conn, args [][]byte, done func([]byte)) {
	key, value := string(args[1]), string(args[2])
	h.mu.Lock()
	h.pending = append(h.pending, func() {
		h.testHandler.mu.Lock()
		h.testHandler.data[key] = value
		h.testHandler.mu.Unlock()
		done(AppendOK(nil))
	})
	h.mu.Unlock()
	h.started <- struct{}{}
}

// TestAsyncCommandsStartTogether: every ASET of a pipeline starts before
// any completes (no goroutine each, no waiting on the one before); replies
// come in command order whatever the completion order; a GET behind them
// waits for them and sees their writes.
func TestAsyncCommandsStartTogether(t *testing.T) {
	h := &asyncHandler{testHandler: newTestHandler(), started: make(chan struct{}, 16)}
	ts := startServer(t, h, Config{})
	nc := dial(t, ts.addr())
	send(t, nc, frame("ASET", "a", "1")+frame("ASET", "b", "2")+frame("ASET", "c", "3")+frame("GET", "b"))
	for range 3 {
		<-h.started // all three started while none has completed
	}
	h.mu.Lock()
	pending := h.pending
	h.mu.Unlock()
	for i := len(pending) - 1; i >= 0; i-- { // complete in reverse order
		pending[i]()
	}
	expect(t, nc, "+OK\r\n+OK\r\n+OK\r\n$1\r\n2\r\n")
}
