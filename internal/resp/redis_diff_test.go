package resp

import (
	"bufio"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRedis runs redis-server on a free loopback port with one database
// and no persistence, stopped at cleanup, and returns its address. It
// fails the test if redis-server is not installed.
func startRedis(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatal("redis-server not found: run `make deps` as root, or apt-get install redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--databases", "1",
		"--save", "", "--appendonly", "no", "--dir", tb.TempDir(), "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	waitFor(tb, "redis-server answers PING", func() bool {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(time.Second))
		nc.Write([]byte("PING\r\n"))
		line, err := bufio.NewReader(nc).ReadString('\n')
		return err == nil && line == "+PONG\r\n"
	})
	return addr
}

// TestRepliesMatchRedis sends the same commands to redis-server 7 and to
// a Mux, and compares the replies byte for byte: the housekeeping commands
// where they overlap, and the errors for unknown commands and arity.
func TestRepliesMatchRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, newKVMux(t, MuxConfig{}), Config{})
	cmds := [][]string{
		{"PING"}, {"ping", "hello world"}, {"PING", "a", "b"}, {"PING", ""},
		{"ECHO"}, {"ECHO", "x"}, {"ECHO", "a\r\nb\x00c"}, {"ECHO", "x", "y"},
		{"SELECT"}, {"SELECT", "0"}, {"SELECT", "1"}, {"SELECT", "-1"}, {"SELECT", "abc"}, {"SELECT", "00"},
		{"SELECT", "+0"}, {"SELECT", "-0"}, {"SELECT", " 0"}, {"SELECT", "2147483648"}, {"SELECT", "99999999999999999999"},
		{"SELECT", "0", "1"},
		{"NOSUCH"}, {"nosuch", "a", "b"}, {"NoSuch", strings.Repeat("x", 200), "y"}, {"x\x00y", "a\x00b"},
		{"NOSUCH", "a\r\nb"}, {strings.Repeat("c", 150)},
		{"CONFIG"}, {"CONFIG", "FOO"}, {"config", "nosuch", "x"}, {"CONFIG", "GET"}, {"CONFIG", "GET", "nosuch-setting"},
		{"CONFIG", "GET", "nosuch-*", "other-?"}, {"CONFIG", "SET"}, {"CONFIG", "SET", "x"},
		{"CONFIG", "SET", "nosuch-setting", "1"}, {"CONFIG", "SET", "nosuch-setting", "1", "2"},
		{"CONFIG", strings.Repeat("y", 200)}, {"CONFIG", "a\x00b"}, {"CONFIG", "a\r\nb"},
		{"CLIENT"}, {"CLIENT", "FOO"}, {"client", "setname"}, {"CLIENT", "SETNAME", "a b"}, {"CLIENT", "SETNAME", "é"},
		{"CLIENT", "GETNAME"}, {"CLIENT", "SETNAME", "app"}, {"CLIENT", "GETNAME"}, {"CLIENT", "SETNAME", ""},
		{"CLIENT", "GETNAME"}, {"CLIENT", "GETNAME", "x"}, {"CLIENT", "ID", "x"}, {"CLIENT", "INFO", "x"},
		{"CLIENT", "LIST", "x"}, {"CLIENT", "LIST", "TYPE", "nosuch"}, {"CLIENT", "LIST", "TYPE", "master"},
		{"CLIENT", "LIST", "type", "PUBSUB"}, {"CLIENT", "LIST", "ID", "abc"}, {"CLIENT", "LIST", "ID", "999999"},
		{"CLIENT", "LIST", "ID"}, {"CLIENT", "LIST", "TYPE"},
		{"HELLO", "4"}, {"HELLO", "1"}, {"HELLO", "0"}, {"HELLO", "-2"}, {"HELLO", "abc"}, {"HELLO", "2.0"},
		{"HELLO", "2", "foo"}, {"HELLO", "2", "AUTH", "bob", "x"}, {"HELLO", "2", "AUTH", "x"}, {"HELLO", "2", "SETNAME"},
		{"HELLO", "2", "SETNAME", "a b"}, {"HELLO", "2", "setname", "ok", "AUTH", "nobody", "pw"},
		{"COMMAND", "FOO"}, {"COMMAND", "COUNT", "x"}, {"COMMAND", "INFO", "nosuch"}, {"COMMAND", "DOCS", "nosuch"},
		{"COMMAND", "LIST", "x"}, {"COMMAND", "INFO", "nosuch", "other"},
		{"INFO", "nosuch-section"}, {"INFO", "nosuch", "other"},
		{"QUIT", "x"},
	}
	want := exchange(t, redisAddr, cmds...)
	got := exchange(t, ts.addr(), cmds...)
	for i, c := range cmds {
		if got[i] != want[i] {
			t.Errorf("%q:\n got %q\nwant %q (redis-server)", c, got[i], want[i])
		}
	}
}

// TestHelloMatchesRedis: HELLO and HELLO 2 have Redis's shape; only the
// version and the connection id differ.
func TestHelloMatchesRedis(t *testing.T) {
	redisAddr := startRedis(t)
	ts := startServer(t, newKVMux(t, MuxConfig{}), Config{})
	version := regexp.MustCompile(`version\r\n\$\d+\r\n[0-9.]+\r\n`)
	id := regexp.MustCompile(`id\r\n:\d+\r\n`)
	shape := func(addr string) []string {
		var out []string
		for _, r := range exchange(t, addr, []string{"HELLO"}, []string{"HELLO", "2"}) {
			r = version.ReplaceAllString(r, "version\r\n$$?\r\n?\r\n")
			out = append(out, id.ReplaceAllString(r, "id\r\n:?\r\n"))
		}
		return out
	}
	got, want := shape(ts.addr()), shape(redisAddr)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("HELLO #%d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
}
