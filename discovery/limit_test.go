package discovery

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// keepAliveConn is a raw HTTP/1.1 connection that stays open between
// requests, so that it holds its place under the connection cap.
type keepAliveConn struct {
	net.Conn
	r *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAliveConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAliveConn{Conn: c, r: bufio.NewReader(c)}
}

// get sends GET path and returns the reply's status, or an error.
func (c *keepAliveConn) get(path string) (int, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: discovery\r\n\r\n", path); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestConnectionCap: with MaxConns open, a new connection is closed at
// once (not left hanging) while the open ones are still served; when one
// closes, a new one gets in.
func TestConnectionCap(t *testing.T) {
	s := startServer(t, Config{MaxConns: 2})
	http.DefaultClient.CloseIdleConnections() // startServer's health checks
	pt.WaitFor(t, 5*time.Second, "no connection open", func() bool { return s.limit.open.Load() == 0 })

	c1, c2 := dialKeepAlive(t, s.Addr()), dialKeepAlive(t, s.Addr())
	for _, c := range []*keepAliveConn{c1, c2} {
		if code, err := c.get("/health"); err != nil || code != 200 {
			t.Fatalf("GET /health under the cap = %d, %v", code, err)
		}
	}

	c3 := dialKeepAlive(t, s.Addr()) // the kernel accepts it; discovery closes it
	start := time.Now()
	_, err := c3.get("/health")
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection over the cap got %v, want it closed", err)
	}
	t.Logf("over the cap: %v after %v", err, time.Since(start))
	if code, err := c1.get("/v1/services/web"); err != nil || code != 200 {
		t.Fatalf("an open connection at the cap: %d, %v", code, err)
	}
	if n := s.metrics.connsRejected.Value(); n != 1 {
		t.Errorf("connections rejected = %v, want 1", n)
	}

	c1.Close()
	pt.WaitFor(t, 5*time.Second, "the closed connection's place is free", func() bool { return s.limit.open.Load() == 1 })
	if code, err := dialKeepAlive(t, s.Addr()).get("/health"); err != nil || code != 200 {
		t.Fatalf("a new connection after one closed: %d, %v", code, err)
	}
}
