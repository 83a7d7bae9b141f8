package storage

import (
	"context"
	"strings"
	"testing"

	pt "planet/internal/planettest"
)

// startServer runs a single replica (W=1, R=1, no discovery) on a free
// loopback port for the length of tb.
func startServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := New(Config{
		Region: "sfo", Port: -1, AdminPort: -1, DataDir: tb.TempDir(), W: 1, R: 1,
		DiscoveryAddr: "127.0.0.1:1", AntiEntropyInterval: -1, MaxValue: 1 << 10,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return s
}

// FuzzServer sends arbitrary bytes to a running replica: whatever they are,
// it answers (replies or a protocol error), closes the connection when the
// client is done, and keeps serving.
func FuzzServer(f *testing.F) {
	for _, seed := range []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"SET a b\r\nGET a\r\nDEL a b c\r\nEXISTS a\r\nMGET a b\r\nDBSIZE\r\n",
		"SCAN 0 MATCH a* COUNT 5\r\nSCAN 99999999999\r\nSCAN 0 COUNT -1\r\n",
		"VGET a\r\nREPL.PUT a b 1.0.sfo-1\r\nREPL.DEL a 2.0.sfo-1\r\nREPL.PUT a b x\r\n",
		"REPL.MPUT a b 1.0.sfo-1 c d 2.0.sfo-1\r\nREPL.MPUT a b\r\nREPL.MDEL a 3.0.sfo-1 c x\r\nMVVER a c z\r\n",
		"REPL.APPLY PUT a b 1.0.nyc-1 DEL c 2.0.nyc-1\r\nREPL.APPLY PUT a\r\nREPL.APPLY SET a b 1.0.nyc-1\r\n",
		"REPL.BUCKET 3\r\nREPL.BUCKET -1\r\nREPL.DIGEST\r\nPEERS\r\nINFO\r\nINFO keyspace\r\n",
		"SELECT 1\r\nCONFIG GET *\r\nCLIENT SETNAME x\r\nHELLO 3\r\nECHO \"a\\x00b\"\r\nQUIT\r\n",
		"*2\r\n$3\r\nGET\r\n$-5\r\n", "*-1\r\n", "$3\r\nabc\r\n", "\"unbalanced\r\n",
		"SET k " + strings.Repeat("v", 2000) + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	s := startServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		pt.RoundTrip(t, s.Addr(), data)
		if got := string(pt.RoundTrip(t, s.Addr(), []byte("PING\r\n"))); got != "+PONG\r\n" {
			t.Fatalf("after %q the server answers PING with %q", data, got)
		}
	})
}
