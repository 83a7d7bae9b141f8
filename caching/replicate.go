package caching

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"planet/discovery/api"
	"planet/internal/hlc"
	"planet/internal/peer"
	"planet/internal/resp"
)

// Mode is how long a write waits for peers before it replies.
type Mode uint32

// The write modes.
const (
	// ModeDefault is no mode of its own: the server's applies.
	ModeDefault Mode = iota
	// Eventual replies at once; peers get the write through their queues.
	Eventual
	// Quorum replies once one peer acknowledged.
	Quorum
	// Strong replies once every peer, remote regions included,
	// acknowledged, or fails naming the regions that did not.
	Strong
)

// ParseMode returns the Mode named s: eventual, quorum or strong, in any
// case.
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "eventual":
		return Eventual, nil
	case "quorum":
		return Quorum, nil
	case "strong":
		return Strong, nil
	}
	return ModeDefault, fmt.Errorf("unknown mode %q (want eventual, quorum or strong)", s)
}

func (m Mode) String() string {
	switch m {
	case Eventual:
		return "eventual"
	case Quorum:
		return "quorum"
	case Strong:
		return "strong"
	}
	return "default"
}

// Replication limits.
const (
	maxBatchOps    = 512     // records in one CACHE.APPLY
	maxBatchBytes  = 1 << 20 // bytes of records in one CACHE.APPLY, one large value aside
	maxInflight    = 4       // CACHE.APPLY batches in flight to one peer
	minRetry       = 50 * time.Millisecond
	maxRetry       = 2 * time.Second
	peerForgetTime = time.Minute // a peer gone from discovery still gets invalidations this long
	// maxQueueBytes bounds the bytes of records queued for one peer,
	// beside Config.ReplicationQueue's count: large values turn into
	// invalidations sooner. A write alone in an empty queue is always
	// taken.
	maxQueueBytes = 64 << 20
	// A peer's queue remembers the keys it had no room for, up to
	// 4 × its limit or this many; beyond, the peer is told to drop
	// every key older than the newest of them.
	minInvalidKeys = 4096
)

// replicator sends this cache's writes to its peers: every other cache
// that discovery lists, in every region.
type replicator struct {
	log    *slog.Logger
	region string
	self   string // this cache's address, as registered
	store  *Store
	disc   Discovery
	pc     peer.Config
	limit  int // records a peer's queue holds
	now    func() time.Time

	mode          atomic.Uint32 // the server's Mode (CONFIG SET cache-mode)
	strongTimeout atomic.Int64  // nanoseconds

	mu    sync.Mutex
	links map[string]*link // by address; guarded by mu
	// Snapshots for writes, replaced whole under mu: the peers discovery
	// lists, and the peers it no longer lists but that still get
	// invalidations for a while.
	active atomic.Pointer[[]*link]
	gone   atomic.Pointer[[]*link]
	wg     sync.WaitGroup

	writes [4][2]atomic.Int64 // by Mode and result (0 ok, 1 not acknowledged)
	warm   atomic.Value       // string: the warm start's state (warmState)
	local  *waiter            // of writes that went nowhere: held by this region alone
}

func newReplicator(cfg *Config, st *Store, disc Discovery, self string, log *slog.Logger) *replicator {
	r := &replicator{log: log, region: cfg.Region, self: self, store: st, disc: disc,
		limit: cfg.ReplicationQueue, now: cfg.Now, links: make(map[string]*link),
		pc: peer.Config{Conns: 2, IOTimeout: cfg.PeerTimeout}}
	switch {
	case cfg.Secret != nil:
		r.pc.Username, r.pc.Password = "planet", cfg.Secret.RESPPassword()
	case cfg.Password != "":
		r.pc.Password = cfg.Password // no platform user: peers are applications
	}
	r.mode.Store(uint32(cfg.Mode))
	r.strongTimeout.Store(int64(cfg.StrongTimeout))
	r.local = &waiter{}
	r.active.Store(&[]*link{})
	r.gone.Store(&[]*link{})
	return r
}

// run follows discovery's list of caches every interval until ctx ends,
// then stops every peer link.
func (r *replicator) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.refresh(ctx)
		select {
		case <-ctx.Done():
			r.mu.Lock()
			for _, l := range r.links {
				l.stop()
			}
			r.mu.Unlock()
			r.wg.Wait()
			return
		case <-t.C:
		}
	}
}

// refresh reads discovery's list of caches and adds, keeps or forgets
// peer links. Without an answer it changes nothing.
func (r *replicator) refresh(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	list, err := r.disc.List(lctx, ServiceName)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.log.Debug("caching: discovery list failed; keeping the peers known", "err", err)
		}
		return
	}
	r.setPeers(ctx, list)
}

// setPeers makes list (discovery's caches; this one is skipped) the
// active peers.
func (r *replicator) setPeers(ctx context.Context, list []api.Instance) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	listed := make(map[string]bool)
	for _, in := range list {
		if in.Address == r.self || in.Address == "" {
			continue
		}
		listed[in.Address] = true
		l := r.links[in.Address]
		if l == nil {
			l = r.newLink(ctx, in.Address, in.Region)
			r.links[in.Address] = l
			r.log.Info("caching: peer added", "peer", in.Address, "region", in.Region)
		}
		l.goneSince.Store(0)
	}
	var active, gone []*link
	for addr, l := range r.links {
		switch {
		case listed[addr]:
			active = append(active, l)
			continue
		case l.goneSince.Load() == 0:
			l.goneSince.Store(now.UnixNano())
			r.log.Info("caching: peer no longer listed; it gets invalidations for a while", "peer", addr, "for", peerForgetTime)
		case now.Sub(time.Unix(0, l.goneSince.Load())) > peerForgetTime:
			l.stop()
			delete(r.links, addr)
			r.log.Info("caching: peer forgotten", "peer", addr)
			continue
		}
		gone = append(gone, l)
	}
	byAddr := func(a, b *link) int { return strings.Compare(a.addr, b.addr) }
	slices.SortFunc(active, byAddr)
	slices.SortFunc(gone, byAddr)
	r.active.Store(&active)
	r.gone.Store(&gone)
}

// hasPeers reports whether writes go anywhere: to active peers, or as
// invalidations to unlisted ones.
func (r *replicator) hasPeers() bool { return len(*r.active.Load())+len(*r.gone.Load()) > 0 }

// peers returns the active peer links.
func (r *replicator) peers() []*link { return *r.active.Load() }

// defaultMode is the server's mode.
func (r *replicator) defaultMode() Mode { return Mode(r.mode.Load()) }

// replicate sends recs, the n encoded records of one write, to every
// peer, and waits as mode asks. It returns the write's waiter, and the
// error reply of a write that its mode's peers did not acknowledge in
// time.
func (r *replicator) replicate(ctx context.Context, mode Mode, recs []byte, n int) (*waiter, []byte) {
	if n == 0 {
		return r.local, nil
	}
	links := r.peers()
	w := &waiter{mode: mode, links: links, acked: make([]atomic.Bool, len(links))}
	switch mode {
	case Quorum:
		w.need = min(1, len(links))
	case Strong:
		w.need = len(links)
	}
	if w.need > 0 {
		w.done = make(chan struct{})
	}
	it := qitem{recs: recs, n: n, w: w}
	for i, l := range links {
		it.idx = i
		l.enqueue(it)
	}
	it.w, it.idx = nil, -1
	for _, l := range *r.gone.Load() {
		l.enqueue(it)
	}
	if w.done == nil {
		r.writes[mode][0].Add(1)
		return w, nil
	}
	t := time.NewTimer(time.Duration(r.strongTimeout.Load()))
	defer t.Stop()
	select {
	case <-w.done:
		r.writes[mode][0].Add(1)
		return w, nil
	case <-t.C:
	case <-ctx.Done():
	}
	r.writes[mode][1].Add(1)
	return w, w.failure(r.region)
}

// waiter follows one write's acknowledgements by the peers it was sent
// to.
type waiter struct {
	mode  Mode
	links []*link // the active peers when it was written
	acked []atomic.Bool
	n     atomic.Int32
	need  int
	done  chan struct{} // closed once need peers acknowledged; nil if nobody waits
}

// ack records that links[i] acknowledged.
func (w *waiter) ack(i int) {
	if w == nil || i < 0 || w.acked[i].Swap(true) {
		return
	}
	if n := int(w.n.Add(1)); w.done != nil && n == w.need {
		close(w.done)
	}
}

// regions returns the regions that hold the write (every one of their
// peers acknowledged; own first, then by name) and those that do not.
func (w *waiter) regions(own string) (acked, missing []string) {
	all := map[string]bool{own: true}
	for i, l := range w.links {
		if _, ok := all[l.region]; !ok {
			all[l.region] = true
		}
		if !w.acked[i].Load() {
			all[l.region] = false
		}
	}
	names := make([]string, 0, len(all))
	for name := range all {
		if name != own {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range append([]string{own}, names...) {
		if all[name] {
			acked = append(acked, name)
		} else {
			missing = append(missing, name)
		}
	}
	return acked, missing
}

// failure is the error reply of a write that was not acknowledged in
// time.
func (w *waiter) failure(own string) []byte {
	acked, missing := w.regions(own)
	total := len(acked) + len(missing)
	if w.mode == Quorum {
		return resp.AppendError(nil, fmt.Sprintf("NOQUORUM quorum write: not acknowledged by any peer (%d of %d regions)", len(acked), total))
	}
	return resp.AppendError(nil, fmt.Sprintf("NOTALL strong write: not acknowledged by %s (%d of %d regions)",
		strings.Join(missing, ", "), len(acked), total))
}

// link is the replication to one peer: a bounded queue of writes and a
// sender that ships them in CACHE.APPLY batches, up to maxInflight at a
// time.
type link struct {
	r      *replicator
	addr   string
	region string
	client *peer.Client
	cancel context.CancelFunc
	wake   chan struct{}

	goneSince atomic.Int64 // Unix nanoseconds; 0 while discovery lists it

	mu         sync.Mutex
	queue      []qitem                // guarded by mu; FIFO
	pending    int                    // guarded by mu; records queued or in flight
	pendingB   int                    // guarded by mu; their bytes
	invalid    map[string]hlc.Version // guarded by mu; keys the queue had no room for
	invalidAll hlc.Version            // guarded by mu; too many keys for invalid
	retryAt    time.Time              // guarded by mu; after a failed batch
	failures   int                    // guarded by mu; consecutive failed batches
	lastErr    string                 // guarded by mu

	// Counters for INFO and /metrics.
	sent, dropped, invSent, batches, failed atomic.Int64
	latencyNs, latencyN                     atomic.Int64
	lastAck                                 atomic.Int64 // Unix nanoseconds
}

// qitem is one write's records in a peer's queue.
type qitem struct {
	recs []byte // encoded, shared by every peer's queue: never modified
	n    int    // records
	w    *waiter
	idx  int // the peer's index in w.links
}

// batch is what one CACHE.APPLY carries.
type batch struct {
	items []qitem
	inv   []Op // invalidations
	blob  []byte
}

func (r *replicator) newLink(ctx context.Context, addr, region string) *link {
	ctx, cancel := context.WithCancel(ctx)
	l := &link{r: r, addr: addr, region: region, client: peer.New(addr, r.pc), cancel: cancel,
		wake: make(chan struct{}, 1), invalid: make(map[string]hlc.Version)}
	r.wg.Go(func() { l.send(ctx) })
	return l
}

func (l *link) stop() { l.cancel() }

func (l *link) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// enqueue queues one write's records for the peer; with no room, the peer
// gets an invalidation of their keys instead.
func (l *link) enqueue(it qitem) {
	l.mu.Lock()
	if l.pending > 0 && (l.pending+it.n > l.r.limit || l.pendingB+len(it.recs) > maxQueueBytes) {
		rr := recordReader{b: it.recs}
		var r recordView
		for {
			if ok, err := rr.next(&r); !ok || err != nil {
				break
			}
			l.invalidateLocked(string(r.Key), r.Version)
		}
		l.dropped.Add(int64(it.n))
	} else {
		l.queue = append(l.queue, it)
		l.pending += it.n
		l.pendingB += len(it.recs)
	}
	l.mu.Unlock()
	l.signal()
}

// invalidateLocked remembers that key must be invalidated at v.
func (l *link) invalidateLocked(key string, v hlc.Version) {
	if old, ok := l.invalid[key]; ok {
		if v.Newer(old) {
			l.invalid[key] = v
		}
		return
	}
	if len(l.invalid) >= max(4*l.r.limit, minInvalidKeys) {
		if v.Newer(l.invalidAll) {
			l.invalidAll = v
		}
		return
	}
	l.invalid[key] = v
}

// take returns the next batch, or nil if there is none or a retry is not
// due.
func (l *link) take() *batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 && len(l.invalid) == 0 && l.invalidAll.IsZero() {
		return nil
	}
	if l.r.now().Before(l.retryAt) {
		return nil
	}
	b := &batch{}
	if !l.invalidAll.IsZero() {
		b.inv = append(b.inv, Op{Kind: OpInvalidateAll, Version: l.invalidAll})
		l.invalidAll = hlc.Version{}
	}
	for k, v := range l.invalid {
		if len(b.inv) >= maxBatchOps {
			break
		}
		b.inv = append(b.inv, Op{Kind: OpInvalidate, Key: k, Version: v})
		delete(l.invalid, k)
	}
	n, size, taken := len(b.inv), 0, 0
	for _, it := range l.queue {
		if n > 0 && (n+it.n > maxBatchOps || size >= maxBatchBytes) {
			break
		}
		n += it.n
		size += len(it.recs)
		taken++
	}
	b.blob = make([]byte, 0, size+64*len(b.inv))
	for i := range b.inv {
		b.blob = appendOp(b.blob, &b.inv[i])
	}
	for _, it := range l.queue[:taken] {
		b.blob = append(b.blob, it.recs...)
	}
	b.items = slices.Clone(l.queue[:taken])
	clear(l.queue[:taken])
	l.queue = l.queue[taken:]
	if len(l.queue) == 0 {
		l.queue = nil // let a burst's backing array go
	}
	return b
}

// send ships the queue until ctx ends.
func (l *link) send(ctx context.Context) {
	defer l.client.Close()
	slots := make(chan struct{}, maxInflight)
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		for {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			b := l.take()
			if b == nil {
				<-slots
				break
			}
			start := time.Now()
			l.client.Go(func(rep peer.Reply, err error) {
				l.finish(b, rep, err, start)
				<-slots
				l.signal()
			}, []byte(applyCommand), b.blob)
		}
	}
}

// finish handles the outcome of batch b: acknowledgements, or the batch
// back at the head of the queue and a retry after a backoff.
func (l *link) finish(b *batch, rep peer.Reply, err error, start time.Time) {
	if err == nil && (rep.Kind != peer.KindStatus || string(rep.Str) != "OK") {
		err = fmt.Errorf("unexpected reply %v", rep.Kind)
	}
	if err == nil {
		l.latencyNs.Add(int64(time.Since(start)))
		l.latencyN.Add(1)
		l.lastAck.Store(time.Now().UnixNano())
		l.batches.Add(1)
		l.invSent.Add(int64(len(b.inv)))
		n, size := 0, 0
		for _, it := range b.items {
			n += it.n
			size += len(it.recs)
			it.w.ack(it.idx)
		}
		l.sent.Add(int64(n))
		l.mu.Lock()
		l.pending -= n
		l.pendingB -= size
		if l.failures > 0 {
			l.r.log.Info("caching: peer reachable again", "peer", l.addr, "region", l.region, "after_failures", l.failures)
		}
		l.failures = 0
		l.mu.Unlock()
		return
	}
	l.failed.Add(1)
	l.mu.Lock()
	l.queue = append(slices.Clone(b.items), l.queue...)
	for i := range b.inv {
		if op := &b.inv[i]; op.Kind == OpInvalidateAll {
			if op.Version.Newer(l.invalidAll) {
				l.invalidAll = op.Version
			}
		} else {
			l.invalidateLocked(op.Key, op.Version)
		}
	}
	l.failures++
	backoff := min(minRetry<<min(l.failures-1, 8), maxRetry)
	l.retryAt = l.r.now().Add(backoff)
	l.lastErr = err.Error()
	first := l.failures == 1
	l.mu.Unlock()
	var re *peer.ReplyError
	switch {
	case errors.As(err, &re):
		l.r.log.Error("caching: peer refused a batch; retrying", "peer", l.addr, "region", l.region, "err", err)
	case first:
		l.r.log.Warn("caching: peer unreachable; retrying with backoff", "peer", l.addr, "region", l.region, "err", err)
	}
	time.AfterFunc(backoff, l.signal)
}

// linkStatus is what INFO and /metrics show of one peer.
type linkStatus struct {
	Addr, Region, State, LastErr           string
	Queue                                  int
	Invalid                                int
	Sent, Dropped, InvSent, Batches, Fails int64
	LatencySum                             time.Duration
	LatencyN                               int64
	LastAck                                time.Time
}

func (l *link) status() linkStatus {
	l.mu.Lock()
	st := linkStatus{Addr: l.addr, Region: l.region, Queue: l.pending, Invalid: len(l.invalid), LastErr: l.lastErr, State: "ok"}
	if l.failures > 0 {
		st.State = "retrying"
	}
	if !l.invalidAll.IsZero() {
		st.Invalid++
	}
	l.mu.Unlock()
	if l.goneSince.Load() != 0 {
		st.State = "unlisted"
	}
	st.Sent, st.Dropped, st.InvSent = l.sent.Load(), l.dropped.Load(), l.invSent.Load()
	st.Batches, st.Fails = l.batches.Load(), l.failed.Load()
	st.LatencySum, st.LatencyN = time.Duration(l.latencyNs.Load()), l.latencyN.Load()
	if t := l.lastAck.Load(); t != 0 {
		st.LastAck = time.Unix(0, t)
	}
	return st
}

// statuses returns every peer link's status, active ones first.
func (r *replicator) statuses() []linkStatus {
	var out []linkStatus
	for _, l := range append(slices.Clone(r.peers()), *r.gone.Load()...) {
		out = append(out, l.status())
	}
	return out
}

// infoFields are INFO's planet section: this cache's replication.
func (r *replicator) infoFields(add func(string, any)) {
	add("region", r.region)
	add("cache_mode", r.defaultMode())
	add("strong_timeout_ms", time.Duration(r.strongTimeout.Load()).Milliseconds())
	add("peers", len(r.peers()))
	add("peers_unlisted", len(*r.gone.Load()))
	add("warm_start", r.warmState())
	add("tombstones", r.store.Tombstones())
	a := r.store.ApplyStats()
	add("received_applied", a.Applied)
	add("received_stale", a.Stale)
	add("received_late", a.Late)
	add("received_refused", a.Refused)
	add("invalidations_received", a.Invalidations)
	for m := Eventual; m <= Strong; m++ {
		add("writes_"+m.String(), fmt.Sprintf("ok=%d,not_acknowledged=%d", r.writes[m][0].Load(), r.writes[m][1].Load()))
	}
	for i, st := range r.statuses() {
		avg := 0.0
		if st.LatencyN > 0 {
			avg = float64(st.LatencySum.Microseconds()) / float64(st.LatencyN) / 1000
		}
		add(fmt.Sprintf("peer%d", i), fmt.Sprintf("addr=%s,region=%s,state=%s,queue=%d,pending_invalidations=%d,sent=%d,dropped=%d,invalidations_sent=%d,failed_batches=%d,avg_latency_ms=%.3f",
			st.Addr, st.Region, st.State, st.Queue, st.Invalid, st.Sent, st.Dropped, st.InvSent, st.Fails, avg))
	}
}

// warmState is how the warm start went: "pending", "copying",
// "done (n entries from addr)", "skipped (...)".
func (r *replicator) warmState() string {
	if s, ok := r.warm.Load().(string); ok {
		return s
	}
	return "pending"
}
