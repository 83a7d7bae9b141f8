package resp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func newGoRedis(tb testing.TB, addr string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 5 * time.Second})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestGoRedis(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	rdb := newGoRedis(t, ts.addr())
	ctx := context.Background()

	if got, err := rdb.Ping(ctx).Result(); got != "PONG" || err != nil {
		t.Fatalf("PING = %q, %v", got, err)
	}
	if err := rdb.Set(ctx, "k", "v\r\nwith\x00binary", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := rdb.Get(ctx, "k").Result(); got != "v\r\nwith\x00binary" || err != nil {
		t.Fatalf("GET = %q, %v", got, err)
	}
	if _, err := rdb.Get(ctx, "missing").Result(); err != redis.Nil {
		t.Fatalf("GET missing: err = %v, want redis.Nil", err)
	}
	if got, err := rdb.Del(ctx, "k", "missing").Result(); got != 1 || err != nil {
		t.Fatalf("DEL = %d, %v", got, err)
	}
	err := rdb.Do(ctx, "NOSUCH", "a").Err()
	if err == nil || err.Error() != "ERR unknown command 'NOSUCH', with args beginning with: 'a' " {
		t.Fatalf("NOSUCH: err = %v", err)
	}
	if err := rdb.Do(ctx, "get").Err(); err == nil || err.Error() != "ERR wrong number of arguments for 'get' command" {
		t.Fatalf("get: err = %v", err)
	}
	big := strings.Repeat("0123456789", 300_000) // 3 MB: streamed, not buffered
	if err := rdb.Set(ctx, "big", big, 0).Err(); err != nil {
		t.Fatalf("SET big: %v", err)
	}
	if got, err := rdb.Get(ctx, "big").Result(); got != big || err != nil {
		t.Fatalf("GET big: %d bytes, %v", len(got), err)
	}
}

// TestGoRedisPipeline: 100 mixed SET/GET in one pipeline are answered in
// order, and every GET sees the SETs before it.
func TestGoRedisPipeline(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	rdb := newGoRedis(t, ts.addr())
	ctx := context.Background()

	model := make(map[string]string)
	pipe := rdb.Pipeline()
	var gets []*redis.StringCmd
	var want []string
	for i := range 100 {
		key := fmt.Sprintf("k%d", i%7)
		if i%3 == 2 {
			gets = append(gets, pipe.Get(ctx, key))
			want = append(want, model[key])
			continue
		}
		val := fmt.Sprintf("v%d", i)
		pipe.Set(ctx, key, val, 0)
		model[key] = val
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil && err != redis.Nil {
		t.Fatalf("pipeline: %v", err)
	}
	if len(cmds) != 100 {
		t.Fatalf("%d replies, want 100", len(cmds))
	}
	for i, get := range gets {
		got, err := get.Result()
		if want[i] == "" && err == redis.Nil {
			continue
		}
		if got != want[i] || err != nil {
			t.Errorf("GET #%d (%v) = %q, %v; want %q", i, get.Args(), got, err, want[i])
		}
	}
}

// TestRawFrames sends pipelined frames in one write, and byte by byte.
func TestRawFrames(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	req := frame("SET", "a", "1") + frame("GET", "a") + "*0\r\n" + frame("ECHO", "x\r\ny") +
		frame("SET", "a", "2") + frame("GET", "a") + frame("DEL", "a") + frame("GET", "a") + frame("PING")
	want := "+OK\r\n$1\r\n1\r\n$4\r\nx\r\ny\r\n+OK\r\n$1\r\n2\r\n:1\r\n$-1\r\n+PONG\r\n"

	t.Run("one write", func(t *testing.T) {
		nc := dial(t, ts.addr())
		send(t, nc, req)
		expect(t, nc, want)
	})
	t.Run("byte by byte", func(t *testing.T) {
		nc := dial(t, ts.addr())
		for i := range len(req) {
			send(t, nc, req[i:i+1])
		}
		expect(t, nc, want)
	})
	t.Run("one command at a time", func(t *testing.T) {
		nc := dial(t, ts.addr())
		r := bufio.NewReader(nc)
		send(t, nc, frame("SET", "b", "x"))
		if got := readLine(t, r); got != "+OK\r\n" {
			t.Fatalf("SET: %q", got)
		}
		send(t, nc, frame("GET", "b"))
		if got := readLine(t, r) + readLine(t, r); got != "$1\r\nx\r\n" {
			t.Fatalf("GET: %q", got)
		}
	})
}

// TestInline talks as telnet does.
func TestInline(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	nc := dial(t, ts.addr())
	send(t, nc, "PING\r\n\r\nSET greeting \"hello world\\n\"\r\nget greeting\n  \r\necho 'it\\'s'\r\nNOSUCH \"a b\"\n")
	expect(t, nc, "+PONG\r\n+OK\r\n$12\r\nhello world\n\r\n$4\r\nit's\r\n-ERR unknown command 'NOSUCH', with args beginning with: 'a b' \r\n")
}

func TestInlineUnbalancedQuotes(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	nc := dial(t, ts.addr())
	send(t, nc, "set 'it''s' x\r\n")
	expect(t, nc, "-ERR Protocol error: unbalanced quotes in request\r\n")
	expectClosed(t, nc)
}

// TestProtocolError: the replies of earlier commands, then the error, then
// the connection is closed.
func TestProtocolError(t *testing.T) {
	tests := []struct{ name, send, want string }{
		{"invalid bulk length", "PING\r\n*1\r\n$-5\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk too large", "*1\r\n$1025\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"invalid multibulk length", "*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"expected dollar", "*1\r\nPING\r\n", "-ERR Protocol error: expected '$', got 'P'\r\n"},
		{"no CRLF after bulk", "*1\r\n$4\r\nPINGPING\r\n", "-ERR Protocol error: expected CRLF after bulk data\r\n"},
		{"inline too big", strings.Repeat("x", 3000), "-ERR Protocol error: too big inline request\r\n"},
		{"after concurrent commands", frame("SET", "a", "1") + frame("GET", "a") + "*1\r\n$x\r\n" + frame("PING"),
			"+OK\r\n$1\r\n1\r\n-ERR Protocol error: invalid bulk length\r\n"},
	}
	ts := startServer(t, newTestHandler(), Config{MaxBulk: 1024, MaxInline: 2048})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc := dial(t, ts.addr())
			send(t, nc, tt.send)
			expect(t, nc, tt.want)
			expectClosed(t, nc)
		})
	}
}

func TestQuit(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	nc := dial(t, ts.addr())
	send(t, nc, "PING\r\nQUIT\r\nSET after quit\r\n")
	expect(t, nc, "+PONG\r\n+OK\r\n")
	expectClosed(t, nc)
}

// TestCloseAfterReplyConcurrent: a Write command that calls
// CloseAfterReply closes the connection although the client sends nothing
// more (the reader is woken), after the replies of the commands before it.
func TestCloseAfterReplyConcurrent(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	nc := dial(t, ts.addr())
	send(t, nc, frame("SET", "a", "1")+frame("BYE"))
	expect(t, nc, "+OK\r\n+OK\r\n")
	expectClosed(t, nc)
}

// TestDeepPipeline: a pipeline far deeper than the commands a connection
// keeps in flight.
func TestDeepPipeline(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	nc := dial(t, ts.addr())
	var req, want []byte
	for i := range 20000 {
		key := fmt.Sprint("deep", i%100)
		req = append(req, frame("SET", key, "v")...)
		req = append(req, frame("GET", key)...)
		want = append(want, "+OK\r\n$1\r\nv\r\n"...)
	}
	sent := make(chan error, 1)
	go func() {
		_, err := nc.Write(req)
		sent <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("replies differ (%v)", err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// TestGoRedisParallel: many goroutines share a go-redis pool.
func TestGoRedisParallel(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr(), PoolSize: 8})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := range 20 {
		wg.Go(func() {
			for i := range 100 {
				key, val := fmt.Sprint("par", g, ":", i), fmt.Sprint(i)
				if err := rdb.Set(ctx, key, val, 0).Err(); err != nil {
					errs <- err
					return
				}
				if got, err := rdb.Get(ctx, key).Result(); got != val || err != nil {
					errs <- fmt.Errorf("GET %s = %q, %v; want %q", key, got, err, val)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestHalfClose: a client that sends its commands and shuts down its
// sending side (nc, redis-cli --pipe) still gets every reply.
func TestHalfClose(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, h, Config{})
	nc := dial(t, ts.addr())
	var req, want strings.Builder
	for i := range 500 {
		req.WriteString(frame("SET", fmt.Sprint("k", i), "v"))
		req.WriteString(frame("GET", fmt.Sprint("k", i)))
		want.WriteString("+OK\r\n$1\r\nv\r\n")
	}
	send(t, nc, req.String())
	nc.CloseWrite()
	expect(t, nc, want.String())
	expectClosed(t, nc)
}

// TestConcurrentWrites: a slow Write does not hold up the Writes pipelined
// behind it (slow or not), but the Read after them waits for them, and the
// replies come in command order.
func TestConcurrentWrites(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, h, Config{})
	nc := dial(t, ts.addr())
	send(t, nc, frame("SLOW")+frame("SLOW")+frame("SET", "a", "1")+frame("SET", "b", "2")+frame("GET", "a")+frame("PING"))
	<-h.slowStarted
	<-h.slowStarted // both SLOWs run at once
	waitFor(t, "the SETs behind SLOW ran", func() bool { return h.has("a") && h.has("b") })
	if n := h.gets.Load(); n != 0 {
		t.Errorf("%d GETs ran while SLOW was running", n)
	}
	close(h.release)
	expect(t, nc, "+OK\r\n+OK\r\n+OK\r\n+OK\r\n$1\r\n1\r\n+PONG\r\n")
	if n := h.readDuringWrite.Load(); n != 0 {
		t.Errorf("%d GETs ran while SLOW was running", n)
	}
	if n := h.serialDuringRun.Load(); n != 0 {
		t.Errorf("%d PINGs ran while SLOW was running", n)
	}
}

// TestRandomPipelinesMatchModel sends random pipelines of GET (Read), SET
// and DEL (Write) and PING (Serial), cut into random pieces, and compares
// the replies with those of a sequential model. Consecutive writes use
// distinct keys: the order of concurrent writes to one key is the
// handler's business.
func TestRandomPipelinesMatchModel(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		req, want := randomPipeline(rng, round, 500)
		var pieces [][]byte
		for len(req) > 0 {
			n := min(len(req), 1+rng.IntN(300))
			pieces, req = append(pieces, req[:n]), req[n:]
		}
		nc := dial(t, ts.addr())
		sent := make(chan error, 1)
		go func() { // while the test reads, lest both sides block on full buffers
			for _, p := range pieces {
				if _, err := nc.Write(p); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(nc, got); err != nil || string(got) != want {
			t.Fatalf("round %d: replies differ from the model (%v):\n got %q\nwant %q", round, err, got, want)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		nc.Close()
	}
}

// randomPipeline returns n random commands and the replies a sequential
// store gives them; round keeps keys apart from other rounds.
func randomPipeline(rng *rand.Rand, round, n int) (req []byte, replies string) {
	model := make(map[string]string)
	var want strings.Builder
	written := make(map[string]bool) // keys written by the current run of writes
	for i := range n {
		key := fmt.Sprintf("r%d:k%d", round, rng.IntN(8))
		op := rng.IntN(10)
		if op < 6 && written[key] {
			op = 6 // a second write of key in the run: read instead
		}
		switch {
		case op < 4:
			val := fmt.Sprint(i)
			req = append(req, frame("SET", key, val)...)
			model[key] = val
			want.WriteString("+OK\r\n")
			written[key] = true
		case op < 6:
			req = append(req, frame("DEL", key)...)
			_, ok := model[key]
			delete(model, key)
			want.Write(AppendInt(nil, int64(btoi(ok))))
			written[key] = true
		case op < 9:
			req = append(req, frame("GET", key)...)
			if v, ok := model[key]; ok {
				want.Write(AppendBulkString(nil, v))
			} else {
				want.Write(AppendNull(nil))
			}
			clear(written)
		default:
			req = append(req, "PING\r\n"...)
			want.WriteString("+PONG\r\n")
			clear(written)
		}
	}
	return req, want.String()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRepliesBeforeSlowCommandAreFlushed: the replies written before a slow
// command are not held back by it, and a Serial command waits for it.
func TestRepliesBeforeSlowCommandAreFlushed(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, h, Config{})
	nc := dial(t, ts.addr())
	send(t, nc, frame("PING")+frame("SLOW")+frame("PING"))
	expect(t, nc, "+PONG\r\n") // while SLOW runs
	close(h.release)
	expect(t, nc, "+OK\r\n+PONG\r\n")
	if n := h.serialDuringRun.Load(); n != 0 {
		t.Errorf("%d PINGs ran while SLOW was running", n)
	}
}

// TestClientGoneMidCommand: a client that leaves cancels nothing; its
// connection closes once its commands are done.
func TestClientGoneMidCommand(t *testing.T) {
	h := newTestHandler()
	ts := startServer(t, h, Config{})
	nc := dial(t, ts.addr())
	send(t, nc, frame("SLOW")+frame("SET", "after", "1"))
	<-h.slowStarted
	nc.Close()
	waitFor(t, "the SET behind SLOW ran", func() bool { return h.has("after") })
	if n := ts.Connections(); n != 1 {
		t.Errorf("Connections() = %d while a command runs, want 1", n)
	}
	close(h.release)
	waitFor(t, "the connection closed", func() bool { return ts.Connections() == 0 })
	if n := h.slowCancelled.Load(); n != 0 {
		t.Errorf("%d SLOW cancelled", n)
	}
}

func TestConnections(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	var conns []interface{ Close() error }
	for range 5 {
		conns = append(conns, dial(t, ts.addr()))
	}
	waitFor(t, "5 connections", func() bool { return ts.Connections() == 5 })
	conns[0].Close()
	conns[1].Close()
	waitFor(t, "3 connections", func() bool { return ts.Connections() == 3 })
}

// TestRunShutdown: Run returns after cancel with connections open and
// commands blocked in Exec (their context is cancelled), and leaves no
// goroutine behind.
func TestRunShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	h := newTestHandler()
	ts := startServer(t, h, Config{})

	idle := dial(t, ts.addr())
	inline := dial(t, ts.addr()) // SLOW runs on the reader goroutine
	send(t, inline, frame("SLOW"))
	<-h.slowStarted
	piped := dial(t, ts.addr()) // SLOW runs concurrently, the SET waits
	send(t, piped, frame("SET", "x", "1")+frame("SLOW")+frame("GET", "x")+frame("PING"))
	<-h.slowStarted
	waitFor(t, "3 connections", func() bool { return ts.Connections() == 3 })

	ts.Stop(t)
	if n := h.slowCancelled.Load(); n != 2 {
		t.Errorf("%d SLOW saw their context cancelled, want 2", n)
	}
	if n := ts.Connections(); n != 0 {
		t.Errorf("Connections() = %d after Run returned", n)
	}
	expectClosed(t, idle)
	for _, nc := range []interface{ Close() error }{idle, inline, piped} {
		nc.Close()
	}
	waitFor(t, "goroutines back to their number before the server", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func TestRunTwice(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	nc := dial(t, ts.addr()) // a reply proves the first Run is running
	send(t, nc, "PING\r\n")
	expect(t, nc, "+PONG\r\n")
	if err := ts.Run(context.Background()); !errors.Is(err, ErrServerStarted) {
		t.Fatalf("second Run: %v, want ErrServerStarted", err)
	}
}

func TestRunCancelledReleasesListener(t *testing.T) {
	srv, err := Listen(Config{Addr: "127.0.0.1:0"}, newTestHandler())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := srv.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	again, err := Listen(Config{Addr: srv.Addr().String()}, newTestHandler())
	if err != nil {
		t.Fatalf("port not released: %v", err)
	}
	again.Run(ctx)
}

func TestListenErrors(t *testing.T) {
	ts := startServer(t, newTestHandler(), Config{})
	tests := []struct {
		name string
		cfg  Config
		h    Handler
	}{
		{"no address", Config{}, newTestHandler()},
		{"negative MaxBulk", Config{Addr: "127.0.0.1:0", MaxBulk: -1}, newTestHandler()},
		{"negative MaxArgs", Config{Addr: "127.0.0.1:0", MaxArgs: -1}, newTestHandler()},
		{"negative MaxInline", Config{Addr: "127.0.0.1:0", MaxInline: -1}, newTestHandler()},
		{"nil handler", Config{Addr: "127.0.0.1:0"}, nil},
		{"port in use", Config{Addr: ts.addr()}, newTestHandler()},
	}
	for _, tt := range tests {
		if srv, err := Listen(tt.cfg, tt.h); err == nil {
			srv.ln.Close()
			t.Errorf("%s: Listen succeeded", tt.name)
		}
	}
}

// TestRedisCLI drives the server with the real redis-cli.
func TestRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found: run `make deps` as root, or apt-get install redis-tools")
	}
	ts := startServer(t, newTestHandler(), Config{})
	host, portStr, err := net.SplitHostPort(ts.addr())
	if err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, cli, append([]string{"-h", host, "-p", portStr}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := run("", "SET", "a", "hello world"); got != "OK\n" {
		t.Errorf("SET: %q", got)
	}
	if got := run("", "GET", "a"); got != "hello world\n" {
		t.Errorf("GET: %q", got)
	}
	if got := run("", "NOSUCH", "x"); !strings.Contains(got, "ERR unknown command 'NOSUCH', with args beginning with: 'x'") {
		t.Errorf("NOSUCH: %q", got)
	}
	var pipe bytes.Buffer
	for i := range 1000 {
		pipe.WriteString(frame("SET", fmt.Sprint("p", i), fmt.Sprint(i)))
	}
	if got := run(pipe.String(), "--pipe"); !strings.Contains(got, "errors: 0, replies: 1000") {
		t.Errorf("--pipe: %q", got)
	}
	if got := run("", "GET", "p999"); got != "999\n" {
		t.Errorf("GET after --pipe: %q", got)
	}
}
