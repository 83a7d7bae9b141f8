package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// System benchmarks of the cache (planet caching serve): redis-benchmark
// against the cache and a redis-server side by side, the cost of eventual
// replication to the caches of two other regions, and the latency of
// strong writes. Each does its whole measurement once, whatever b.N, and
// prints its figures for a human; run them with -benchtime 1x (make bench).

const (
	defaultCacheBenchN       = 500_000 // redis-benchmark -n; PLANET_BENCH_CACHE_N
	defaultCacheBenchRepeats = 3       // runs of each configuration; BENCH_CACHE_REPEATS
	defaultStrongOps         = 2000    // SETs in all; PLANET_BENCH_CACHE_STRONG_OPS
	strongClients            = 4       // concurrent clients of the strong SETs
	strongValueSize          = 64      // bytes, as redis-benchmark -d 64
	strongSample             = 20      // keys read back from nyc and ams
	peersWait                = 30 * time.Second
	peersFieldWait           = 5 * time.Second // INFO planet without peers: no replication
	convergeWait             = 10 * time.Second
)

// redisBenchTests are the tests of `redis-benchmark -t set,get,incr,mset`,
// as its CSV names them, in the order printed.
var redisBenchTests = []string{"SET", "GET", "INCR", "MSET (10 keys)"}

// pipelineTarget is one redis-benchmark configuration and its target.
type pipelineTarget struct {
	pipeline int     // redis-benchmark -P; 1 means none
	ratio    float64 // lowest acceptable ops/s of the measured system over the baseline's
}

// BenchmarkCacheVsRedis drives a cache without peers and a redis-server
// without persistence with the same redis-benchmark commands, alternately.
func BenchmarkCacheVsRedis(b *testing.B) {
	requireBinary(b, "redis-benchmark", "redis-tools")
	// startRedis turns the append-only file on; a later flag wins, so
	// this redis-server touches no disk, as the cache.
	_, addr := startRedis(b, "redis-server", "--appendonly", "no")
	cache := startCacheLogging(b, pt.StartDiscovery(b, "sfo").Regions["sfo"], "info")
	base, measured := addrEndpoint(b, "redis", addr), cacheEndpoint("cache", cache)
	fmt.Printf("BenchmarkCacheVsRedis: redis-server %s (--save \"\" --appendonly no) vs one cache without peers, alternately\n", redisVersion())
	b.ResetTimer()
	rows := compareThroughput(b, base, measured, []pipelineTarget{{1, 1.0}, {16, 0.6}})
	b.StopTimer()
	printThroughput(base, measured, rows)
	reportThroughput(b, rows)
}

// BenchmarkCacheEventualPeers drives the sfo cache, which replicates
// eventually to the caches of nyc and ams, and a cache without peers with
// the same redis-benchmark commands, alternately, then prints how many keys
// each cache holds.
func BenchmarkCacheEventualPeers(b *testing.B) {
	requireBinary(b, "redis-benchmark", "redis-tools")
	caches, replicating := startCacheRegions(b, "eventual")
	solo := startCacheLogging(b, pt.StartDiscovery(b, "solo").Regions["solo"], "info", "CACHE_MODE=eventual")
	base, measured := cacheEndpoint("solo", solo), cacheEndpoint("sfo+2 peers", caches[0])
	fmt.Printf("BenchmarkCacheEventualPeers: the sfo cache (CACHE_MODE=eventual, peers nyc and ams) vs a cache without peers, alternately\n")
	b.ResetTimer()
	rows := compareThroughput(b, base, measured, []pipelineTarget{{1, 0.7}, {16, 0.7}})
	b.StopTimer()
	printThroughput(base, measured, rows)
	reportThroughput(b, rows)
	printKeyCounts(b, caches, solo, replicating)
}

// BenchmarkCacheStrongLatency times SETs of distinct keys to the sfo
// cache in CACHE_MODE=strong, client side, then reads a sample of the keys
// from nyc and ams at once.
func BenchmarkCacheStrongLatency(b *testing.B) {
	caches, _ := startCacheRegions(b, "strong")
	ops := envInt(b, "PLANET_BENCH_CACHE_STRONG_OPS", defaultStrongOps)
	b.ResetTimer()
	res := timeSets(b, caches[0].Addr(), ops)
	b.StopTimer()
	fmt.Printf("BenchmarkCacheStrongLatency: %d SETs of distinct keys, %d-byte values, %d concurrent clients, to the sfo cache (CACHE_MODE=strong, peers nyc and ams)\n",
		ops, strongValueSize, strongClients)
	if len(res.latencies) == 0 {
		b.Fatalf("no SET returned OK; the first error: %s", res.failed[0])
	}
	p := summarize(res.latencies)
	rate := float64(len(res.latencies)) / res.elapsed.Seconds()
	fmt.Printf("  OK %d, errors %d; p50 %s p90 %s p99 %s max %s; %s ops/s\n",
		len(res.latencies), len(res.failed), ms(p.p50), ms(p.p90), ms(p.p99), ms(p.max), thousands(rate))
	for _, e := range res.failed[:min(len(res.failed), 5)] {
		fmt.Printf("  error: %s\n", e)
	}
	for _, c := range caches[1:] {
		fmt.Printf("  %s: %d of %d sampled keys readable right after the SETs\n", c.Name, readable(b, c, ops), strongSample)
	}
	b.ReportMetric(msFloat(p.p50), "p50-ms")
	b.ReportMetric(msFloat(p.p90), "p90-ms")
	b.ReportMetric(msFloat(p.p99), "p99-ms")
	b.ReportMetric(msFloat(p.max), "max-ms")
	b.ReportMetric(rate, "ops/s")
	if len(res.failed)*100 > ops {
		b.Fatalf("%d of %d SETs failed (more than 1%%)", len(res.failed), ops)
	}
}

// startCacheRegions starts the federated regions sfo, nyc and ams with one
// cache each in CACHE_MODE=mode, and waits until every cache reports its
// two peers. It returns the caches in that order, and false if the caches
// report no peers field (no replication yet).
func startCacheRegions(tb testing.TB, mode string) ([]*cacheProcess, bool) {
	tb.Helper()
	cluster := pt.StartDiscovery(tb, "sfo", "nyc", "ams")
	waitFederated(tb, cluster)
	var caches []*cacheProcess
	for _, name := range []string{"sfo", "nyc", "ams"} {
		caches = append(caches, startCacheLogging(tb, cluster.Regions[name], "info", "CACHE_MODE="+mode))
	}
	for _, c := range caches {
		if !waitCachePeers(tb, c, len(caches)-1) {
			return caches, false
		}
	}
	return caches, true
}

// waitCachePeers polls c's INFO planet until it reports n peers, failing
// tb after peersWait. It returns false, at once, if the peers field is
// still missing after peersFieldWait: a cache without replication.
func waitCachePeers(tb testing.TB, c *cacheProcess, n int) bool {
	tb.Helper()
	rc := newBenchClient(c.Addr(), 1)
	defer rc.Close()
	want := strconv.Itoa(n)
	start := time.Now()
	seen, missing := false, false
	pt.WaitFor(tb, peersWait, c.Name+" to report peers:"+want, func() bool {
		peers, ok := infoField(rc, "planet", "peers")
		seen = seen || ok
		missing = !seen && time.Since(start) > peersFieldWait
		return peers == want || missing
	})
	if missing {
		tb.Logf("replication not available: peers field missing (%s, INFO planet)", c.Name)
		return false
	}
	return true
}

// infoField returns field of INFO section, and whether it is there.
func infoField(rc *redis.Client, section, field string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	info, err := rc.Info(ctx, section).Result()
	if err != nil {
		return "", false
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, true
		}
	}
	return "", false
}

// newBenchClient is a go-redis client of addr with a pool of conns that
// does not retry: a failed command is an error.
func newBenchClient(addr string, conns int) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: conns, MaxRetries: -1,
		DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
	})
}

// envInt returns the positive integer in environment variable name, or def
// if it is unset.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// benchEndpoint is a RESP server that redis-benchmark drives.
type benchEndpoint struct {
	name string // its column in the tables
	host string
	port int
}

func cacheEndpoint(name string, c *cacheProcess) benchEndpoint {
	return benchEndpoint{name: name, host: c.host, port: c.port}
}

func addrEndpoint(tb testing.TB, name, addr string) benchEndpoint {
	tb.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		tb.Fatal(err)
	}
	return benchEndpoint{name: name, host: host, port: p}
}

// throughputRow is the median requests per second of one redis-benchmark
// test at one pipeline depth, for the baseline and the measured system.
type throughputRow struct {
	test string
	pipelineTarget
	base, measured float64
}

func (r throughputRow) ratio() float64 { return r.measured / r.base }

func (r throughputRow) met() bool { return r.ratio() >= r.pipelineTarget.ratio }

// compareThroughput runs redis-benchmark for every target's pipeline
// depth, BENCH_CACHE_REPEATS times, against base then measured each time
// (so that noise hits both), and returns the medians.
func compareThroughput(tb testing.TB, base, measured benchEndpoint, targets []pipelineTarget) []throughputRow {
	tb.Helper()
	n := envInt(tb, "PLANET_BENCH_CACHE_N", defaultCacheBenchN)
	repeats := envInt(tb, "BENCH_CACHE_REPEATS", defaultCacheBenchRepeats)
	type sampleKey struct {
		endpoint, test string
		pipeline       int
	}
	samples := make(map[sampleKey][]float64)
	for rep := range repeats {
		for _, t := range targets {
			for _, e := range []benchEndpoint{base, measured} {
				start := time.Now()
				for test, rps := range runRedisBenchmark(tb, e, n, t.pipeline) {
					k := sampleKey{e.name, test, t.pipeline}
					samples[k] = append(samples[k], rps)
				}
				fmt.Printf("  run %d/%d -P %d %-12s %5.1fs\n", rep+1, repeats, t.pipeline, e.name, time.Since(start).Seconds())
			}
		}
	}
	var rows []throughputRow
	for _, t := range targets {
		for _, test := range redisBenchTests {
			rows = append(rows, throughputRow{test: test, pipelineTarget: t,
				base:     median(samples[sampleKey{base.name, test, t.pipeline}]),
				measured: median(samples[sampleKey{measured.name, test, t.pipeline}])})
		}
	}
	fmt.Printf("  redis-benchmark -h H -p P -t set,get,incr,mset -n %d -c 50 -d 64 -r 100000 --csv -q [-P 16]; median of %d runs\n", n, repeats)
	return rows
}

// runRedisBenchmark runs redis-benchmark against e and returns the
// requests per second of every test; it fails tb if redis-benchmark fails,
// reports an error, or prints no figure for a test.
func runRedisBenchmark(tb testing.TB, e benchEndpoint, n, pipeline int) map[string]float64 {
	tb.Helper()
	args := []string{"-h", e.host, "-p", strconv.Itoa(e.port), "-t", "set,get,incr,mset",
		"-n", strconv.Itoa(n), "-c", "50", "-d", "64", "-r", "100000", "--csv", "-q"}
	if pipeline > 1 {
		args = append(args, "-P", strconv.Itoa(pipeline))
	}
	cmd := exec.Command("redis-benchmark", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil || strings.Contains(stdout.String()+stderr.String(), "Error from server") {
		tb.Fatalf("redis-benchmark %s (%s): %v\n%s%s", strings.Join(args, " "), e.name, err, stdout.String(), stderr.String())
	}
	rates, err := parseRedisBenchmarkCSV(stdout.Bytes())
	if err != nil {
		tb.Fatalf("redis-benchmark %s (%s): %v\n%s%s", strings.Join(args, " "), e.name, err, stdout.String(), stderr.String())
	}
	for _, test := range redisBenchTests {
		if _, ok := rates[test]; !ok {
			tb.Fatalf("redis-benchmark %s (%s): no figure for %s\n%s", strings.Join(args, " "), e.name, test, stdout.String())
		}
	}
	return rates
}

// errNoFigures is parseRedisBenchmarkCSV's error for output without a
// result row.
var errNoFigures = errors.New("no requests-per-second figures in the CSV")

// parseRedisBenchmarkCSV returns the requests per second of every test in
// redis-benchmark --csv output: the second column of each row. Redis 7
// prints a header row ("test","rps",...) and latency columns after it,
// older versions two columns and no header.
func parseRedisBenchmarkCSV(out []byte) (map[string]float64, error) {
	r := csv.NewReader(bytes.NewReader(out))
	r.FieldsPerRecord = -1
	rates := make(map[string]float64)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < 2 || rec[0] == "test" {
			continue
		}
		rps, err := strconv.ParseFloat(rec[1], 64)
		if err != nil {
			return nil, fmt.Errorf("test %q: requests per second %q: %w", rec[0], rec[1], err)
		}
		rates[rec[0]] = rps
	}
	if len(rates) == 0 {
		return nil, errNoFigures
	}
	return rates, nil
}

// median returns the median of xs, 0 if there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printThroughput prints rows as a table.
func printThroughput(base, measured benchEndpoint, rows []throughputRow) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "  command\tpipeline\t%s ops/s\t%s ops/s\tratio\ttarget\tverdict\n", base.name, measured.name)
	for _, r := range rows {
		verdict := "met"
		if !r.met() {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "  %s\t%d\t%s\t%s\t%.2f\t>= %.1f\t%s\n", r.test, r.pipeline,
			thousands(r.base), thousands(r.measured), r.ratio(), r.pipelineTarget.ratio, verdict)
	}
	w.Flush()
}

// reportThroughput reports the measured system's ops/s and its ratio to
// the baseline for every row ("set-P16-ratio").
func reportThroughput(b *testing.B, rows []throughputRow) {
	for _, r := range rows {
		name := fmt.Sprintf("%s-P%d", strings.ToLower(strings.Fields(r.test)[0]), r.pipeline)
		b.ReportMetric(r.measured, name+"-ops/s")
		b.ReportMetric(r.ratio(), name+"-ratio")
	}
}

// printKeyCounts prints the DBSIZE of the caches with peers and of solo.
// When the caches replicate, it first polls until those with peers agree,
// for convergeWait at most, without failing.
func printKeyCounts(tb testing.TB, peered []*cacheProcess, solo *cacheProcess, replicating bool) {
	tb.Helper()
	sizes := dbSizes(tb, peered)
	if replicating {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for deadline := time.Now().Add(convergeWait); !allEqual(sizes) && time.Now().Before(deadline); {
			<-tick.C
			sizes = dbSizes(tb, peered)
		}
	}
	for i, c := range peered {
		fmt.Printf("  %-14s DBSIZE %s\n", c.Name, thousands(float64(sizes[i])))
		rc := newBenchClient(c.Addr(), 1)
		info, _ := rc.Info(context.Background(), "planet").Result()
		rc.Close()
		for _, line := range strings.Split(info, "\n") {
			if strings.HasPrefix(line, "peer") && !strings.HasPrefix(line, "peers") || strings.HasPrefix(line, "received_") || strings.HasPrefix(line, "invalidations_received") {
				fmt.Printf("      %s\n", strings.TrimSpace(line))
			}
		}
	}
	fmt.Printf("  %-14s DBSIZE %s (no peers)\n", solo.Name, thousands(float64(dbSizes(tb, []*cacheProcess{solo})[0])))
	if replicating && !allEqual(sizes) {
		fmt.Printf("  the caches with peers did not agree within %v\n", convergeWait)
	}
}

func dbSizes(tb testing.TB, caches []*cacheProcess) []int64 {
	tb.Helper()
	sizes := make([]int64, len(caches))
	for i, c := range caches {
		rc := newBenchClient(c.Addr(), 1)
		n, err := rc.DBSize(context.Background()).Result()
		rc.Close()
		if err != nil {
			tb.Fatalf("DBSIZE of %s: %v", c.Name, err)
		}
		sizes[i] = n
	}
	return sizes
}

func allEqual(xs []int64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// setResult is what timeSets measured.
type setResult struct {
	latencies []time.Duration // of the SETs that returned OK
	failed    []string        // the errors of the others
	elapsed   time.Duration
}

// strongKey and strongValue are SET number i's key and its distinct
// strongValueSize-byte value.
func strongKey(i int) string   { return fmt.Sprintf("strong:%06d", i) }
func strongValue(i int) string { return fmt.Sprintf("%0*d", strongValueSize, i) }

// timeSets issues SETs 0..ops-1 to addr from strongClients goroutines and
// times each.
func timeSets(tb testing.TB, addr string, ops int) setResult {
	tb.Helper()
	rc := newBenchClient(addr, strongClients)
	defer rc.Close()
	var (
		next atomic.Int64
		mu   sync.Mutex
		res  setResult
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range strongClients {
		wg.Go(func() {
			var lat []time.Duration
			var failed []string
			for i := int(next.Add(1) - 1); i < ops; i = int(next.Add(1) - 1) {
				t0 := time.Now()
				reply, err := rc.Set(context.Background(), strongKey(i), strongValue(i), 0).Result()
				switch d := time.Since(t0); {
				case err != nil:
					failed = append(failed, err.Error())
				case reply != "OK":
					failed = append(failed, "reply "+reply)
				default:
					lat = append(lat, d)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.latencies = append(res.latencies, lat...)
			res.failed = append(res.failed, failed...)
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// readable returns how many of strongSample keys spread over the ops SETs
// c returns with their value.
func readable(tb testing.TB, c *cacheProcess, ops int) int {
	tb.Helper()
	rc := newBenchClient(c.Addr(), 1)
	defer rc.Close()
	n := 0
	for j := range strongSample {
		i := j * ops / strongSample
		if v, err := rc.Get(context.Background(), strongKey(i)).Result(); err == nil && v == strongValue(i) {
			n++
		}
	}
	return n
}

// TestParseRedisBenchmarkCSV: both CSV formats of redis-benchmark, and
// output without figures.
func TestParseRedisBenchmarkCSV(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      map[string]float64
		err       bool
	}{
		{"redis 7", `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","43478.26","0.640","0.232","0.559","0.767","3.615","4.135"
"MSET (10 keys)","45454.55","0.734","0.192","0.623","1.367","2.271","2.631"
`, map[string]float64{"SET": 43478.26, "MSET (10 keys)": 45454.55}, false},
		{"two columns", "\"SET\",\"123456.78\"\r\n\"GET\",\"150000.00\"\r\n", map[string]float64{"SET": 123456.78, "GET": 150000}, false},
		{"empty", "", nil, true},
		{"header only", `"test","rps"` + "\n", nil, true},
		{"not a number", `"SET","fast"` + "\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRedisBenchmarkCSV([]byte(tc.out))
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error: %v", err, tc.err)
			}
			if !tc.err && !maps.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
