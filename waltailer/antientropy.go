package waltailer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"planet/internal/peer"
	"planet/internal/repl"
	"planet/internal/repl/decode"
)

// antiEntropy is the backstop of shipping: every AntiEntropyInterval it
// compares this region's digest (REPL.DIGEST of a local replica) with
// each remote region's (of one of its replicas). Buckets that differ for
// longer than RepairAfter, the in-flight window, are repaired: the keys of
// the bucket on both sides are listed (REPL.BUCKET), the newer entries
// are fetched (VGET) and applied on the side that is behind with
// REPL.APPLY (that region's write quorum), both ways. So a record whose
// log was lost before the tailer read it still reaches every region.
type antiEntropy struct {
	t *Tailer

	mu      sync.Mutex
	regions map[string]*aeRegion
}

type aeRegion struct {
	since map[int]time.Time // differing buckets: since when
	st    AntiEntropyStatus
}

// AntiEntropyStatus is the cross-region anti-entropy with one region.
type AntiEntropyStatus struct {
	LastRound        time.Time `json:"last_round,omitzero"`
	DifferingBuckets int       `json:"differing_buckets"`
	RepairedKeys     uint64    `json:"repaired_keys"`
	LastError        string    `json:"last_error,omitempty"`
}

// maxRepairBuckets bounds the buckets repaired with a region per round.
const maxRepairBuckets = 64

func newAntiEntropy(t *Tailer) *antiEntropy {
	return &antiEntropy{t: t, regions: make(map[string]*aeRegion)}
}

func (a *antiEntropy) region(r string) *aeRegion {
	st, ok := a.regions[r]
	if !ok {
		st = &aeRegion{since: make(map[int]time.Time)}
		a.regions[r] = st
	}
	return st
}

func (a *antiEntropy) status(r string) AntiEntropyStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.region(r).st
}

func (a *antiEntropy) run(ctx context.Context) {
	iv := a.t.cfg.AntiEntropyInterval
	if iv < 0 {
		return
	}
	for {
		jitter := time.Duration(rand.Int64N(int64(iv)/4 + 1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(iv + jitter):
		}
		for _, s := range a.t.allShippers() {
			if ctx.Err() != nil {
				return
			}
			err := a.round(ctx, s)
			a.mu.Lock()
			st := &a.region(s.region).st
			st.LastRound = time.Now().UTC()
			st.LastError = ""
			if err != nil {
				st.LastError = err.Error()
			}
			a.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				a.t.m.aeRounds.Inc(s.region, "error")
				a.t.log.Debug("waltailer: anti-entropy round failed", "remote", s.region, "err", err)
			}
		}
	}
}

// sides returns a local replica and one of the remote region's.
func (a *antiEntropy) sides(s *shipper) (local, remote *peer.Client, err error) {
	a.t.mu.Lock()
	locals := slices.Clone(a.t.local)
	a.t.mu.Unlock()
	s.mu.Lock()
	remotes := slices.Clone(s.addrs)
	s.mu.Unlock()
	if len(locals) == 0 || len(remotes) == 0 {
		return nil, nil, errors.New("no replica known on one side")
	}
	return a.t.pool.Get(locals[rand.IntN(len(locals))]), a.t.pool.Get(remotes[rand.IntN(len(remotes))]), nil
}

// round compares digests with the region of s and repairs the buckets
// that differed for longer than RepairAfter.
func (a *antiEntropy) round(ctx context.Context, s *shipper) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	local, remote, err := a.sides(s)
	if err != nil {
		return err
	}
	mine, err := digest(ctx, local)
	if err != nil {
		return fmt.Errorf("local %s: %w", local.Addr(), err)
	}
	theirs, err := digest(ctx, remote)
	if err != nil {
		return fmt.Errorf("%s %s: %w", s.region, remote.Addr(), err)
	}
	now := time.Now()
	var due []int
	a.mu.Lock()
	ar := a.region(s.region)
	differing := 0
	for b := range mine {
		if mine[b] == theirs[b] {
			delete(ar.since, b)
			continue
		}
		differing++
		first, ok := ar.since[b]
		if !ok {
			ar.since[b] = now
		} else if now.Sub(first) >= a.t.cfg.RepairAfter {
			due = append(due, b)
		}
	}
	ar.st.DifferingBuckets = differing
	a.mu.Unlock()
	if differing == 0 {
		a.t.m.aeRounds.Inc(s.region, "agree")
		return nil
	}
	if len(due) == 0 {
		a.t.m.aeRounds.Inc(s.region, "differ")
		return nil
	}
	rand.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
	due = due[:min(len(due), maxRepairBuckets)]
	var repaired uint64
	var errs []error
	for _, b := range due {
		n, err := a.repairBucket(ctx, s.region, local, remote, b)
		repaired += n
		if err != nil {
			errs = append(errs, fmt.Errorf("bucket %d: %w", b, err)) // the others still go
			continue
		}
		a.mu.Lock()
		delete(ar.since, b)
		a.mu.Unlock()
	}
	a.addRepaired(s.region, repaired)
	if len(errs) > 0 {
		return joinErrors(errs)
	}
	a.t.m.aeRounds.Inc(s.region, "repaired")
	if repaired > 0 {
		a.t.log.Info("waltailer: anti-entropy repaired keys", "remote", s.region, "buckets", len(due), "keys", repaired)
	}
	return nil
}

func (a *antiEntropy) addRepaired(region string, n uint64) {
	a.mu.Lock()
	a.region(region).st.RepairedKeys += n
	a.mu.Unlock()
}

// repairBucket makes both sides hold the newer entry of every key of
// bucket b, and returns how many keys it repaired.
func (a *antiEntropy) repairBucket(ctx context.Context, region string, local, remote *peer.Client, b int) (uint64, error) {
	mine, err := bucket(ctx, local, b)
	if err != nil {
		return 0, err
	}
	theirs, err := bucket(ctx, remote, b)
	if err != nil {
		return 0, err
	}
	pull, push := repl.PlanBucket(mine, theirs, nil)
	n, err := copyEntries(ctx, remote, local, pull)
	a.t.m.repaired.Add(float64(n), region, "pull")
	if err != nil {
		return uint64(n), err
	}
	m, err := copyEntries(ctx, local, remote, push)
	a.t.m.repaired.Add(float64(m), region, "push")
	return uint64(n + m), err
}

// copyEntries reads keys' entries from src (VGET) and applies them on
// dst's region with REPL.APPLY; it returns how many it applied.
func copyEntries(ctx context.Context, src, dst *peer.Client, keys [][]byte) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	items := make([]repl.Item, 0, len(keys))
	for _, k := range keys {
		r, err := src.Do(ctx, repl.AppendVGet(nil, k)...)
		if err != nil {
			return 0, err
		}
		it, found, err := decode.VGet(k, r)
		if err != nil {
			return 0, err
		}
		if found {
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return 0, nil
	}
	r, err := dst.Do(ctx, repl.AppendApply(nil, items)...)
	if err != nil {
		return 0, err
	}
	if r.Kind != peer.KindStatus {
		return 0, fmt.Errorf("REPL.APPLY: unexpected reply %v", r)
	}
	return len(items), nil
}

func digest(ctx context.Context, c *peer.Client) ([]uint64, error) {
	r, err := c.Do(ctx, repl.AppendDigest(nil)...)
	if err != nil {
		return nil, err
	}
	if r.Kind != peer.KindBulk {
		return nil, errors.New("REPL.DIGEST: want a bulk string")
	}
	d := make([]uint64, repl.DigestBuckets)
	return d, repl.ParseDigestBody(d, r.Str)
}

func bucket(ctx context.Context, c *peer.Client, b int) ([]repl.KeyVersion, error) {
	r, err := c.Do(ctx, repl.AppendBucket(nil, b)...)
	if err != nil {
		return nil, err
	}
	return decode.Bucket(r)
}
