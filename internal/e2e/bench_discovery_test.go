package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// System benchmarks of discovery: three real regions on loopback. They run
// one scenario per b.N iteration and print their figures for a human; run
// them with -benchtime 1x (make bench).

const (
	propagationCount    = 100              // registrations measured per run
	propagationDeadline = 10 * time.Second // per registration
	listClients         = 50               // concurrent HTTP clients
	defaultLoadDuration = 5 * time.Second  // overridden by BENCH_DURATION
)

// BenchmarkDiscoveryPropagation measures how long a registration in sfo
// takes to be listed in both nyc and ams.
func BenchmarkDiscoveryPropagation(b *testing.B) {
	c := pt.StartDiscovery(b, "sfo", "nyc", "ams")
	waitFederated(b, c)
	sfo, nyc, ams := c.Regions["sfo"], c.Regions["nyc"], c.Regions["ams"]
	b.ResetTimer()
	for iter := range b.N {
		delays := make([]time.Duration, propagationCount)
		for i := range delays {
			name := fmt.Sprintf("prop-%d-%d", iter, i)
			port := 20000 + i
			start := time.Now()
			pt.Register(b, sfo.Addr(), name, fmt.Sprintf("127.0.0.1:%d", port), "10m")
			want := net.JoinHostPort(sfo.IP, fmt.Sprint(port)) // rewritten to sfo's WG_IP
			delays[i] = waitListedIn(b, start, name, want, "sfo", nyc, ams)
		}
		p := summarize(delays)
		fmt.Printf("discovery propagation (%d registrations, sfo -> nyc+ams): median %s p90 %s p99 %s max %s  target p99 < 1s\n",
			len(delays), ms(p.p50), ms(p.p90), ms(p.p99), ms(p.max))
		b.ReportMetric(msFloat(p.p50), "median-ms")
		b.ReportMetric(msFloat(p.p99), "p99-ms")
	}
}

// waitListedIn polls every region in parallel, every millisecond, until
// each lists name at address from origin, and returns the time from start
// until the last one did.
func waitListedIn(tb testing.TB, start time.Time, name, address, origin string, regions ...*pt.Region) time.Duration {
	tb.Helper()
	seen := make([]time.Duration, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Go(func() {
			deadline := start.Add(propagationDeadline)
			for time.Now().Before(deadline) {
				if pt.Has(pt.List(r.Addr(), name, ""), address, origin) {
					seen[i] = time.Since(start)
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	for i, d := range seen {
		if d == 0 {
			tb.Fatalf("%s (%s) not listed in %s within %v", name, address, regions[i].Name, propagationDeadline)
		}
	}
	return slices.Max(seen)
}

// BenchmarkDiscoveryList drives GET /v1/services/{name} against one region
// holding 1,000 instances of 100 services spread over three regions, then
// the same against one service with 1,000 instances.
func BenchmarkDiscoveryList(b *testing.B) {
	duration := loadDuration(b)
	c := pt.StartDiscovery(b, "sfo", "nyc", "ams")
	waitFederated(b, c)
	regions := []*pt.Region{c.Regions["sfo"], c.Regions["nyc"], c.Regions["ams"]}
	nyc := c.Regions["nyc"]

	const services, perService, bigCount = 100, 10, 1000
	want := make(map[string]int)
	var names []string
	for s := range services {
		name := fmt.Sprintf("svc-%03d", s)
		names = append(names, name)
		want[name] = perService
		for k := range perService {
			r := regions[(s*perService+k)%len(regions)]
			pt.Register(b, r.Addr(), name, fmt.Sprintf("10.%d.%d.%d:8080", 1+s/250, s%250, 1+k), "10m")
		}
	}
	want["big"] = bigCount
	for i := range bigCount {
		pt.Register(b, regions[i%len(regions)].Addr(), "big", fmt.Sprintf("10.200.%d.%d:9000", i/250, 1+i%250), "10m")
	}
	waitCounts(b, nyc.Addr(), want, 60*time.Second)
	b.ResetTimer()

	for range b.N {
		small := driveList(b, nyc.Addr(), names, duration)
		fmt.Printf("discovery list (%d instances of %d services in 3 regions, %d clients, %v, GET nyc): %s req/s p50 %s p99 %s errors %d  target >= 20,000 req/s\n",
			services*perService, services, listClients, duration, thousands(small.rate()), ms(small.p.p50), ms(small.p.p99), small.errors)
		big := driveList(b, nyc.Addr(), []string{"big"}, duration)
		fmt.Printf("discovery list big (one service with %d instances, %d clients, %v, GET nyc): %s req/s p50 %s p99 %s errors %d  (informational)\n",
			bigCount, listClients, duration, thousands(big.rate()), ms(big.p.p50), ms(big.p.p99), big.errors)
		for _, r := range []loadResult{small, big} {
			if r.errors > 0 {
				b.Fatalf("%d of %d requests failed; first: %v", r.errors, r.requests, r.firstErr)
			}
		}
		b.ReportMetric(small.rate(), "req/s")
		b.ReportMetric(msFloat(small.p.p99), "p99-ms")
		b.ReportMetric(big.rate(), "big-req/s")
		b.ReportMetric(msFloat(big.p.p99), "big-p99-ms")
	}
}

// loadDuration is how long each load phase runs: BENCH_DURATION or 5s.
func loadDuration(tb testing.TB) time.Duration {
	v := os.Getenv("BENCH_DURATION")
	if v == "" {
		return defaultLoadDuration
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("BENCH_DURATION=%q: want a positive Go duration such as 5s", v)
	}
	return d
}

// waitCounts polls addr until every service in want lists exactly its
// number of instances.
func waitCounts(tb testing.TB, addr string, want map[string]int, timeout time.Duration) {
	tb.Helper()
	pending := maps.Clone(want)
	pt.WaitFor(tb, timeout, fmt.Sprintf("%s lists every registered instance", addr), func() bool {
		for name, n := range pending {
			if len(pt.List(addr, name, "")) != n {
				return false
			}
			delete(pending, name)
		}
		return true
	})
}

type loadResult struct {
	requests, errors int
	firstErr         error
	elapsed          time.Duration
	p                percentiles
}

func (r loadResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// driveList runs listClients goroutines, each with one keep-alive
// connection, that GET random names from addr for d, one request in flight
// per connection. The load generator speaks HTTP/1.1 directly (as wrk
// does) rather than through net/http's client, which would take most of
// the machine's two cores from the server it measures.
func driveList(tb testing.TB, addr string, names []string, d time.Duration) loadResult {
	reqs := make([][]byte, len(names))
	for i, n := range names {
		reqs[i] = []byte("GET /v1/services/" + n + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	}
	type clientResult struct {
		latencies []time.Duration
		errors    int
		firstErr  error
	}
	results := make([]clientResult, listClients)
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			res := &results[i]
			res.latencies = make([]time.Duration, 0, 1<<14)
			var c *rawConn
			for time.Now().Before(end) {
				if c == nil {
					var err error
					if c, err = dialRaw(addr); err != nil {
						res.errors++
						res.firstErr = cmp.Or(res.firstErr, err)
						continue
					}
				}
				t := time.Now()
				err := c.get(reqs[rand.IntN(len(reqs))])
				res.latencies = append(res.latencies, time.Since(t))
				if err != nil {
					res.errors++
					res.firstErr = cmp.Or(res.firstErr, err)
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
		})
	}
	wg.Wait()
	out := loadResult{elapsed: time.Since(start)}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.latencies...)
		out.errors += r.errors
		out.firstErr = cmp.Or(out.firstErr, r.firstErr)
	}
	out.requests = len(all)
	if out.requests == 0 {
		tb.Fatal("no request completed")
	}
	out.p = summarize(all)
	return out
}

// rawConn is a minimal HTTP/1.1 keep-alive client connection.
type rawConn struct {
	net.Conn
	r    *bufio.Reader
	body []byte
}

func dialRaw(addr string) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// get sends req and reads the whole response; anything but 200 with a
// Content-Length is an error.
func (c *rawConn) get(req []byte) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(req); err != nil {
		return err
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("status %q", bytes.TrimSpace(status))
	}
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 {
		return errors.New("no Content-Length")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	_, err = io.ReadFull(c.r, c.body[:length])
	return err
}

type percentiles struct{ p50, p90, p99, max time.Duration }

// summarize sorts ds and returns its nearest-rank percentiles.
func summarize(ds []time.Duration) percentiles {
	slices.Sort(ds)
	return percentiles{p50: nearestRank(ds, 50), p90: nearestRank(ds, 90), p99: nearestRank(ds, 99), max: ds[len(ds)-1]}
}

// nearestRank returns the p-th percentile of sorted: the smallest value
// with at least p% of the values at or below it.
func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	return sorted[max(rank, 1)-1]
}

func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", msFloat(d)) }

// thousands formats f rounded to an integer with comma separators.
func thousands(f float64) string {
	s := fmt.Sprintf("%d", int64(f+0.5))
	var out strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteByte(',')
		}
		out.WriteRune(c)
	}
	return out.String()
}
