// Package verify checks that every storage replica of every region holds
// the same data, for `planet verify`.
//
// A comparison reads each replica's anti-entropy digest (REPL.DIGEST: one
// hash per digest bucket) and live key count (DBSIZE), takes as reference
// the digest that the most replicas hold, and reports the replicas whose
// digest differs from it, or that did not answer, as disagreeing. When some
// disagree it lists the buckets that differ and samples keys from them
// whose versions differ between replicas (REPL.BUCKET), with each
// replica's version.
//
// Replicas are read one after another, not at one instant: while writes
// are in flight, replicas that are converging may differ for a moment.
// Wait compares again until they agree or time is up.
//
// REPL.DIGEST and REPL.BUCKET are internal commands: with a platform
// secret, the connections authenticate as the platform user.
package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"planet/discovery/api"
	"planet/discovery/client"
	"planet/internal/peer"
	"planet/internal/repl"
	"planet/internal/secret"
)

// ServiceName is the discovery name of the storage replicas.
const ServiceName = "storage"

// Defaults for the zero fields of Config.
const (
	DefaultSample   = 10
	DefaultTimeout  = 5 * time.Second
	DefaultInterval = 200 * time.Millisecond
)

// maxSampleBuckets bounds the differing buckets whose keys are listed in
// one report, so that a replica that lost everything costs a bounded
// number of REPL.BUCKET round trips.
const maxSampleBuckets = 64

// ErrNoSource is returned by New for a Config with neither Discovery nor
// Replicas.
var ErrNoSource = errors.New("verify: no discovery client and no replicas given")

// Lister lists a service's instances in every region; *client.Client is
// one.
type Lister interface {
	List(ctx context.Context, name string) ([]api.Instance, error)
}

var _ Lister = (*client.Client)(nil)

// Target is one storage replica to compare.
type Target struct {
	Region  string
	Address string // RESP "host:port"
}

// Config configures a Verifier.
type Config struct {
	// Discovery lists the storage replicas of every region at each
	// comparison. Required unless Replicas is set.
	Discovery Lister
	// Replicas, when not empty, are compared instead of the replicas
	// Discovery lists.
	Replicas []Target
	// Secret is the mesh's platform secret: connections authenticate as
	// secret.PlatformUser with its RESP password. Nil: no platform
	// authentication (a platform without a secret).
	Secret *secret.Secret
	// Password is the applications' password (STORAGE_PASSWORD), used
	// only when Secret is nil. Empty: no AUTH.
	Password string
	// Sample is the most keys a report lists from the differing buckets.
	// 0 means DefaultSample; negative means none.
	Sample int
	// Timeout bounds the replies of one replica in one comparison. 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Interval is the period at which Wait compares. 0 means
	// DefaultInterval.
	Interval time.Duration
	// Now is the clock of Wait's deadline. Nil means time.Now.
	Now func() time.Time
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Sample == 0 {
		c.Sample = DefaultSample
	}
	if c.Sample < 0 {
		c.Sample = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// replicaReader reads replicas: over RESP (peerReader), or a fake in tests.
type replicaReader interface {
	// readState returns the replica's live keys and digest.
	readState(ctx context.Context, addr string) (keys int64, digest []uint64, err error)
	// readBucket returns the replica's versions of one digest bucket's
	// keys, tombstones included, by key.
	readBucket(ctx context.Context, addr string, bucket int) (map[string]string, error)
	// retain drops the connections to addresses not in addrs.
	retain(addrs []string)
	Close() error
}

// Verifier compares the storage replicas, keeping its connections to them
// from one comparison to the next. It is not safe for concurrent use.
type Verifier struct {
	cfg    Config
	reader replicaReader
}

// New returns a Verifier for cfg. Close it when done.
func New(cfg Config) (*Verifier, error) {
	cfg = cfg.withDefaults()
	pc := peer.Config{Conns: 1, IOTimeout: cfg.Timeout}
	switch {
	case cfg.Secret != nil:
		pc.Username, pc.Password = secret.PlatformUser, cfg.Secret.RESPPassword()
	case cfg.Password != "":
		pc.Password = cfg.Password
	}
	return newVerifier(cfg, &peerReader{pool: peer.NewPool(pc), timeout: cfg.Timeout})
}

// newVerifier returns a Verifier for cfg (with defaults) that reads
// replicas through r.
func newVerifier(cfg Config, r replicaReader) (*Verifier, error) {
	if cfg.Discovery == nil && len(cfg.Replicas) == 0 {
		r.Close()
		return nil, ErrNoSource
	}
	return &Verifier{cfg: cfg, reader: r}, nil
}

// Close closes the connections to the replicas.
func (v *Verifier) Close() error { return v.reader.Close() }

// Check compares the replicas once, using a Verifier for cfg.
func Check(ctx context.Context, cfg Config) (*Report, error) {
	v, err := New(cfg)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.Check(ctx)
}

// Check compares the replicas once. An error means that the replicas could
// not be listed; a replica that does not answer is in the report.
func (v *Verifier) Check(ctx context.Context) (*Report, error) {
	return v.Wait(ctx, 0, nil)
}

// Wait compares the replicas every Config.Interval until they agree or
// wait has passed, and returns the last comparison, with samples if it
// disagrees. progress, if not nil, is called with each comparison that
// disagrees and will be followed by another. Failures to list the replicas
// are retried until the time is up; then the last one is returned.
func (v *Verifier) Wait(ctx context.Context, wait time.Duration, progress func(*Report)) (*Report, error) {
	deadline := v.cfg.Now().Add(wait)
	for {
		r, err := v.compare(ctx)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx) // the replies are cut short
		}
		left := deadline.Sub(v.cfg.Now())
		if err == nil && r.Agree() || left <= 0 {
			if err != nil {
				return nil, err
			}
			v.sample(ctx, r)
			return r, nil
		}
		if err == nil && progress != nil {
			progress(r)
		}
		if err := sleep(ctx, min(v.cfg.Interval, left)); err != nil {
			return nil, err
		}
	}
}

// sleep waits for d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// targets returns the replicas to compare, by region then address, each
// address once.
func (v *Verifier) targets(ctx context.Context) ([]Target, error) {
	ts := slices.Clone(v.cfg.Replicas)
	if len(ts) == 0 {
		instances, err := v.cfg.Discovery.List(ctx, ServiceName)
		if err != nil {
			return nil, fmt.Errorf("listing storage replicas: %w", err)
		}
		for _, in := range instances {
			ts = append(ts, Target{Region: in.Region, Address: in.Address})
		}
	}
	slices.SortFunc(ts, func(a, b Target) int {
		return cmp.Or(cmp.Compare(a.Region, b.Region), cmp.Compare(a.Address, b.Address))
	})
	return slices.CompactFunc(ts, func(a, b Target) bool { return a.Address == b.Address }), nil
}

// compare reads every replica's state at once and compares the digests.
func (v *Verifier) compare(ctx context.Context) (*Report, error) {
	ts, err := v.targets(ctx)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, len(ts))
	states := make([]replicaState, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		addrs[i] = t.Address
		wg.Go(func() {
			keys, digest, err := v.reader.readState(ctx, t.Address)
			states[i] = replicaState{Target: t, keys: keys, digest: digest, err: err}
		})
	}
	wg.Wait()
	v.reader.retain(addrs)
	return compare(states), nil
}

// sample lists up to Config.Sample keys of r's differing buckets whose
// versions differ, reading at most maxSampleBuckets buckets. A replica
// that fails to list a bucket gets that error in r.
func (v *Verifier) sample(ctx context.Context, r *Report) {
	if r.Agree() || v.cfg.Sample == 0 {
		return
	}
	var reachable []int // indexes into r.Replicas
	for i, rep := range r.Replicas {
		if rep.Error == "" {
			reachable = append(reachable, i)
		}
	}
	for n, b := range r.DifferingBuckets {
		if n == maxSampleBuckets || len(r.Samples) >= v.cfg.Sample || len(reachable) < 2 {
			return
		}
		listings := make([]bucketListing, len(reachable))
		errs := make([]error, len(reachable))
		var wg sync.WaitGroup
		for j, i := range reachable {
			listings[j].address = r.Replicas[i].Address
			wg.Go(func() { listings[j].versions, errs[j] = v.reader.readBucket(ctx, listings[j].address, b) })
		}
		wg.Wait()
		ok := listings[:0]
		for j, i := range reachable {
			if errs[j] != nil {
				r.Replicas[i].fail(errs[j])
				continue
			}
			ok = append(ok, listings[j])
		}
		r.Samples = append(r.Samples, diffBucket(b, ok, v.cfg.Sample-len(r.Samples))...)
		reachable = slices.DeleteFunc(reachable, func(i int) bool { return r.Replicas[i].Error != "" })
	}
}

// peerReader reads replicas over RESP with one pooled client each.
type peerReader struct {
	pool    *peer.Pool
	timeout time.Duration
}

var _ replicaReader = (*peerReader)(nil)

func (p *peerReader) readState(ctx context.Context, addr string) (int64, []uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c := p.pool.Get(addr)
	r, err := c.Do(ctx, repl.AppendDigest(nil)...)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", repl.Digest, err)
	}
	if r.Kind != peer.KindBulk {
		return 0, nil, fmt.Errorf("%s: %s reply, want bulk", repl.Digest, r.Kind)
	}
	digest := make([]uint64, repl.DigestBuckets)
	if err := repl.ParseDigestBody(digest, r.Str); err != nil {
		return 0, nil, err
	}
	if r, err = c.Do(ctx, []byte("DBSIZE")); err != nil {
		return 0, nil, fmt.Errorf("DBSIZE: %w", err)
	}
	if r.Kind != peer.KindInt {
		return 0, nil, fmt.Errorf("DBSIZE: %s reply, want int", r.Kind)
	}
	return r.Int, digest, nil
}

func (p *peerReader) readBucket(ctx context.Context, addr string, bucket int) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	r, err := p.pool.Get(addr).Do(ctx, repl.AppendBucket(nil, bucket)...)
	if err != nil {
		return nil, fmt.Errorf("%s %d: %w", repl.Bucket, bucket, err)
	}
	if r.Kind != peer.KindArray || len(r.Array)%2 != 0 {
		return nil, fmt.Errorf("%s %d: want [key, version, ...], got %s reply of %d", repl.Bucket, bucket, r.Kind, len(r.Array))
	}
	versions := make(map[string]string, len(r.Array)/2)
	for i := 0; i < len(r.Array); i += 2 {
		versions[string(r.Array[i].Str)] = string(r.Array[i+1].Str)
	}
	return versions, nil
}

func (p *peerReader) retain(addrs []string) { p.pool.Retain(addrs) }

func (p *peerReader) Close() error { return p.pool.Close() }
