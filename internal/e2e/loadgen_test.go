package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load generator of the storage benchmark: one for every system, so
// that each sees the same clients, the same keys in the same order and the
// same values. Only the connection (kvConn) differs.

// loadConfig is the load that every system of BenchmarkStorageVsRedis gets.
type loadConfig struct {
	// Clients is the number of concurrent clients, each with one connection
	// of its own and one operation in flight. Default 50.
	Clients int
	// Ops is the number of operations of each phase (SET, then GET).
	// Default 100,000.
	Ops int
	// Keys is the size of the key space. The SET phase writes
	// min(Ops, Keys) distinct keys in a scattered order; the GET phase
	// reads keys among those. Default 100,000.
	Keys int
	// ValueSize is the size of every value, bytes. Default 256.
	ValueSize int
}

const (
	defaultBenchClients = 50
	defaultBenchOps     = 100_000
	defaultBenchKeys    = 100_000
	benchValueSize      = 256
	valuePool           = 1024 // distinct values, reused round-robin
)

// loadFromEnv returns the default load with PLANET_BENCH_CLIENTS,
// PLANET_BENCH_OPS and PLANET_BENCH_KEYS applied (to shorten smoke runs).
func loadFromEnv(tb testing.TB) loadConfig {
	tb.Helper()
	l := loadConfig{Clients: defaultBenchClients, Ops: defaultBenchOps, Keys: defaultBenchKeys, ValueSize: benchValueSize}
	for _, knob := range []struct {
		env string
		to  *int
	}{{"PLANET_BENCH_CLIENTS", &l.Clients}, {"PLANET_BENCH_OPS", &l.Ops}, {"PLANET_BENCH_KEYS", &l.Keys}} {
		s := os.Getenv(knob.env)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			tb.Fatalf("%s=%q: want a positive integer", knob.env, s)
		}
		*knob.to = n
	}
	return l
}

// written is the number of distinct keys the SET phase writes.
func (l loadConfig) written() int { return min(l.Ops, l.Keys) }

// key returns the name of key number k of the key space.
func (l loadConfig) key(k int) string { return fmt.Sprintf("bench:%08d", k) }

// setKey returns the key that SET number i writes: i scattered over the
// key space, so that the first min(Ops, Keys) SETs write distinct keys in
// an order that is neither sequential nor the same as the GETs'.
func (l loadConfig) setKey(i int) int { return scatter(i, l.Keys) }

// getKey returns the key that GET number i reads: a pseudo-random one of
// the keys the SET phase wrote, the same sequence for every system.
func (l loadConfig) getKey(i int) int {
	return l.setKey(int(splitmix64(uint64(i)) % uint64(l.written())))
}

// scatter maps 0..n-1 one to one onto 0..n-1 (i*step mod n with step
// coprime to n), and wraps around for i >= n.
func scatter(i, n int) int {
	step := 1_000_003 % n
	for gcd(step, n) != 1 {
		step++
	}
	return int(uint64(i%n) * uint64(step) % uint64(n))
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// splitmix64 is a fixed, well-mixed hash of i.
func splitmix64(i uint64) uint64 {
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// values returns valuePool random alphanumeric values of l.ValueSize bytes
// (incompressible enough that no system gains from compressing them), the
// same for every system.
func (l loadConfig) values() []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	r := rand.New(rand.NewPCG(1, 2))
	vs := make([]string, valuePool)
	b := make([]byte, l.ValueSize)
	for i := range vs {
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		vs[i] = string(b)
	}
	return vs
}

// kvConn is one client's connection to a system under test. Calls on one
// kvConn are never concurrent.
type kvConn interface {
	// Set writes value under key and returns once the system acknowledged
	// it as its replication setting promises.
	Set(ctx context.Context, key, value string) error
	// Get reads key; found is false if the system has no such key.
	Get(ctx context.Context, key string) (value string, found bool, err error)
	Close() error
}

type phase int

const (
	phaseSet phase = iota
	phaseGet
)

func (p phase) String() string { return [...]string{"SET", "GET"}[p] }

// phaseResult is what one phase measured: wall time and per-op latency.
type phaseResult struct {
	ops     int
	elapsed time.Duration
	lat     percentiles
	cpu     time.Duration // server CPU, summed over the system's processes
	settled bool          // the processes were idle again when cpu was read
}

func (r phaseResult) opsPerSec() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r phaseResult) cpuPerOp() time.Duration { return r.cpu / time.Duration(r.ops) }

// run drives l.Ops operations of phase p through conns (one goroutine per
// conn, each taking the next operation number when it finishes one) and
// times each. The first error stops the phase and is returned.
func (l loadConfig) run(conns []kvConn, values []string, p phase) (phaseResult, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lat := make([]time.Duration, l.Ops)
	var next atomic.Int64
	var once sync.Once
	var firstErr error
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= l.Ops {
					return
				}
				t0 := time.Now()
				err := l.op(ctx, c, values, p, i)
				lat[i] = time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("%s #%d: %w", p, i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return phaseResult{}, firstErr
	}
	return phaseResult{ops: l.Ops, elapsed: elapsed, lat: summarize(lat)}, nil
}

// op runs operation number i of phase p on c.
func (l loadConfig) op(ctx context.Context, c kvConn, values []string, p phase, i int) error {
	if p == phaseSet {
		return c.Set(ctx, l.key(l.setKey(i)), values[i%len(values)])
	}
	key := l.key(l.getKey(i))
	v, found, err := c.Get(ctx, key)
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("GET %s: not found, but the SET phase wrote it", key)
	case len(v) != l.ValueSize:
		return fmt.Errorf("GET %s: %d bytes, want %d", key, len(v), l.ValueSize)
	}
	return nil
}

// TestLoadKeysAreDistinct: the SET phase writes min(Ops, Keys) distinct
// keys of the key space, and the GET phase reads only those.
func TestLoadKeysAreDistinct(t *testing.T) {
	type load struct{ ops, keys int }
	loads := []load{{100_000, 100_000}, {50_000, 100_000}}
	for n := 1; n <= 300; n++ {
		loads = append(loads, load{n, n}, load{max(n/2, 1), n}, load{3 * n, n})
	}
	for _, tc := range loads {
		l := loadConfig{Ops: tc.ops, Keys: tc.keys}
		seen := make(map[int]bool, l.written())
		for i := range l.written() {
			k := l.setKey(i)
			if k < 0 || k >= tc.keys || seen[k] {
				t.Fatalf("%+v: SET #%d writes key %d: outside the key space or written before", tc, i, k)
			}
			seen[k] = true
		}
		for i := range tc.ops {
			if k := l.getKey(i); !seen[k] {
				t.Fatalf("%+v: GET #%d reads key %d, which the SET phase did not write", tc, i, k)
			}
		}
	}
}
