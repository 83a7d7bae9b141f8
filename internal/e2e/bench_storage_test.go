package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// System benchmarks of storage. They print their figures for a human;
// run them with -benchtime 1x (make bench), alone on the machine.

// startRedisServer runs the reference: one redis-server with an fsynced
// append-only file, as durable as our durability=always.
func startRedisServer(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatal("redis-server not found: run `make deps` as root, or apt-get install redis-server")
	}
	port := pt.FreePort(tb, "127.0.0.1")
	dir := tb.TempDir()
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no")
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	pt.WaitFor(tb, 10*time.Second, "redis-server to answer", func() bool { return c.Ping(context.Background()).Err() == nil })
	return addr
}

// redisBenchmark runs redis-benchmark and returns ops/s per test (SET, GET).
func redisBenchmark(tb testing.TB, addr string, extra ...string) map[string]float64 {
	tb.Helper()
	path, err := exec.LookPath("redis-benchmark")
	if err != nil {
		tb.Fatal("redis-benchmark not found: run `make deps` as root, or apt-get install redis-tools")
	}
	host, port, _ := strings.Cut(addr, ":")
	args := append([]string{"-h", host, "-p", port, "-t", "set,get", "-n", "200000", "-c", "50", "-d", "256", "--csv"}, extra...)
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		tb.Fatalf("redis-benchmark %v: %v\n%s", args, err, out)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		tb.Fatalf("redis-benchmark output: %v\n%s", err, out)
	}
	res := map[string]float64{}
	for _, r := range recs {
		if len(r) >= 2 {
			if v, err := strconv.ParseFloat(r[1], 64); err == nil {
				res[r[0]] = v
			}
		}
	}
	if res["SET"] == 0 || res["GET"] == 0 {
		tb.Fatalf("redis-benchmark gave no SET/GET figures:\n%s", out)
	}
	return res
}

// BenchmarkStorageVsRedis drives a three-replica region (W=2, R=2,
// durability always) and, in the same run, one redis-server with
// appendfsync always, with the same redis-benchmark flags.
func BenchmarkStorageVsRedis(b *testing.B) {
	_, rs := storageRegion(b, 3, "STORAGE_DURABILITY=always", "QUORUM_W=2", "QUORUM_R=2", "LOG_LEVEL=warn")
	ref := startRedisServer(b)
	b.ResetTimer()
	for range b.N {
		fmt.Println("redis-benchmark -t set,get -n 200000 -c 50 -d 256 [-P 16]; planet = 3 replicas W=2 R=2 fsync always; redis = 1 redis-server appendfsync always")
		fmt.Printf("%-22s %12s %12s %7s  target\n", "", "planet ops/s", "redis ops/s", "ratio")
		for _, pipeline := range [][]string{nil, {"-P", "16"}} {
			name := "plain"
			if pipeline != nil {
				name = "pipelined -P 16"
			}
			ours := redisBenchmark(b, rs[0].Addr(), pipeline...)
			theirs := redisBenchmark(b, ref, pipeline...)
			for _, op := range []string{"SET", "GET"} {
				ratio := ours[op] / theirs[op]
				fmt.Printf("%-22s %12s %12s %7.2f  >= 0.5\n", op+" "+name, thousands(ours[op]), thousands(theirs[op]), ratio)
				b.ReportMetric(ratio, op+"-"+strings.Fields(name)[0]+"-ratio")
			}
		}
		// Before the runs below fill the region with 100,000 keys.
		p := setLatency(b, rs[0].Addr(), 50, 20000)
		fmt.Printf("SET latency, Go load generator (go-redis, 50 clients, 20,000 SETs of 256 B): p50 %s p90 %s p99 %s max %s\n",
			ms(p.p50), ms(p.p90), ms(p.p99), ms(p.max))
		b.ReportMetric(msFloat(p.p50), "set-p50-ms")
		b.ReportMetric(msFloat(p.p99), "set-p99-ms")
		// Without -r, redis-benchmark uses one key for every command,
		// which our row cache serves and our commit batches write once;
		// the same over 100,000 random keys, for comparison.
		ours, theirs := redisBenchmark(b, rs[0].Addr(), "-r", "100000"), redisBenchmark(b, ref, "-r", "100000")
		for _, op := range []string{"SET", "GET"} {
			fmt.Printf("%-22s %12s %12s %7.2f  (information)\n", op+" plain -r 100000", thousands(ours[op]), thousands(theirs[op]), ours[op]/theirs[op])
		}
		// For reading the ratios: the same engine and RESP server as one
		// replica that replicates nothing (W=1, R=1), against the same
		// reference. The region above runs three of them on the same two
		// cores, each fsyncing every write.
		solo := single(b)
		ours, theirs = redisBenchmark(b, solo), redisBenchmark(b, ref)
		for _, op := range []string{"SET", "GET"} {
			fmt.Printf("%-22s %12s %12s %7.2f  (information)\n", op+" one replica W=1", thousands(ours[op]), thousands(theirs[op]), ours[op]/theirs[op])
		}
	}
}

// single starts one storage replica with W=1, R=1 in a region of its own.
func single(tb testing.TB) string {
	_, rs := storageRegion(tb, 1, "QUORUM_W=1", "QUORUM_R=1", "LOG_LEVEL=warn")
	return rs[0].Addr()
}

// setLatency times n SETs from clients concurrent go-redis clients.
func setLatency(tb testing.TB, addr string, clients, n int) percentiles {
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: clients})
	defer c.Close()
	value := strings.Repeat("v", 256)
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += clients {
				start := time.Now()
				if err := c.Set(context.Background(), fmt.Sprint("lat:", i), value, 0).Err(); err != nil {
					tb.Error(err)
					return
				}
				lat[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	return summarize(lat)
}

// BenchmarkStorageRecovery restarts a replica holding a million keys
// (killed with SIGKILL) and times it until it serves reads.
func BenchmarkStorageRecovery(b *testing.B) {
	keys := 1_000_000
	if s := os.Getenv("BENCH_RECOVERY_KEYS"); s != "" {
		keys, _ = strconv.Atoi(s)
	}
	_, rs := storageRegion(b, 1, "QUORUM_W=1", "QUORUM_R=1", "STORAGE_DURABILITY=never", "LOG_LEVEL=info")
	r := rs[0]
	fill(b, r.Addr(), keys)
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	if n := c.DBSize(context.Background()).Val(); n != int64(keys) {
		b.Fatalf("DBSIZE %d after filling %d", n, keys)
	}
	b.ResetTimer()
	for range b.N {
		r.Kill()
		start := time.Now()
		r.Start()
		probe := fmt.Sprint("key:", keys-1)
		pt.WaitFor(b, 60*time.Second, "the replica to serve", func() bool {
			v, err := c.Get(context.Background(), probe).Result()
			return err == nil && v != ""
		})
		d := time.Since(start)
		fmt.Printf("storage recovery: %s keys, SIGKILL then restart until it serves GET: %s  target < 5s\n", thousands(float64(keys)), ms(d))
		b.ReportMetric(d.Seconds(), "recovery-s")
	}
}

// fill writes keys key:0..n-1 with 100-byte values, pipelined, showing
// progress.
func fill(tb testing.TB, addr string, n int) {
	const conns, batch = 4, 100 // 400 writes in flight: a heavy load, not an overload
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: conns})
	defer c.Close()
	value := strings.Repeat("x", 100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	start := time.Now()
	work := make(chan int)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := range work {
				pipe := c.Pipeline()
				for i := from; i < min(from+batch, n); i++ {
					pipe.Set(context.Background(), fmt.Sprint("key:", i), value, 0)
				}
				if _, err := pipe.Exec(context.Background()); err != nil {
					tb.Error(err)
				}
				mu.Lock()
				done += batch
				if done%100_000 == 0 {
					fmt.Fprintf(os.Stderr, "\rfilling: %s / %s keys (%.0fs)", thousands(float64(done)), thousands(float64(n)), time.Since(start).Seconds())
				}
				mu.Unlock()
			}
		}()
	}
	for from := 0; from < n; from += batch {
		work <- from
	}
	close(work)
	wg.Wait()
	fmt.Fprintln(os.Stderr)
}
