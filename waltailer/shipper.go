package waltailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"planet/internal/peer"
	"planet/internal/repl"
	"planet/storage/wal"
)

// shipper ships this region's records to one remote region: it gathers
// batches from every local WAL (a source each, with its own cursor),
// sends each to one replica of the region with REPL.APPLY, and moves the
// cursors once the region acknowledged. One batch is in flight at a time;
// the backlog stays in the WAL files.
type shipper struct {
	t      *Tailer
	region string
	log    *slog.Logger
	wake   chan struct{}
	// changed is signalled when the region's replicas change: a region
	// that comes back is retried at once, not after the backoff.
	changed chan struct{}
	recent  *recentSet

	sources map[string]*source // by WAL name; the run goroutine's

	mu        sync.Mutex
	addrs     []string // the region's storage replicas
	preferred string   // the replica that took the last batch
	st        RegionStatus
	oldest    time.Time // of the pending batch
	srcErrs   map[string]string
}

func newShipper(t *Tailer, region string) *shipper {
	return &shipper{t: t, region: region, log: t.log.With("remote", region),
		wake: make(chan struct{}, 1), changed: make(chan struct{}, 1), recent: newRecentSet(t.cfg.DedupWindow),
		sources: make(map[string]*source), srcErrs: make(map[string]string),
		st: RegionStatus{Region: region, State: "starting"}}
}

// setAddrs replaces the region's replicas (from discovery).
func (s *shipper) setAddrs(addrs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Equal(s.addrs, addrs) {
		s.addrs = addrs
		s.poke()
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}
}

func (s *shipper) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *shipper) run(ctx context.Context) {
	defer func() {
		for _, src := range s.sources {
			src.close()
		}
	}()
	b := newBatch(s.t.cfg.BatchRecords, s.t.cfg.BatchBytes, s.recent)
	// With inotify a write wakes the shipper; the poll is a backstop.
	// Without, it polls every PollMin, doubling to PollMax while idle.
	first := s.t.cfg.PollMin
	if s.t.notify != nil {
		first = s.t.cfg.PollMax
	}
	pause := first
	for ctx.Err() == nil {
		s.syncSources()
		moved := s.gather(b)
		if b.empty() {
			if moved {
				// Only other regions' records, or copies of records
				// sent: nothing to send.
				s.t.m.duplicates.Add(float64(b.dups), s.region)
				s.acknowledge(b)
				continue
			}
			s.setState("ok", "")
			s.wait(ctx, pause)
			pause = min(2*pause, s.t.cfg.PollMax)
			continue
		}
		pause = first
		if s.send(ctx, b) {
			s.acknowledge(b)
		}
	}
}

// syncSources adds a source per local WAL that has none.
func (s *shipper) syncSources() {
	for _, name := range s.t.walNames() {
		if _, ok := s.sources[name]; ok {
			continue
		}
		src := &source{name: name, dir: s.t.walDir(name), self: s.t.cfg.Region, region: s.region,
			log: s.t.log, m: s.t.m}
		if pos, ok := s.t.cursors.get(name, s.region); ok {
			src.acked, src.read = pos, pos
		} else {
			src.fresh = true
		}
		s.sources[name] = src
	}
}

// gather fills b from the sources in turn, each up to its share, and
// reports whether any source read anything.
func (s *shipper) gather(b *batch) bool {
	moved := false
	names := slices.Sorted(maps.Keys(s.sources))
	// The sources take turns, a share of a batch each, so that the local
	// WALs, which hold copies of the same records, are read in step: the
	// copies of a record then meet in one batch or the next few, and
	// the dedup window need not hold a whole backlog.
	quota := max(1, b.maxRecords/max(1, len(names)))
	for progress := true; progress && !b.full(); {
		progress = false
		for _, name := range names {
			p, err := s.sources[name].gather(b, quota)
			progress = progress || p
			s.sourceError(name, err)
		}
		moved = moved || progress
	}
	if !b.empty() {
		s.mu.Lock()
		s.oldest = b.oldest
		s.mu.Unlock()
	}
	return moved
}

// sourceError records (and logs once) why a source cannot read.
func (s *shipper) sourceError(name string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.mu.Lock()
	changed := s.srcErrs[name] != msg
	if msg == "" {
		delete(s.srcErrs, name)
	} else {
		s.srcErrs[name] = msg
	}
	s.mu.Unlock()
	if changed && msg != "" {
		s.log.Warn("waltailer: cannot read a WAL (retrying)", "wal", name, "err", err)
	}
}

// send sends b until the region acknowledges it (true) or ctx ends: to
// the replica that took the last batch, else to the others in turn,
// backing off with jitter after every replica failed.
func (s *shipper) send(ctx context.Context, b *batch) bool {
	args := repl.AppendApply(make([][]byte, 0, 1+b.args()), b.items)
	size := b.commandSize()
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if addr, err := s.tryReplicas(ctx, args, size); err == nil {
			s.mu.Lock()
			s.preferred = addr
			s.st.LastAck = time.Now().UTC()
			s.st.Target = addr
			s.mu.Unlock()
			s.t.m.shipped.Add(float64(len(b.items)), s.region)
			s.t.m.walBytes.Add(float64(b.walSize), s.region)
			s.t.m.duplicates.Add(float64(b.dups), s.region)
			s.t.m.resent.Add(float64(b.resent), s.region)
			return true
		} else {
			state := "retrying"
			if rejected(err) {
				// Every replica refused the batch itself (not a
				// quorum or a connection): retrying will not help
				// until someone acts, but skipping would lose it.
				state = "rejected"
			}
			s.setState(state, err.Error())
			s.mu.Lock()
			s.st.Retries++
			s.mu.Unlock()
			switch {
			case state == "rejected" && attempt%20 == 0:
				s.log.Error("waltailer: remote region rejects a batch (retrying; check both regions' versions and limits)", "records", len(b.items), "err", err)
			case attempt == 0:
				s.log.Warn("waltailer: remote region did not acknowledge a batch; retrying with backoff", "records", len(b.items), "err", err)
			}
		}
		d := min(s.t.cfg.RetryMin<<min(attempt, 16), s.t.cfg.RetryMax)
		d = d/2 + rand.N(d/2+1) // jitter: 50-100%
		select {
		case <-ctx.Done():
		case <-s.changed:
		case <-time.After(d):
		}
	}
	return false
}

var errNoReplicas = errors.New("no storage replica of the region is known (discovery)")

// rejected reports whether every replica tried refused the batch itself:
// an ERR reply (a record too large for it, a version too far ahead of its
// clock, a command it does not know), not NOQUORUM or a failed
// connection.
func rejected(err error) bool {
	var j *joined
	if !errors.As(err, &j) || len(j.errs) == 0 {
		return false
	}
	for _, e := range j.errs {
		var c *classified
		if !errors.As(e, &c) || !c.rejected {
			return false
		}
	}
	return true
}

// tryReplicas sends args to each replica of the region in turn, starting
// with the preferred one, until one acknowledges.
func (s *shipper) tryReplicas(ctx context.Context, args [][]byte, size int) (string, error) {
	s.mu.Lock()
	addrs := slices.Clone(s.addrs)
	pref := s.preferred
	s.mu.Unlock()
	if len(addrs) == 0 {
		return "", classify(errNoReplicas)
	}
	if i := slices.Index(addrs, pref); i > 0 {
		addrs[0], addrs[i] = addrs[i], addrs[0]
	} else if i < 0 {
		rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	}
	var errs []error
	for _, addr := range addrs {
		c := s.t.pool.Get(addr)
		if !c.Available() {
			errs = append(errs, fmt.Errorf("%s: %w", addr, classify(peer.ErrUnavailable)))
			continue
		}
		actx, cancel := context.WithTimeout(ctx, s.t.applyTimeout(size))
		s.t.m.sentBytes.Add(float64(size), s.region)
		reply, err := c.Do(actx, args...)
		cancel()
		if err == nil && (reply.Kind != peer.KindStatus || string(reply.Str) != "OK") {
			err = fmt.Errorf("unexpected reply %v", reply)
		}
		if err == nil {
			s.t.m.batches.Inc(s.region, "ok")
			return addr, nil
		}
		s.t.m.batches.Inc(s.region, "error")
		errs = append(errs, fmt.Errorf("%s: %w", addr, classify(err)))
	}
	return "", joinErrors(errs)
}

// classified is a replica's error, marked as a rejection of the batch
// or not, for rejected.
type classified struct {
	err      error
	rejected bool
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

func classify(err error) error {
	var re *peer.ReplyError
	return &classified{err: err, rejected: errors.As(err, &re) && strings.HasPrefix(re.Msg, "ERR ")}
}

// joinErrors joins errs on one line, for logs and status; errors.Is sees
// each of them.
func joinErrors(errs []error) error { return &joined{errs} }

type joined struct{ errs []error }

func (j *joined) Error() string {
	msgs := make([]string, len(j.errs))
	for i, e := range j.errs {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func (j *joined) Unwrap() []error { return j.errs }

// acknowledge moves every source's cursor past what b held.
func (s *shipper) acknowledge(b *batch) {
	for name, src := range s.sources {
		src.acknowledged()
		if src.acked.Generation != 0 {
			s.t.cursors.set(name, s.region, src.acked)
		}
	}
	b.committed()
	b.reset()
	s.mu.Lock()
	s.oldest = time.Time{}
	s.mu.Unlock()
}

func (s *shipper) setState(state, lastErr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.State == "retrying" && state == "ok" {
		s.log.Info("waltailer: remote region acknowledges again", "retries", s.st.Retries)
	}
	s.st.State = state
	if lastErr != "" {
		s.st.LastError = lastErr
	}
}

// wait waits d, or until woken (true).
func (s *shipper) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.wake:
		return true
	case <-t.C:
	}
	return false
}

// status returns the region's status, lag included.
func (s *shipper) status() RegionStatus {
	s.mu.Lock()
	st := s.st
	st.Replicas = slices.Clone(s.addrs)
	oldest := s.oldest
	for name, e := range s.srcErrs {
		st.WALErrors = append(st.WALErrors, name+": "+e)
	}
	s.mu.Unlock()
	slices.Sort(st.WALErrors)
	st.Cursors = make(map[string]wal.Position)
	for _, name := range s.t.walNames() {
		pos, ok := s.t.cursors.get(name, s.region)
		if !ok {
			pos = wal.Position{}
		}
		st.Cursors[name] = pos
		if h := s.t.head(name); h != nil {
			r, by := h.behind(pos)
			st.LagRecords = max(st.LagRecords, r)
			st.LagBytes = max(st.LagBytes, by)
		}
	}
	if !oldest.IsZero() {
		st.LagSeconds = max(time.Since(oldest).Seconds(), 0)
	}
	if st.LagRecords > 0 && st.State == "ok" {
		st.State = "catching up"
	}
	return st
}
