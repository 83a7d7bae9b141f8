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
// and no persistence, and the extra arguments, stopped at cleanup, and
// returns its address. It fails the test if redis-server is not installed.
func startRedis(tb testing.TB, extra ...string) string {
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
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--databases", "1",
		"--save", "", "--appendonly", "no", "--dir", tb.TempDir(), "--protected-mode", "no"}
	cmd := exec.Command(bin, append(args, extra...)...)
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
		return err == nil && (line == "+PONG\r\n" || line == "-NOAUTH Authentication required.\r\n")
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

// TestAuthMatchesRedis compares AUTH, HELLO AUTH, NOAUTH and the Mux's
// own settings with redis-server started with --requirepass, then
// without a password. (NOPERM is not compared: the installed redis-server
// may be 7.0, whose ACL error text 7.2 changed.)
func TestAuthMatchesRedis(t *testing.T) {
	const pass = "redis-diff-pass"
	cmds := [][]string{
		{"PING"}, {"GET", "k"}, {"GET"}, {"NOSUCH", "a"}, {"CLIENT", "ID"}, {"CLIENT", "NOSUCH"},
		{"CLIENT", "SETNAME"}, {"CONFIG", "GET", "requirepass"}, {"ECHO", "x"}, {"SELECT", "0"},
		{"HELLO"}, {"HELLO", "2"}, {"HELLO", "2", "SETNAME", "x"}, {"HELLO", "2", "AUTH"},
		{"HELLO", "2", "AUTH", "default", "wrong"}, {"HELLO", "2", "AUTH", "bob", "x"},
		{"AUTH"}, {"AUTH", "a", "b", "c"}, {"AUTH", "wrong"}, {"AUTH", "default", "wrong"}, {"AUTH", "bob", "x"},
		{"AUTH", "DEFAULT", pass}, {"PING"},
		{"AUTH", pass}, {"PING"}, {"AUTH", "default", pass}, {"CONFIG", "GET", "requirepass"},
		{"CONFIG", "SET", "maxclients", "abc"}, {"CONFIG", "SET", "maxclients", "0"}, {"CONFIG", "SET", "maxclients", "-1"},
		{"CONFIG", "SET", "timeout", "-1"}, {"CONFIG", "SET", "timeout", "1.5"}, {"CONFIG", "SET", "timeout", "2147483648"},
		{"CONFIG", "GET", "timeout"}, {"CONFIG", "GET", "maxclients"},
		{"CONFIG", "SET", "requirepass", ""}, {"AUTH", "x"}, {"AUTH", "default", "x"}, {"AUTH", "nobody", "x"},
		{"CONFIG", "GET", "requirepass"}, {"PING"},
		{"CONFIG", "SET", "requirepass", "other"}, {"PING"}, {"CONFIG", "GET", "requirepass"},
		{"QUIT"},
	}
	redisAddr := startRedis(t, "--requirepass", pass)
	ts := startServer(t, newKVMux(t, MuxConfig{Password: pass}), Config{})
	want := exchange(t, redisAddr, cmds...)
	got := exchange(t, ts.addr(), cmds...)
	for i, c := range cmds {
		if got[i] != want[i] {
			t.Errorf("%q:\n got %q\nwant %q (redis-server)", c, got[i], want[i])
		}
	}
	// A connection opened while there is no password stays authenticated.
	noPass := [][]string{{"AUTH", "x"}, {"AUTH", "default", "x"}, {"HELLO", "2", "AUTH", "default", "y", "SETNAME", "n"},
		{"CLIENT", "GETNAME"}}
	redisAddr = startRedis(t)
	ts = startServer(t, newKVMux(t, MuxConfig{}), Config{})
	want = exchange(t, redisAddr, noPass...)
	got = exchange(t, ts.addr(), noPass...)
	id := regexp.MustCompile(`(?s)^\*14\r\n.*`)
	for i, c := range noPass {
		if id.ReplaceAllString(got[i], "HELLO") != id.ReplaceAllString(want[i], "HELLO") {
			t.Errorf("%q:\n got %q\nwant %q (redis-server)", c, got[i], want[i])
		}
	}
}
