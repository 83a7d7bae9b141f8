package peer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const redisServerPath = "/usr/bin/redis-server"

// waitFor polls cond until it holds, failing tb after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// checkGoroutines fails tb if, once the test and its earlier cleanups are
// done, more goroutines run than when it was called. Register it first, so
// that its cleanup runs last.
func checkGoroutines(tb testing.TB) {
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				tb.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// freeAddr returns a loopback address with a port that nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// redisServer is a redis-server process on a loopback port.
type redisServer struct {
	tb   testing.TB
	addr string
	cmd  *exec.Cmd
}

// startRedis starts redis-server on a free port and stops it at cleanup.
func startRedis(tb testing.TB) *redisServer {
	tb.Helper()
	if _, err := os.Stat(redisServerPath); err != nil {
		tb.Fatalf("needs redis-server at %s (make deps installs it as root: apt-get install redis-server): %v", redisServerPath, err)
	}
	s := &redisServer{tb: tb, addr: freeAddr(tb)}
	s.start()
	tb.Cleanup(s.stop)
	return s
}

// start (re)starts the server on s.addr and waits until it answers.
func (s *redisServer) start() {
	s.tb.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	s.cmd = exec.Command(redisServerPath, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatal(err)
	}
	waitFor(s.tb, 10*time.Second, "redis-server at "+s.addr, func() bool {
		conn, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			return false
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprint(conn, "*1\r\n$4\r\nPING\r\n")
		line, err := bufio.NewReader(conn).ReadString('\n')
		return err == nil && line == "+PONG\r\n"
	})
}

// stop kills the server and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// fakePeer is a RESP server on a loopback port that records the commands
// it reads and answers each with answer (nothing when answer returns "").
type fakePeer struct {
	ln     net.Listener
	answer func(cmd []string) string

	mu       sync.Mutex
	accepted int
	cmds     [][]string
	conns    []net.Conn
	wg       sync.WaitGroup
}

// startFakePeer listens on addr ("" for a free port) and stops at cleanup.
func startFakePeer(tb testing.TB, addr string, answer func(cmd []string) string) *fakePeer {
	tb.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fakePeer{ln: ln, answer: answer}
	f.wg.Add(1)
	go f.accept()
	tb.Cleanup(f.close)
	return f
}

func (f *fakePeer) addr() string { return f.ln.Addr().String() }

func (f *fakePeer) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.accepted++
		f.conns = append(f.conns, conn)
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(conn)
	}
}

func (f *fakePeer) serve(conn net.Conn) {
	defer f.wg.Done()
	rd := bufio.NewReader(conn)
	for {
		cmd, err := readCommand(rd)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.cmds = append(f.cmds, cmd)
		f.mu.Unlock()
		if reply := f.answer(cmd); reply != "" {
			if _, err := io.WriteString(conn, reply); err != nil {
				return
			}
		}
	}
}

// dropConns closes every accepted connection, with a reset.
func (f *fakePeer) dropConns() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	f.conns = nil
}

func (f *fakePeer) close() {
	f.ln.Close()
	f.dropConns()
	f.wg.Wait()
}

func (f *fakePeer) stats() (accepted int, cmds [][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.accepted, append([][]string(nil), f.cmds...)
}

// readCommand reads one RESP command: an array of bulk strings.
func readCommand(rd *bufio.Reader) ([]string, error) {
	n, err := readHeader(rd, '*')
	if err != nil {
		return nil, err
	}
	cmd := make([]string, n)
	for i := range cmd {
		size, err := readHeader(rd, '$')
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		cmd[i] = string(buf[:size])
	}
	return cmd, nil
}

func readHeader(rd *bufio.Reader, kind byte) (int, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 3 || line[0] != kind {
		return 0, fmt.Errorf("bad header %q", line)
	}
	return strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
}

// answerOK answers every command with +OK.
func answerOK([]string) string { return "+OK\r\n" }

// answerNothing never answers.
func answerNothing([]string) string { return "" }

// bs turns strings into Do arguments.
func bs(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// do calls c.Do with string arguments and a 5s deadline.
func do(tb testing.TB, c *Client, args ...string) (Reply, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Do(ctx, bs(args...)...)
}

// fakeClock is a settable clock for the backoff.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
