package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"planet/caching"
	"planet/discovery/api"
)

// TestCacheMatchesRedis drives the same commands at redis-server and at
// an in-process cache and compares every reply byte for byte: hand-written
// sequences for every command, its options and its errors, then 2,000
// random commands over a few keys. Only what must differ is normalised:
// KEYS replies are sorted, remaining times may differ by a few
// milliseconds, SCAN is compared by the keys a full iteration returns.
func TestCacheMatchesRedis(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed (%v): make test installs it with scripts/deps.sh", err)
	}
	_, redisAddr := startRedis(t, "redis-server", "--appendonly", "no", "--appendfsync", "everysec")
	cache := startCache(t, caching.Config{})
	want, got := dialRESP(t, redisAddr), dialRESP(t, cache.Addr())

	t.Run("handwritten", func(t *testing.T) {
		for _, seq := range cacheSequences() {
			for _, cmd := range append([][]string{{"FLUSHALL"}}, seq...) {
				compareReply(t, want, got, cmd)
			}
		}
	})
	t.Run("scan", func(t *testing.T) {
		compareReply(t, want, got, []string{"FLUSHALL"})
		for i := range 300 {
			compareReply(t, want, got, []string{"SET", fmt.Sprintf("key:%d", i), "v"})
		}
		for _, opts := range [][]string{nil, {"COUNT", "7"}, {"MATCH", "key:1*"}, {"MATCH", "*", "COUNT", "1000"},
			{"TYPE", "string"}, {"TYPE", "hash"}, {"MATCH", "nomatch"}, {"TYPE", "STRING", "MATCH", "key:2?", "COUNT", "5"}} {
			w, g := scanAll(t, want, opts), scanAll(t, got, opts)
			if !slices.Equal(w, g) {
				t.Errorf("SCAN %q: got %d keys, redis-server %d", opts, len(g), len(w))
			}
		}
	})
	t.Run("random", func(t *testing.T) {
		compareReply(t, want, got, []string{"FLUSHALL"})
		rng := rand.New(rand.NewPCG(11, 7))
		base := time.Now().Unix()
		var history [][]string
		for range 2000 {
			cmd := randomCacheCommand(rng, base)
			history = append(history, cmd)
			if !compareReply(t, want, got, cmd) {
				t.Logf("the commands before: %q", history[max(len(history)-30, 0):])
				return
			}
		}
	})
}

// startCache runs a caching.Server on a free loopback port until the test
// ends.
func startCache(tb testing.TB, cfg caching.Config) *caching.Server {
	tb.Helper()
	cfg.Port = -1
	cfg.Discovery, cfg.NoWarmStart = noDiscovery{}, true
	s, err := caching.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("cache: Run: %v", err)
		}
	})
	return s
}

// noDiscovery registers nothing: the in-process caches stay out of any
// discovery running on this machine.
type noDiscovery struct{}

func (noDiscovery) Register(ctx context.Context, _, _ string) error { <-ctx.Done(); return nil }

func (noDiscovery) List(context.Context, string) ([]api.Instance, error)      { return nil, nil }
func (noDiscovery) ListLocal(context.Context, string) ([]api.Instance, error) { return nil, nil }

// compareReply sends cmd to both servers and reports a difference in
// their (normalised) replies.
func compareReply(t *testing.T, redis, cache *respConn, cmd []string) bool {
	t.Helper()
	w, g := redis.do(t, cmd), cache.do(t, cmd)
	if sameReply(cmd, w, g) {
		return true
	}
	t.Errorf("%q:\n got %q\nwant %q (redis-server)", cmd, g, w)
	return false
}

// sameReply compares two replies to cmd, allowing what must differ.
func sameReply(cmd []string, redis, cache string) bool {
	if redis == cache {
		return true
	}
	switch strings.ToUpper(cmd[0]) {
	case "KEYS":
		return slices.Equal(sortedArray(redis), sortedArray(cache))
	case "PTTL", "PEXPIRETIME":
		return closeInts(redis, cache, 50)
	case "TTL", "EXPIRETIME":
		return closeInts(redis, cache, 1)
	}
	return false
}

// closeInts reports whether a and b are integer replies at most tol apart.
func closeInts(a, b string, tol int64) bool {
	x, err1 := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(a, ":")), 10, 64)
	y, err2 := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(b, ":")), 10, 64)
	return err1 == nil && err2 == nil && x >= 0 && y >= 0 && max(x-y, y-x) <= tol
}

// sortedArray returns the lines of an array reply, its elements sorted.
func sortedArray(reply string) []string {
	lines := strings.Split(reply, "\r\n")
	var elems []string
	for i := 1; i+1 < len(lines); i += 2 {
		elems = append(elems, lines[i]+"\r\n"+lines[i+1])
	}
	slices.Sort(elems)
	return append([]string{lines[0]}, elems...)
}

// scanAll iterates SCAN with opts to the end and returns the sorted,
// deduplicated keys.
func scanAll(t *testing.T, c *respConn, opts []string) []string {
	t.Helper()
	cursor, seen := "0", map[string]bool{}
	for i := 0; ; i++ {
		reply := c.do(t, append([]string{"SCAN", cursor}, opts...))
		lines := strings.Split(reply, "\r\n")
		if len(lines) < 4 || lines[0] != "*2" {
			t.Fatalf("SCAN reply %q", reply)
		}
		cursor = lines[2]
		for j := 5; j < len(lines); j += 2 {
			seen[lines[j]] = true
		}
		if cursor == "0" {
			break
		}
		if i > 100000 {
			t.Fatal("SCAN does not end")
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// respConn is a RESP connection that returns replies as their raw bytes.
type respConn struct {
	nc net.Conn
	r  *bufio.Reader
}

func dialRESP(tb testing.TB, addr string) *respConn {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return &respConn{nc: nc, r: bufio.NewReader(nc)}
}

// do sends cmd and returns its reply.
func (c *respConn) do(tb testing.TB, cmd []string) string {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(cmd))
	for _, a := range cmd {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write([]byte(b.String())); err != nil {
		tb.Fatalf("%q: %v", cmd, err)
	}
	var out strings.Builder
	if err := readReply(c.r, &out); err != nil {
		tb.Fatalf("%q: reading the reply: %v", cmd, err)
	}
	return out.String()
}

// readReply copies one RESP2 reply from r to out.
func readReply(r *bufio.Reader, out *strings.Builder) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	out.WriteString(line)
	if len(line) < 3 {
		return errors.New("short line")
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	switch line[0] {
	case '$':
		if n < 0 {
			return nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		out.Write(buf)
	case '*':
		for range max(n, 0) {
			if err := readReply(r, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// cacheSequences are the hand-written sequences, each run on an empty
// keyspace: every command with its options and its errors.
func cacheSequences() [][][]string {
	s := func(cmds ...string) [][]string {
		var out [][]string
		for _, c := range cmds {
			out = append(out, strings.Split(c, " "))
		}
		return out
	}
	return [][][]string{
		s("GET k", "SET k v", "GET k", "SET k", "GET", "GET a b", "SET k v2 NX", "SET k v3 XX", "GET k",
			"SET n v NX", "SET m v XX", "GET m", "SET k v NX XX", "SET k v XX NX", "SET k v GET", "SET new v GET",
			"SET k v NX GET", "SET k v foo", "SET k v EX", "SET k v EX 0", "SET k v EX -1", "SET k v EX abc",
			"SET k v PX 0", "SET k v EX 10 PX 100", "SET k v EX 10 KEEPTTL", "SET k v KEEPTTL EX 10",
			"SET k v EX 100 EX 200", "TTL k", "SET k v2 KEEPTTL", "TTL k", "SET k v3", "TTL k",
			"SET k v EXAT 1", "GET k", "SET k v PXAT 1", "EXISTS k", "SET k v EX 9223372036854775807",
			"SET k v EX 9223372036854776", "SET k v PX 9223372036854775807", "SET k v EXAT 9223372036854775",
			"SET k v ex 100 nx", "SET k v PERSIST", "SET k v px 5000", "PTTL k", "SET k v EXAT 99999999999", "EXPIRETIME k",
			"SET k v PXAT 99999999999999", "PEXPIRETIME k", "SET k v EX 01", "SET k v EX +1", "SET k v EX 1.5"),
		s("SETNX k v", "SETNX k w", "GET k", "SETEX k 100 v", "TTL k", "SETEX k 0 v", "SETEX k -5 v", "SETEX k x v",
			"PSETEX k 100000 v", "PTTL k", "PSETEX k 0 v", "SETEX k 100", "GETSET k new", "GETSET nokey v",
			"TTL k", "GETDEL k", "GETDEL k", "EXISTS k"),
		s("GETEX k", "SET k v", "GETEX k", "GETEX k EX 100", "TTL k", "GETEX k PX 200000", "PTTL k",
			"GETEX k PERSIST", "TTL k", "GETEX k EX 100 PERSIST", "GETEX k PERSIST EX 100", "GETEX k EX 0",
			"GETEX k EX abc", "GETEX nokey EX abc", "GETEX k foo", "GETEX k KEEPTTL", "GETEX k NX",
			"GETEX k EXAT 99999999999", "EXPIRETIME k", "GETEX k PXAT 1", "GET k", "GETEX k EX"),
		s("MSET a 1 b 2 c 3", "MGET a b c d", "MSET a", "MSET a 1 b", "MSETNX a 1 x 2", "MGET x",
			"MSETNX x 1 y 2", "MGET x y", "MSETNX z", "MGET", "MSET a 1 a 2", "GET a"),
		s("APPEND k abc", "APPEND k def", "GET k", "STRLEN k", "STRLEN nokey", "APPEND k", "SET t v EX 100",
			"APPEND t x", "TTL t"),
		s("SET k Hello,World", "GETRANGE k 0 4", "GETRANGE k -5 -1", "GETRANGE k 5 1", "GETRANGE k -1 -5",
			"GETRANGE k 0 100", "GETRANGE k -100 2", "GETRANGE k 100 200", "GETRANGE nokey 0 1", "GETRANGE k a 1",
			"GETRANGE k 0 b", "GETRANGE k -3 100", "SET e x", "APPEND empty x", "GETRANGE k 0 -1", "GETRANGE k 3 3"),
		s("SETRANGE k 0 abc", "GET k", "SETRANGE k 5 xy", "GET k", "SETRANGE k -1 x", "SETRANGE k a x",
			"SETRANGE nokey 3", "SETRANGE k 1", "SETRANGE nokey2 0", "EXISTS nokey2", "SETRANGE k 536870912 x",
			"SETRANGE k 536870911 ", "SETRANGE k 1 Z", "GET k", "STRLEN k"),
		s("INCR n", "INCR n", "DECR n", "INCRBY n 10", "DECRBY n 3", "INCRBY n -20", "GET n", "INCRBY n abc",
			"INCRBY n 1.5", "INCRBY n 9223372036854775807", "SET n 9223372036854775807", "INCR n", "DECRBY n -1",
			"SET n -9223372036854775808", "DECR n", "INCRBY n -1", "DECRBY n 9223372036854775807",
			"DECRBY x -9223372036854775808", "INCRBY x -9223372036854775808", "SET s abc", "INCR s", "SET s 01",
			"INCR s", "SET s -0", "INCR s", "SET s +1", "INCR s", "SET s 1x", "DECR s", "SET t 5 EX 100",
			"INCR t", "TTL t", "INCRBY t 99999999999999999999", "INCR", "INCR a b"),
		s("INCRBYFLOAT f 10.5", "INCRBYFLOAT f 0.1", "INCRBYFLOAT f -5.0e3", "INCRBYFLOAT f 5.0e3",
			"INCRBYFLOAT f abc", "INCRBYFLOAT f inf", "INCRBYFLOAT f -inf", "INCRBYFLOAT f nan", "INCRBYFLOAT f 1e400",
			"GET f", "SET f 3.0", "INCRBYFLOAT f 0", "SET f 1e2", "INCRBYFLOAT f 1", "SET f abc", "INCRBYFLOAT f 1",
			"SET f inf", "INCRBYFLOAT f 1", "INCRBYFLOAT g 0.1", "INCRBYFLOAT g 0.2", "INCRBYFLOAT h -0",
			"INCRBYFLOAT i 1.23456789012345678", "INCRBYFLOAT j 0x10", "INCRBYFLOAT j .5", "INCRBYFLOAT j 5.",
			"SET t 1 EX 100", "INCRBYFLOAT t 1.5", "TTL t", "INCRBYFLOAT k 3e-5", "INCRBYFLOAT k 1_0"),
		s("SET a 1", "SET b 2", "DEL a b c", "DEL a", "SET a 1", "UNLINK a b", "DEL", "EXISTS a", "SET a 1",
			"EXISTS a a b", "TYPE a", "TYPE nokey", "TYPE", "UNLINK a"),
		s("SET k v", "EXPIRE k 100", "TTL k", "PTTL k", "EXPIRE nokey 100", "EXPIRE k abc", "EXPIRE k 100 NX",
			"EXPIRE k 200 XX", "TTL k", "EXPIRE k 50 GT", "EXPIRE k 300 GT", "TTL k", "EXPIRE k 400 LT",
			"EXPIRE k 100 LT", "TTL k", "EXPIRE k 10 NX XX", "EXPIRE k 10 GT LT", "EXPIRE k 10 foo",
			"EXPIRE k 10 nx gt", "PERSIST k", "PERSIST k", "TTL k", "EXPIRE k 100 XX", "EXPIRE k 100 GT",
			"EXPIRE k 100 LT", "TTL k", "PERSIST nokey", "EXPIRE k 9223372036854775807", "EXPIRE k -9223372036854775808",
			"PEXPIRE k 9223372036854775807", "EXPIRE k 0", "EXISTS k", "SET k v", "EXPIRE k -10", "GET k",
			"SET k v", "PEXPIRE k 100000", "PTTL k", "EXPIREAT k 99999999999", "EXPIRETIME k", "PEXPIRETIME k",
			"PEXPIREAT k 99999999999999", "PEXPIRETIME k", "EXPIREAT k 1", "EXISTS k", "TTL nokey",
			"PTTL nokey", "EXPIRETIME nokey", "PEXPIRETIME nokey", "SET k v", "TTL k", "EXPIRETIME k",
			"PEXPIREAT k 9223372036854775807", "EXPIREAT k 9223372036854775", "EXPIRE k", "EXPIRE k 1 NX NX",
			"EXPIRE k 1e3", "EXPIREAT k 9223372036854775807"),
		s("SET a 1", "SET b 2", "SET c 3", "SET ab 4", "KEYS *", "KEYS a*", "KEYS ?", "KEYS [ab]", "KEYS x*",
			"KEYS", "DBSIZE", "DBSIZE x", "RENAME a z", "GET z", "GET a", "RENAME nokey y", "RENAME z z",
			"RENAME nokey nokey", "RENAMENX z b", "RENAMENX z y", "GET y", "RENAMENX y y", "RENAMENX nokey q",
			"SET t v EX 100", "RENAME t u", "TTL u", "RENAME u b", "GET b", "TTL b", "DBSIZE", "FLUSHDB", "DBSIZE",
			"SET a 1", "FLUSHDB ASYNC", "FLUSHALL SYNC", "FLUSHDB foo", "FLUSHALL a b", "RANDOMKEY", "SET only 1",
			"RANDOMKEY", "RANDOMKEY x"),
		s("SCAN 0 COUNT 0", "SCAN 0 COUNT -1", "SCAN 0 COUNT x", "SCAN x", "SCAN 0 MATCH", "SCAN 0 foo bar",
			"SCAN 0 COUNT", "SCAN -x", "SCAN 1.5", "SCAN"),
		s("SET k v GET GET", "SET k v KEEPTTL KEEPTTL", "GETEX k PERSIST PERSIST", "EXPIRE k 10 xx xx",
			"GETRANGE k 9223372036854775807 9223372036854775807", "GETRANGE k -9223372036854775808 -1",
			"SETRANGE k 9223372036854775807 x", "INCRBYFLOAT f 1e4931", "INCRBYFLOAT f 1e4933", "INCR n",
			"APPEND n 5", "INCR n", "set K V", "get K", "Get k", "DEL k K n f"),
		s("FOO", "foo a b"),
	}
}

// randomCacheCommand is a random command over a few keys and values,
// valid or not, whose reply does not depend on timing: relative TTLs are
// never compared with GT or LT (two of the same length, set a
// millisecond apart, compare by when they were set), absolute ones are
// base (Unix seconds) plus 300, 2000 or 4000 s, relative ones 1000, 1500
// or 2500 s: all far apart.
func randomCacheCommand(rng *rand.Rand, base int64) []string {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	at := func(ms bool) string {
		t := base + []int64{300, 2000, 4000}[rng.IntN(3)]
		if ms {
			t = t*1000 + 123
		}
		return strconv.FormatInt(t, 10)
	}
	key := func() string { return pick("a", "b", "c", "d", "e") }
	val := func() string {
		return pick("0", "1", "-7", "42", "x", "hello", "", "3.5", "9223372036854775807", "1e2")
	}
	switch rng.IntN(24) {
	case 0, 1:
		cmd := []string{"SET", key(), val()}
		for range rng.IntN(3) {
			cmd = append(cmd, strings.Fields(pick("NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EX 1000", "EXAT "+at(false), "PXAT "+at(true), "EX 0", "EX x"))...)
		}
		return cmd
	case 2:
		return []string{"GET", key()}
	case 3:
		return []string{"MGET", key(), key(), key()}
	case 4:
		return []string{"MSET", key(), val(), key(), val()}
	case 5:
		return []string{"MSETNX", key(), val(), key(), val()}
	case 6:
		return []string{pick("INCR", "DECR"), key()}
	case 7:
		return []string{pick("INCRBY", "DECRBY"), key(), pick("1", "-3", "100", "x", "9223372036854775807")}
	case 8:
		return []string{"INCRBYFLOAT", key(), pick("0.1", "-2.5", "1e3", "x", "3")}
	case 9:
		return []string{"APPEND", key(), val()}
	case 10:
		return []string{"STRLEN", key()}
	case 11:
		return []string{"GETRANGE", key(), pick("0", "-1", "2", "-5", "100"), pick("0", "-1", "3", "-3", "100")}
	case 12:
		return []string{"SETRANGE", key(), pick("0", "2", "10", "-1"), pick("ab", "", "xyz")}
	case 13:
		return []string{pick("DEL", "UNLINK", "EXISTS"), key(), key()}
	case 14:
		return []string{"TYPE", key()}
	case 15:
		if rng.IntN(2) == 0 {
			return append([]string{"EXPIRE", key()}, strings.Fields(pick("1500", "-1", "0", "x", "1500 NX", "1500 XX"))...)
		}
		cmd, ms := []string{"EXPIREAT", key(), at(false)}, rng.IntN(2) == 0
		if ms {
			cmd = []string{"PEXPIREAT", key(), at(true)}
		}
		if rng.IntN(3) > 0 {
			cmd = append(cmd, pick("NX", "XX", "GT", "LT"))
		}
		return cmd
	case 16:
		return []string{pick("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"), key()}
	case 17:
		return []string{"PERSIST", key()}
	case 18:
		return []string{pick("RENAME", "RENAMENX"), key(), key()}
	case 19:
		return []string{pick("GETSET", "SETNX"), key(), val()}
	case 20:
		return []string{"GETDEL", key()}
	case 21:
		return append([]string{"GETEX", key()}, strings.Fields(pick("EX", "PX", "PERSIST", "PX 2500000", "EXAT "+at(false), "PXAT "+at(true), ""))...)
	case 22:
		return []string{"KEYS", pick("*", "a*", "[a-c]", "?")}
	default:
		return []string{"DBSIZE"}
	}
}
