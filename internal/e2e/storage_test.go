package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// storageRegion starts discovery for one region and n storage replicas.
func storageRegion(t testing.TB, n int, env ...string) (*pt.Region, []*pt.Replica) {
	t.Helper()
	region := pt.StartDiscovery(t, "sfo").Regions["sfo"]
	rs := pt.NewStorage(t, region, n, t.TempDir(), env...)
	pt.StartAll(t, rs)
	return region, rs
}

// rdb is a go-redis client of a replica, closed with the test.
func rdb(t testing.TB, r *pt.Replica) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1, DialTimeout: 2 * time.Second,
		ReadTimeout: 5 * time.Second, PoolSize: 32})
	t.Cleanup(func() { c.Close() })
	return c
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// metric reads one sample (exact name with labels) from a replica's /metrics.
func metric(t testing.TB, r *pt.Replica, sample string) float64 {
	t.Helper()
	body := get(t.(*testing.T), "http://"+r.AdminAddr()+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, sample+" ") {
			var v float64
			fmt.Sscan(strings.TrimPrefix(line, sample+" "), &v)
			return v
		}
	}
	return 0
}

func TestStorageGoRedisDrivesEveryCommand(t *testing.T) {
	_, rs := storageRegion(t, 3, "STORAGE_MAX_VALUE=4096")
	ctx := context.Background()
	a, b := rdb(t, rs[0]), rdb(t, rs[1])

	mustOK(t, a.Ping(ctx).Err())
	if got := a.Echo(ctx, "hi").Val(); got != "hi" {
		t.Fatalf("ECHO %q", got)
	}
	mustOK(t, a.Set(ctx, "k1", "v1", 0).Err())
	binary := "bin\x00ary\r\n=@%"
	mustOK(t, a.Set(ctx, "bin\r\nkey", binary, 0).Err())
	// Readable through the other replicas.
	for _, r := range rs {
		c := rdb(t, r)
		if got, err := c.Get(ctx, "k1").Result(); err != nil || got != "v1" {
			t.Fatalf("GET k1 via %s: %q, %v", r.Addr(), got, err)
		}
		if got := c.Get(ctx, "bin\r\nkey").Val(); got != binary {
			t.Fatalf("binary value via %s: %q", r.Addr(), got)
		}
	}
	if err := b.Get(ctx, "missing").Err(); err != redis.Nil {
		t.Fatalf("GET missing: %v, want redis.Nil", err)
	}
	vals := b.MGet(ctx, "k1", "missing", "bin\r\nkey").Val()
	if len(vals) != 3 || vals[0] != "v1" || vals[1] != nil || vals[2] != binary {
		t.Fatalf("MGET %#v", vals)
	}
	if n := b.Exists(ctx, "k1", "missing", "k1").Val(); n != 2 {
		t.Fatalf("EXISTS = %d, want 2", n)
	}
	for i := range 30 {
		mustOK(t, a.Set(ctx, fmt.Sprint("scan:", i), "x", 0).Err())
	}
	if n := a.DBSize(ctx).Val(); n != 32 {
		t.Fatalf("DBSIZE %d, want 32", n)
	}
	var keys []string
	iter := a.Scan(ctx, 0, "scan:*", 5).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	mustOK(t, iter.Err())
	if len(keys) != 30 {
		t.Fatalf("SCAN MATCH scan:* found %d keys", len(keys))
	}
	if n := b.Del(ctx, "k1", "missing", "scan:1").Val(); n != 2 {
		t.Fatalf("DEL = %d, want 2", n)
	}
	if err := a.Get(ctx, "k1").Err(); err != redis.Nil {
		t.Fatalf("GET after DEL: %v", err)
	}

	// Versions and the replication procedures.
	v, err := a.Do(ctx, "VGET", "bin\r\nkey").Slice()
	if err != nil || len(v) != 2 || v[0] != binary {
		t.Fatalf("VGET %#v %v", v, err)
	}
	version := v[1].(string)
	if n, err := a.Do(ctx, "REPL.PUT", "bin\r\nkey", "older", version).Int(); err != nil || n != 0 {
		t.Fatalf("REPL.PUT of the same version: %d %v, want 0", n, err)
	}
	newer := "9999999999999.0.sfo-1"
	if err := a.Do(ctx, "REPL.PUT", "r", "x", newer).Err(); err == nil || !strings.Contains(err.Error(), "ahead") {
		t.Fatalf("REPL.PUT far in the future: %v, want refused", err)
	}
	ms := time.Now().UnixMilli()
	if n, err := a.Do(ctx, "REPL.PUT", "r", "x", fmt.Sprintf("%d.0.nyc-10600", ms)).Int(); err != nil || n != 1 {
		t.Fatalf("REPL.PUT: %d %v", n, err)
	}
	if v := a.Do(ctx, "VGET", "r").Val().([]any); v[1] != fmt.Sprintf("%d.0.nyc-10600", ms) {
		t.Fatalf("VGET after REPL.PUT: %v", v)
	}
	// Not re-replicated: the other replicas do not have it.
	if v := b.Do(ctx, "VGET", "r").Val(); v != nil {
		t.Fatalf("REPL.PUT was re-replicated: %v", v)
	}
	if n, err := a.Do(ctx, "REPL.DEL", "r", fmt.Sprintf("%d.1.nyc-10600", ms)).Int(); err != nil || n != 1 {
		t.Fatalf("REPL.DEL: %d %v", n, err)
	}
	if v := a.Do(ctx, "VGET", "r").Val().([]any); v[0] != nil {
		t.Fatalf("VGET of a tombstone: %v", v)
	}
	peers, err := a.Do(ctx, "PEERS").Slice()
	if err != nil || peers[1] != int64(2) || peers[3] != int64(2) || peers[5] != int64(2) {
		t.Fatalf("PEERS %v %v", peers, err)
	}
	info := a.Info(ctx).Val()
	for _, want := range []string{"quorum_w:2", "wal_generation:1", "db0:keys=30"} {
		if !strings.Contains(info, want) {
			t.Fatalf("INFO lacks %q:\n%s", want, info)
		}
	}

	// Bad input: a clear error, nothing changes, the connection lives on.
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"NOSUCH", "x"}, "ERR unknown command"},
		{[]any{"GET"}, "ERR wrong number of arguments for 'get'"},
		{[]any{"SET", "k"}, "ERR wrong number of arguments for 'set'"},
		{[]any{"SET", strings.Repeat("k", 64<<10+1), "v"}, "ERR key too large"},
		{[]any{"SET", "big", strings.Repeat("v", 4097)}, "ERR value too large"},
		{[]any{"REPL.PUT", "k", "v", "not-a-version"}, "invalid version"},
		{[]any{"REPL.DEL", "k", "1.2"}, "invalid version"},
		{[]any{"SCAN", "x"}, "ERR invalid cursor"},
		{[]any{"SCAN", "0", "COUNT", "0"}, "ERR value is not an integer"},
	} {
		err := a.Do(ctx, tc.args...).Err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args[0], err, tc.want)
		}
	}
	if n := a.Exists(ctx, "big").Val(); n != 0 {
		t.Fatal("a refused SET changed something")
	}
	mustOK(t, a.Ping(ctx).Err())
	if got := metric(t, rs[0], `storage_commands_total{command="set",result="ok"}`); got < 30 {
		t.Fatalf("storage_commands_total set ok = %v", got)
	}
}

// TestStorageMalformedFrames sends raw bytes no client library would.
func TestStorageMalformedFrames(t *testing.T) {
	_, rs := storageRegion(t, 1, "QUORUM_W=1", "QUORUM_R=1")
	for _, tc := range []struct{ send, want string }{
		{"*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
		{"PING\r\n", "+PONG\r\n"}, // inline, as telnet
		{"SET \"a b\" 'c'\r\nGET \"a b\"\r\n", "+OK\r\n$1\r\nc\r\n"},
		{"*1\r\n$999999999999\r\n", "-ERR Protocol error"},
		{"*x\r\n", "-ERR Protocol error"},
		{"*2\r\n+GET\r\n", "-ERR Protocol error"},
		{"SET \"unbalanced\r\n", "-ERR Protocol error"},
	} {
		c, err := net.Dial("tcp", rs[0].Addr())
		mustOK(t, err)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte(tc.send))
		buf := make([]byte, 0, 256)
		for !strings.HasPrefix(string(buf), tc.want) {
			tmp := make([]byte, 256)
			n, err := c.Read(tmp)
			buf = append(buf, tmp[:n]...)
			if err != nil {
				break
			}
		}
		c.Close()
		if !strings.HasPrefix(string(buf), tc.want) {
			t.Errorf("%q: got %q, want %q", tc.send, buf, tc.want)
		}
	}
	if pt.Peers(rs[0].Addr()) != 0 {
		t.Fatal("replica stopped answering after malformed input")
	}
}

// TestStorageQuorum is the real-process smoke test of quorums: SIGKILLed
// replicas, still registered in a real discovery, fail writes and reads
// with NOQUORUM. The quorum, read-repair, hinted-handoff and anti-entropy
// cases run in-process in package storage (storage/storagetest).
func TestStorageQuorum(t *testing.T) {
	_, rs := storageRegion(t, 3, "STORAGE_QUORUM_TIMEOUT=1s")
	ctx := context.Background()
	a := rdb(t, rs[0])
	mustOK(t, a.Set(ctx, "before", "1", 0).Err())

	rs[2].Kill()
	mustOK(t, a.Set(ctx, "one-down", "2", 0).Err())
	if got := a.Get(ctx, "one-down").Val(); got != "2" {
		t.Fatalf("GET with one replica down: %q", got)
	}

	rs[1].Kill()
	err := a.Set(ctx, "two-down", "3", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM write: 1 of 2") {
		t.Fatalf("SET with two of three replicas down: %v, want NOQUORUM", err)
	}
	err = a.Get(ctx, "before").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM read") {
		t.Fatalf("GET with two of three replicas down: %v, want NOQUORUM", err)
	}
	if got := metric(t, rs[0], `storage_quorum_failures_total{op="write"}`); got < 1 {
		t.Fatalf("quorum failures metric %v", got)
	}
}

// TestStorageCrashUnderLoad: SIGKILL replicas while 20 clients write; every
// write that got OK must be readable with its value afterwards.
func TestStorageCrashUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
		env      []string
	}{
		// A small compaction threshold: kills land during WAL rotations
		// and snapshot writes too.
		{"single replica W=1 compacting", 1, []string{"QUORUM_W=1", "QUORUM_R=1", "STORAGE_COMPACT_BYTES=32768"}},
		{"three replicas W=2", 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rs := storageRegion(t, tc.replicas, tc.env...)
			for round := range 3 {
				victim := rs[round%len(rs)]
				acked := writeWhileKilling(t, rs, victim, round)
				victim.Start()
				pt.WaitPeers(t, victim, len(rs)-1)
				checkAcked(t, rs, acked)
				t.Logf("round %d: %d acknowledged writes, all readable", round, len(acked))
			}
		})
	}
}

// writeWhileKilling runs 20 writers over every replica, SIGKILLs victim once
// writes are flowing, and returns the acknowledged key -> value.
func writeWhileKilling(t *testing.T, rs []*pt.Replica, victim *pt.Replica, round int) map[string]string {
	ctx := context.Background()
	var mu sync.Mutex
	acked := map[string]string{}
	var count int
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 20 {
		c := rdb(t, rs[w%len(rs)])
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k, v := fmt.Sprintf("r%d/w%d/%d", round, w, i), fmt.Sprintf("value-%d-%d-%d", round, w, i)
				if err := c.Set(ctx, k, v, 0).Err(); err == nil {
					mu.Lock()
					acked[k] = v
					count++
					mu.Unlock()
				} else if errors.Is(err, context.Canceled) {
					return
				}
			}
		}()
	}
	n := func() int { mu.Lock(); defer mu.Unlock(); return count }
	pt.WaitFor(t, 30*time.Second, "writes to flow", func() bool { return n() >= 300 })
	victim.Kill()
	before := n()
	pt.WaitFor(t, 30*time.Second, "writes to go on after the kill", func() bool { return len(rs) == 1 || n() >= before+300 })
	close(stop)
	wg.Wait()
	return acked
}

func checkAcked(t *testing.T, rs []*pt.Replica, acked map[string]string) {
	ctx := context.Background()
	c := rdb(t, rs[0])
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	for i := 0; i < len(keys); i += 500 {
		batch := keys[i:min(i+500, len(keys))]
		vals, err := c.MGet(ctx, batch...).Result()
		if err != nil {
			t.Fatalf("MGET: %v", err)
		}
		for j, k := range batch {
			if vals[j] != acked[k] {
				t.Fatalf("acknowledged write lost: %s = %v, want %q", k, vals[j], acked[k])
			}
		}
	}
}

// redisCLI runs redis-cli against addr; the interop tests need it, so its
// absence fails them with the command that installs it (make deps does).
func redisCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found: run `make deps` as root, or apt-get install redis-tools")
	}
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(path, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(strings.ReplaceAll(string(out), "\r", ""))
}

func TestStorageRedisCLIDrivesEveryCommand(t *testing.T) {
	_, rs := storageRegion(t, 3)
	a, b := rs[0].Addr(), rs[1].Addr()
	for _, tc := range []struct {
		addr string
		args []string
		want string // prefix of the output
	}{
		{a, []string{"PING"}, "PONG"},
		{a, []string{"SET", "greeting", "hello world"}, "OK"},
		{b, []string{"GET", "greeting"}, "hello world"},
		{b, []string{"SET", "other", "2"}, "OK"},
		{a, []string{"MGET", "greeting", "nothing", "other"}, "hello world\n\n2"},
		{a, []string{"EXISTS", "greeting", "nothing"}, "1"},
		{a, []string{"DBSIZE"}, "2"},
		{a, []string{"SCAN", "0", "MATCH", "gre*", "COUNT", "100"}, "0\ngreeting"},
		{a, []string{"VGET", "greeting"}, "hello world\n"},
		{a, []string{"REPL.PUT", "r", "v", "1000.0.nyc-10600"}, "1"},
		{a, []string{"REPL.PUT", "r", "v", "999.0.nyc-10600"}, "0"},
		{a, []string{"REPL.DEL", "r", "1001.0.nyc-10600"}, "1"},
		{a, []string{"PEERS"}, "peers\n2\nw\n2\nr\n2"},
		{a, []string{"INFO", "keyspace"}, "# Keyspace\ndb0:keys=2"},
		{a, []string{"DEL", "greeting", "other", "nothing"}, "2"},
		{b, []string{"GET", "greeting"}, ""},
		{a, []string{"NOSUCH"}, "ERR unknown command"},
		{a, []string{"GET"}, "ERR wrong number of arguments"},
		{a, []string{"QUIT"}, "OK"},
	} {
		if got := redisCLI(t, tc.addr, tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Errorf("redis-cli %v: %q, want %q", tc.args, got, tc.want)
		}
	}
	// --scan iterates with the cursor.
	for i := range 50 {
		redisCLI(t, a, "SET", fmt.Sprint("many:", i), "x")
	}
	if got := strings.Fields(redisCLI(t, a, "--scan", "--pattern", "many:*")); len(got) != 50 {
		t.Fatalf("redis-cli --scan found %d keys, want 50", len(got))
	}
}

// TestStoragePausedReplica: a replica that hangs (SIGSTOP, as a partitioned
// or frozen host) neither fails nor stalls writes and reads through the
// others, and catches up once it resumes.
func TestStoragePausedReplica(t *testing.T) {
	_, rs := storageRegion(t, 3, "STORAGE_ANTI_ENTROPY_INTERVAL=1h")
	ctx := context.Background()
	a := rdb(t, rs[0])
	rs[2].Signal(syscall.SIGSTOP)
	var slowest time.Duration
	for i := range 300 {
		start := time.Now()
		mustOK(t, a.Set(ctx, fmt.Sprint("p", i), "v", 0).Err())
		if got := a.Get(ctx, fmt.Sprint("p", i)).Val(); got != "v" {
			t.Fatalf("GET p%d with a replica paused: %q", i, got)
		}
		slowest = max(slowest, time.Since(start))
	}
	t.Logf("300 SET+GET with a replica paused; slowest pair %v", slowest)
	rs[2].Signal(syscall.SIGCONT)
	c := rdb(t, rs[2])
	pt.WaitFor(t, 30*time.Second, "the resumed replica to hold every key", func() bool { return c.DBSize(ctx).Val() == 300 })
}

// TestStoragePipelinedLoadGetsOK: 50 clients with 16 writes in flight each
// (redis-benchmark -P 16) is load, not failure: every write gets OK.
func TestStoragePipelinedLoadGetsOK(t *testing.T) {
	_, rs := storageRegion(t, 3)
	c := redis.NewClient(&redis.Options{Addr: rs[0].Addr(), PoolSize: 50, MaxRetries: -1})
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 10 {
				pipe := c.Pipeline()
				for i := range 16 {
					pipe.Set(context.Background(), fmt.Sprintf("w%d/%d/%d", w, round, i), "v", 0)
				}
				if _, err := pipe.Exec(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a pipelined write failed under load: %v", err)
	}
	if n := c.DBSize(context.Background()).Val(); n != 50*10*16 {
		t.Fatalf("DBSIZE %d, want %d", n, 50*10*16)
	}
}
