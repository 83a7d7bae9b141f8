package e2e

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// cacheProcess is one `planet caching serve` process.
type cacheProcess struct {
	*pt.Process
	host            string
	port, adminPort int
}

func (c *cacheProcess) Addr() string      { return c.host + ":" + strconv.Itoa(c.port) }
func (c *cacheProcess) AdminAddr() string { return c.host + ":" + strconv.Itoa(c.adminPort) }

// startCacheProcess runs a cache of region registered with its discovery, with
// extra env (CACHE_PASSWORD=...), logging at debug level, and waits until
// its /health answers 200: past its warm start, serving commands.
func startCacheProcess(t *testing.T, region *pt.Region, env ...string) *cacheProcess {
	t.Helper()
	return startCacheLogging(t, region, "debug", env...)
}

// startCacheLogging is startCacheProcess with a log level (info for
// benchmarks, so that debug logging does not weigh on the measurement).
func startCacheLogging(tb testing.TB, region *pt.Region, level string, env ...string) *cacheProcess {
	tb.Helper()
	c := &cacheProcess{host: region.IP, port: pt.FreePort(tb, region.IP), adminPort: pt.FreePort(tb, region.IP)}
	c.Process = pt.StartProcess(tb, region.Name+"/caching", append([]string{
		"REGION=" + region.Name, "BIND_HOST=" + region.IP, "DISCOVERY_ADDR=" + region.Addr(),
		"PORT=" + strconv.Itoa(c.port), "ADMIN_PORT=" + strconv.Itoa(c.adminPort), "LOG_LEVEL=" + level,
	}, env...), "caching", "serve")
	pt.WaitFor(tb, 30*time.Second, "the cache's /health", func() bool { return pt.Healthy(c.AdminAddr()) })
	return c
}

// cacheCLI runs redis-cli against c and returns its standard output,
// trimmed.
func cacheCLI(t *testing.T, c *cacheProcess, args ...string) string {
	t.Helper()
	cmd := exec.Command("redis-cli", append([]string{"-h", c.host, "-p", strconv.Itoa(c.port), "--no-auth-warning"}, args...)...)
	out, _ := cmd.Output() // redis-cli's exit code on an error reply differs by version: check the text
	return strings.TrimSpace(string(out))
}

// TestCacheInterop: a real cache process serves redis-cli, go-redis and
// redis-benchmark, counts hits and misses in /metrics and registers in
// discovery.
func TestCacheInterop(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli is not installed (%v): make test installs it with scripts/deps.sh", err)
	}
	region := pt.StartDiscovery(t, "sfo").Regions["sfo"]
	c := startCacheProcess(t, region)

	t.Run("redis-cli", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"PING"}, "PONG"},
			{[]string{"SET", "cli:k", "hello", "EX", "100"}, "OK"},
			{[]string{"GET", "cli:k"}, "hello"},
			{[]string{"TTL", "cli:k"}, "100"},
			{[]string{"INCR", "cli:n"}, "1"},
			{[]string{"INCRBY", "cli:n", "41"}, "42"},
			{[]string{"INCR", "cli:k"}, "ERR value is not an integer or out of range"},
			{[]string{"DEL", "cli:k", "cli:n", "cli:none"}, "2"},
			{[]string{"GET", "cli:k"}, ""},
			{[]string{"TTL", "cli:k"}, "-2"},
		} {
			if got := cacheCLI(t, c, tc.args...); got != tc.want {
				t.Errorf("redis-cli %v = %q, want %q", tc.args, got, tc.want)
			}
		}
	})

	t.Run("go-redis", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rc := redis.NewClient(&redis.Options{Addr: c.Addr(), MaxRetries: -1})
		defer rc.Close()
		if err := rc.Set(ctx, "gr:a", "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := rc.Get(ctx, "gr:a").Result(); err != nil || v != "1" {
			t.Errorf("GET = %q, %v", v, err)
		}
		if _, err := rc.Get(ctx, "gr:missing").Result(); err != redis.Nil {
			t.Errorf("GET of a missing key: %v, want redis.Nil", err)
		}
		if n, err := rc.IncrBy(ctx, "gr:a", 9).Result(); err != nil || n != 10 {
			t.Errorf("INCRBY = %d, %v", n, err)
		}
		if err := rc.MSet(ctx, "gr:b", "x", "gr:c", "y").Err(); err != nil {
			t.Fatal(err)
		}
		if vs, err := rc.MGet(ctx, "gr:b", "gr:c", "gr:missing").Result(); err != nil || len(vs) != 3 || vs[0] != "x" || vs[2] != nil {
			t.Errorf("MGET = %v, %v", vs, err)
		}
		if d, err := rc.TTL(ctx, "gr:a").Result(); err != nil || d <= 50*time.Second || d > time.Minute {
			t.Errorf("TTL = %v, %v", d, err)
		}
		pipe := rc.Pipeline()
		for range 100 {
			pipe.Incr(ctx, "gr:counter")
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if v, err := rc.Get(ctx, "gr:counter").Int(); err != nil || v != 100 {
			t.Errorf("counter after 100 pipelined INCRs = %d, %v", v, err)
		}
		if n, err := rc.Del(ctx, "gr:a", "gr:b", "gr:c", "gr:counter").Result(); err != nil || n != 4 {
			t.Errorf("DEL = %d, %v", n, err)
		}
	})

	t.Run("redis-benchmark", func(t *testing.T) {
		if _, err := exec.LookPath("redis-benchmark"); err != nil {
			t.Fatalf("redis-benchmark is not installed (%v): make test installs it with scripts/deps.sh", err)
		}
		out, err := exec.Command("redis-benchmark", "-h", c.host, "-p", strconv.Itoa(c.port),
			"-t", "set,get,incr,mset", "-n", "20000", "-c", "20", "-d", "64", "-r", "10000", "-q").CombinedOutput()
		if err != nil {
			t.Fatalf("redis-benchmark: %v\n%s", err, out)
		}
		// Progress lines end in \r; each test's result ends its last one.
		results := make(map[string]string)
		for _, line := range strings.FieldsFunc(string(out), func(r rune) bool { return r == '\r' || r == '\n' }) {
			if test, rest, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && strings.Contains(rest, "requests per second") {
				results[test] = rest
			}
		}
		for _, test := range []string{"SET", "GET", "INCR", "MSET (10 keys)"} {
			if results[test] == "" {
				t.Errorf("redis-benchmark printed no result for %s:\n%s", test, out)
			}
			t.Logf("%s: %s", test, results[test])
		}
	})

	t.Run("metrics", func(t *testing.T) {
		hits, misses := pt.Metric(c.AdminAddr(), "caching_hits_total"), pt.Metric(c.AdminAddr(), "caching_misses_total")
		cacheCLI(t, c, "SET", "m:k", "v")
		cacheCLI(t, c, "GET", "m:k")
		cacheCLI(t, c, "GET", "m:none")
		if got := pt.Metric(c.AdminAddr(), "caching_hits_total"); got != hits+1 {
			t.Errorf("caching_hits_total = %v, want %v", got, hits+1)
		}
		if got := pt.Metric(c.AdminAddr(), "caching_misses_total"); got != misses+1 {
			t.Errorf("caching_misses_total = %v, want %v", got, misses+1)
		}
		if got := pt.Metric(c.AdminAddr(), `caching_commands_total{command="get",result="ok"}`); got < 2 {
			t.Errorf(`caching_commands_total{command="get",result="ok"} = %v`, got)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		pt.WaitFor(t, 10*time.Second, "the cache in list(caching)", func() bool {
			return pt.Has(pt.List(region.Addr(), "caching", ""), c.Addr(), "sfo")
		})
		c.Terminate()
		pt.WaitFor(t, 10*time.Second, "the cache out of list(caching) after SIGTERM", func() bool {
			return !pt.Has(pt.List(region.Addr(), "caching", ""), c.Addr(), "sfo")
		})
	})
}

// TestCachePassword: with CACHE_PASSWORD, commands before AUTH get
// NOAUTH; redis-cli -a works.
func TestCachePassword(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli is not installed (%v): make test installs it with scripts/deps.sh", err)
	}
	region := pt.StartDiscovery(t, "sfo").Regions["sfo"]
	c := startCacheProcess(t, region, "CACHE_PASSWORD=app-pass")
	if got := cacheCLI(t, c, "SET", "k", "v"); !strings.HasPrefix(got, "NOAUTH") {
		t.Errorf("SET without AUTH = %q, want NOAUTH", got)
	}
	if got := cacheCLI(t, c, "-a", "wrong", "PING"); !strings.Contains(got, "WRONGPASS") && !strings.Contains(got, "NOAUTH") {
		t.Errorf("PING with a wrong password = %q", got)
	}
	if got := cacheCLI(t, c, "-a", "app-pass", "SET", "k", "v"); got != "OK" {
		t.Errorf("SET with -a = %q, want OK", got)
	}
	if got := cacheCLI(t, c, "-a", "app-pass", "GET", "k"); got != "v" {
		t.Errorf("GET with -a = %q, want v", got)
	}
}
