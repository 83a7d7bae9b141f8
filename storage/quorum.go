package storage

import (
	"context"
	"errors"
	"sync"
	"time"

	"planet/internal/hlc"
	"planet/internal/peer"
	"planet/internal/quorum"
	"planet/internal/repl"
	"planet/internal/repl/decode"
	"planet/storage/engine"
)

// ackResult is one replica's outcome of a replicated write.
type ackResult struct {
	ok      bool
	wasLive bool
}

// write coordinates a quorum write of m and waits for its outcome; see
// writeAsync.
func (s *Server) write(m engine.Mutation) (wasLive bool, err error) {
	type outcome struct {
		wasLive bool
		err     error
	}
	ch := make(chan outcome, 1)
	s.writeAsync(m, func(wasLive bool, err error) { ch <- outcome{wasLive, err} })
	o := <-ch
	return o.wasLive, o.err
}

// writeAsync coordinates a quorum write of m, whose version it mints: the
// local engine and every peer in parallel, without a goroutine. It calls
// done once, when W replicas (the coordinator included) made the write
// durable and the local write is done (so that SCAN and DBSIZE on this
// replica, which are local, show what it acknowledged), or with a
// *quorum.Error once every replica answered, or QuorumTimeout passed,
// without W acknowledgements (a lost quorum still waits for every answer,
// so that the error says how many hold the write). Peers that fail get a
// hint.
//
// With Linearizable consistency the version is minted only after the
// versions of key on N-W+1 replicas, which meet every write quorum, are
// known (queryVersion, ABD's query phase): it is then above every version
// that a write quorum held when the write began.
func (s *Server) writeAsync(m engine.Mutation, done func(wasLive bool, err error)) {
	if s.cfg.Consistency == Quorum {
		s.replicateWrite(m, done)
		return
	}
	s.queryVersion(m.Key, func(newest engine.Entry, _ bool, err error) {
		if err != nil {
			done(false, err)
			return
		}
		s.clock.Observe(newest.Version)
		s.replicateWrite(m, done)
	})
}

// replicateWrite mints m's version and writes it to W replicas; see
// writeAsync.
func (s *Server) replicateWrite(m engine.Mutation, done func(wasLive bool, err error)) {
	peers, _ := s.clients()
	m.Version = s.clock.Now()
	q := &quorumWrite{s: s, op: quorum.Write, done: done, t: quorum.NewTally(quorum.Write, s.cfg.W, 1+len(peers))}
	s.startWrite(q, m, peers, true)
}

// startWrite sends m to peers and, if local, to the local engine, feeding
// their outcomes to q.
func (s *Server) startWrite(q *quorumWrite, m engine.Mutation, peers []*peer.Client, local bool) {
	q.ring = s.writeDeadlines
	large := len(m.Value) >= LargeValue
	if large {
		q.ring = s.largeWriteDeadlines
	}
	q.ring.Add(q, &q.deadline)
	args := replArgs(m, true)
	for _, p := range peers {
		if large {
			p = s.largePool.Get(p.Addr())
		}
		s.replicate(p, m.Key, args, q)
	}
	if !local {
		return
	}
	s.eng.ApplyFunc(m, func(r engine.Result) {
		if r.Err != nil {
			s.log.Warn("local write failed", "err", r.Err)
		}
		q.add(ackResult{ok: r.Err == nil, wasLive: r.WasLive}, quorum.Local)
	})
}

// quorumWrite is the state of one replicated write (or a read's
// write-back): the outcomes so far.
type quorumWrite struct {
	s        *Server
	op       quorum.Op         // Write, or Read for a read's write-back
	ring     *quorum.Deadlines // writeDeadlines, or largeWriteDeadlines
	deadline uint64            // in ring
	done     func(wasLive bool, err error)

	mu       sync.Mutex
	t        quorum.Tally // guarded by mu
	wasLive  bool         // guarded by mu: a replica deleted a live value
	finished bool         // guarded by mu
}

func (q *quorumWrite) add(r ackResult, from quorum.Replica) {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return
	}
	q.wasLive = q.wasLive || r.wasLive
	// Won at once; lost only once every replica answered, so that the
	// error says how many hold the write.
	if q.t.Add(from, r.ok) != quorum.Won && !q.t.Done() {
		q.mu.Unlock()
		return
	}
	q.finishLocked()
}

// Expire ends the write at QuorumTimeout: replicas that have not answered
// count as failed.
func (q *quorumWrite) Expire() {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return
	}
	q.t.Expire()
	q.finishLocked()
}

// finishLocked decides the write, unlocks q.mu and calls done.
func (q *quorumWrite) finishLocked() {
	q.finished = true
	t, wasLive := q.t, q.wasLive
	q.mu.Unlock()
	q.ring.Drop(q.deadline)
	if t.Result() != quorum.Won {
		q.s.metrics.quorumFailures.Inc(string(q.op))
		q.done(false, &quorum.Error{Op: q.op, Acks: t.Acks(), Need: t.Need(), Known: t.Total()})
		return
	}
	q.done(wasLive, nil)
}

// replArgs is the replication command of m (see package repl): REPL.PUT
// or REPL.DEL, or with merged, REPL.MPUT or REPL.MDEL for
// peer.Client.GoMerged.
func replArgs(m engine.Mutation, merged bool) [][]byte {
	return repl.AppendItem(make([][]byte, 0, 4), repl.Item{Key: m.Key, Value: m.Value, Version: m.Version, Delete: m.Delete}, merged)
}

// replicate sends one replication command (replArgs, merged) to a peer and
// adds the outcome to q (nil: none; from the peer client's goroutine). On
// failure it leaves a hint, so that the peer gets the key when it is back.
// The peer client's I/O timeout (QuorumTimeout) bounds the call.
func (s *Server) replicate(p *peer.Client, key []byte, args [][]byte, q *quorumWrite) {
	start := time.Now()
	isDel := len(args) == 3 // REPL.MDEL key version
	p.GoMerged(func(reply peer.Reply, err error) {
		if err != nil {
			s.hints.add(p.Addr(), key)
			var re *peer.ReplyError
			if errors.As(err, &re) {
				s.log.Warn("storage: replica refused a write", "peer", p.Addr(), "err", err)
			}
			if q != nil {
				q.add(ackResult{}, quorum.Peer)
			}
			return
		}
		s.metrics.replication.Observe(time.Since(start).Seconds())
		if q == nil {
			return
		}
		q.add(ackResult{ok: true, wasLive: isDel && reply.Kind == peer.KindInt && repl.DeletedLive(reply.Int)}, quorum.Peer)
	}, args...)
}

// readResult is one replica's answer to a read.
type readResult struct {
	peer        *peer.Client // nil: the local engine
	entry       engine.Entry
	found       bool
	ok          bool
	versionOnly bool // entry holds the version only (VVER)
}

// read coordinates a quorum read of key and waits for it; see readAsync.
func (s *Server) read(key []byte) (engine.Entry, bool, error) {
	type outcome struct {
		e     engine.Entry
		found bool
		err   error
	}
	ch := make(chan outcome, 1)
	s.readAsync(key, func(e engine.Entry, found bool, err error) { ch <- outcome{e, found, err} })
	o := <-ch
	return o.e, o.found, o.err
}

// speculativeRead is how long a read waits for a peer before it also asks
// the next one (Cassandra's speculative retry): a peer that hangs, or is
// partitioned, does not hold up reads until the I/O timeout.
const speculativeRead = 20 * time.Millisecond

// readAsync coordinates a quorum read of key without a goroutine: the local
// engine and R-1 peers. With the local entry in hand, peers are asked for
// their version only (VVER, a digest read as in Cassandra); the value
// crosses the network only when a peer holds a newer one. Another peer is
// asked for each that fails, and whenever speculativeRead passes without
// an answer. done gets the newest entry; the replicas that answered an
// older one are repaired (read repair).
func (s *Server) readAsync(key []byte, done func(engine.Entry, bool, error)) {
	s.startRead(key, s.cfg.R, false, done)
}

// queryVersion learns the newest version of key on N-W+1 replicas, the
// coordinator included: enough to meet every write quorum. done gets an
// entry that holds only that version (zero if none holds key). It is a
// digest read without fetch or repair.
func (s *Server) queryVersion(key []byte, done func(engine.Entry, bool, error)) {
	peers, _ := s.clients()
	s.startRead(key, max(1+len(peers)-s.cfg.W+1, 1), true, done)
}

// startRead starts a read of key that needs answers from need replicas,
// the coordinator included; query: versions only (see queryVersion).
func (s *Server) startRead(key []byte, need int, query bool, done func(engine.Entry, bool, error)) {
	local, err := s.eng.Get(key)
	localRes := readResult{entry: local, found: err == nil, ok: err == nil || errors.Is(err, engine.ErrNotFound)}
	if need <= 1 && localRes.ok {
		done(local, localRes.found, nil)
		return
	}
	peers, start := s.clients()
	q := &quorumRead{s: s, key: key, peers: peers, start: start, versionOnly: localRes.ok || query, query: query,
		done: done, t: quorum.NewTally(quorum.Read, need, 1+len(peers))}
	q.answers = q.answerBuf[:0]
	q.t.Add(quorum.Local, localRes.ok)
	if localRes.ok {
		q.answers = append(q.answers, localRes)
	}
	q.mu.Lock()
	if q.t.Result() == quorum.Lost {
		q.finishLocked()
		return
	}
	var buf [4]*peer.Client
	ask := q.launchLocked(need-q.t.Acks(), buf[:0])
	q.waitLocked()
	q.mu.Unlock()
	q.ask(ask)
}

// quorumRead is the state of one readAsync.
type quorumRead struct {
	s           *Server
	key         []byte
	peers       []*peer.Client
	start       int
	versionOnly bool
	query       bool // versions only: no fetch, no repair (queryVersion)
	done        func(engine.Entry, bool, error)

	mu        sync.Mutex
	t         quorum.Tally // guarded by mu
	answers   []readResult // guarded by mu
	answerBuf [3]readResult
	next      int  // guarded by mu: peers asked so far
	pending   int  // guarded by mu: asked, not answered
	finished  bool // guarded by mu
}

// launchLocked appends up to n more peers to ask to ps (the caller asks
// them once it has unlocked: an answer can come at once).
func (q *quorumRead) launchLocked(n int, ps []*peer.Client) []*peer.Client {
	for ; n > 0 && q.next < len(q.peers); n-- {
		ps = append(ps, q.peers[(q.start+q.next)%len(q.peers)])
		q.next++
		q.pending++
	}
	return ps
}

func (q *quorumRead) ask(ps []*peer.Client) {
	for _, p := range ps {
		cb := func(reply peer.Reply, err error) { q.answer(q.s.readReply(p, reply, err, q.versionOnly)) }
		if q.versionOnly {
			p.GoMerged(cb, repl.AppendMVVer(make([][]byte, 0, 2), q.key)...)
		} else {
			p.Go(cb, repl.AppendVGet(make([][]byte, 0, 2), q.key)...)
		}
	}
}

func (q *quorumRead) answer(r readResult) {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return
	}
	q.pending--
	q.t.Add(quorum.Peer, r.ok)
	var buf [1]*peer.Client
	more := buf[:0]
	if r.ok {
		q.answers = append(q.answers, r)
	} else {
		more = q.launchLocked(1, more)
	}
	if q.t.Result() == quorum.Won || q.pending == 0 {
		q.finishLocked()
		return
	}
	q.mu.Unlock()
	q.ask(more)
}

// Expire asks one more peer when the others are slow (speculativeRead
// passed). It may come after the read finished: reads do not drop their
// deadline.
func (q *quorumRead) Expire() {
	q.mu.Lock()
	if q.finished {
		q.mu.Unlock()
		return
	}
	var buf [1]*peer.Client
	more := q.launchLocked(1, buf[:0])
	if len(more) > 0 {
		q.waitLocked()
	}
	q.mu.Unlock()
	q.ask(more)
}

// waitLocked starts the wait for speculativeRead.
func (q *quorumRead) waitLocked() { q.s.readDeadlines.Add(q, nil) }

// finishLocked decides the read, unlocks q.mu and completes it: fetching
// the value if the newest answer was a version only, repairing stale
// replicas, calling done.
func (q *quorumRead) finishLocked() {
	q.finished = true
	t, answers := q.t, q.answers
	q.mu.Unlock()
	s := q.s
	op := quorum.Read
	if q.query {
		op = quorum.Write
	}
	if t.Result() != quorum.Won {
		s.metrics.quorumFailures.Inc(string(op))
		q.done(engine.Entry{}, false, &quorum.Error{Op: op, Acks: t.Acks(), Need: t.Need(), Known: t.Total()})
		return
	}
	newest := newestOf(answers)
	if q.query {
		q.done(newest.entry, newest.found, nil)
		return
	}
	if !newest.versionOnly {
		q.complete(newest, answers)
		return
	}
	q.fetchNewest(t, newest, answers)
}

// fetchNewest gets the value of the newest answer, a version only, from the
// peer that gave it, and completes the read.
func (q *quorumRead) fetchNewest(t quorum.Tally, newest readResult, answers []readResult) {
	s := q.s
	s.fetchGo(newest.peer, q.key, func(full readResult) {
		if !full.ok || !full.found || newest.entry.Version.Newer(full.entry.Version) {
			s.metrics.quorumFailures.Inc("read")
			q.done(engine.Entry{}, false, &quorum.Error{Op: quorum.Read, Acks: t.Acks() - 1, Need: t.Need(), Known: t.Total()})
			return
		}
		q.complete(full, answers)
	})
}

// complete replies with the newest answer once stale replicas are
// repaired: before the reply with Linearizable consistency (writeBack), in
// the background with Quorum.
func (q *quorumRead) complete(newest readResult, answers []readResult) {
	s := q.s
	if newest.found {
		s.clock.Observe(newest.entry.Version)
	}
	if s.cfg.Consistency == Quorum {
		s.repair(q.key, newest, answers)
		q.done(newest.entry, newest.found, nil)
		return
	}
	s.writeBack(q.key, newest, answers, q.peers, func(err error) {
		if err != nil {
			q.done(engine.Entry{}, false, err)
			return
		}
		q.done(newest.entry, newest.found, nil)
	})
}

// writeBack makes the newest entry that a read found durable on W
// replicas before the read replies (ABD's write-back), so that no later
// read, whose R replicas meet those W, returns an older one. Reads whose
// answers agree, or that found nothing, cost nothing: the entry is written
// only when fewer than W of the replicas that answered hold it, to every
// replica not known to hold it (the stale answerers are read-repaired).
func (s *Server) writeBack(key []byte, newest readResult, answers []readResult, peers []*peer.Client, done func(error)) {
	if !newest.found {
		done(nil)
		return
	}
	holders, localHolds := 0, false
	for _, a := range answers {
		if a.found && a.entry.Version == newest.entry.Version {
			holders++
			localHolds = localHolds || a.peer == nil
		}
	}
	if holders >= s.cfg.W {
		done(nil)
		return
	}
	targets := make([]*peer.Client, 0, len(peers))
	for _, p := range peers {
		if !holds(answers, p, newest.entry.Version) {
			targets = append(targets, p)
		}
	}
	s.metrics.readRepairs.Add(float64(len(answers) - holders))
	s.metrics.writeBacks.Inc()
	m := engine.Mutation{Key: key, Value: newest.entry.Value, Version: newest.entry.Version,
		Origin: newest.entry.Origin, Delete: newest.entry.Deleted}
	q := &quorumWrite{s: s, op: quorum.Read, t: quorum.NewTally(quorum.Write, s.cfg.W, holders+len(targets)+boolInt(!localHolds))}
	for i := range holders {
		from := quorum.Peer
		if localHolds && i == 0 {
			from = quorum.Local
		}
		q.t.Add(from, true)
	}
	q.done = func(_ bool, err error) { done(err) }
	s.startWrite(q, m, targets, !localHolds)
}

// holds reports whether p answered with version v.
func holds(answers []readResult, p *peer.Client, v hlc.Version) bool {
	for _, a := range answers {
		if a.peer == p && a.found && a.entry.Version == v {
			return true
		}
	}
	return false
}

// newestOf returns the answer with the highest version (found beats not
// found).
func newestOf(answers []readResult) readResult {
	var best readResult
	for _, a := range answers {
		if a.found && (!best.found || a.entry.Version.Newer(best.entry.Version)) {
			best = a
		}
	}
	return best
}

// fetch reads key's entry from a peer with VGET.
func (s *Server) fetch(ctx context.Context, p *peer.Client, key []byte) readResult {
	reply, err := p.Do(ctx, repl.AppendVGet(make([][]byte, 0, 2), key)...)
	return s.readReply(p, reply, err, false)
}

// fetchGo asks a peer for key's entry (VGET) and calls done with the
// answer; see peer.Client.Go. (Digest reads go through quorumRead.ask.)
func (s *Server) fetchGo(p *peer.Client, key []byte, done func(readResult)) {
	p.Go(func(reply peer.Reply, err error) { done(s.readReply(p, reply, err, false)) }, repl.AppendVGet(make([][]byte, 0, 2), key)...)
}

// readReply decodes a peer's answer to VGET or VVER.
func (s *Server) readReply(p *peer.Client, reply peer.Reply, err error, versionOnly bool) readResult {
	if err != nil {
		return readResult{peer: p}
	}
	if versionOnly {
		switch reply.Kind {
		case peer.KindNil:
			return readResult{peer: p, ok: true}
		case peer.KindBulk:
			if v, err := hlc.ParseVersion(reply.Str); err == nil {
				return readResult{peer: p, entry: engine.Entry{Version: v}, found: true, ok: true, versionOnly: true}
			}
		}
		s.log.Warn("storage: bad VVER reply", "peer", p.Addr())
		return readResult{peer: p}
	}
	e, found, err := parseVGET(reply)
	if err != nil {
		s.log.Warn("storage: bad VGET reply", "peer", p.Addr(), "err", err)
		return readResult{peer: p}
	}
	return readResult{peer: p, entry: e, found: found, ok: true}
}

// parseVGET decodes a VGET reply: null, or [value or null, version].
func parseVGET(r peer.Reply) (engine.Entry, bool, error) {
	it, found, err := decode.VGet(nil, r)
	if !found || err != nil {
		return engine.Entry{}, false, err
	}
	return engine.Entry{Value: it.Value, Version: it.Version, Origin: it.Version.Origin(), Deleted: it.Delete}, true, nil
}

// repair sends the newest entry to every replica that answered with an
// older one (read repair), in the background.
func (s *Server) repair(key []byte, newest readResult, answers []readResult) {
	if !newest.found {
		return
	}
	m := engine.Mutation{Key: key, Value: newest.entry.Value, Version: newest.entry.Version,
		Origin: newest.entry.Origin, Delete: newest.entry.Deleted}
	for _, a := range answers {
		if a.found && !newest.entry.Version.Newer(a.entry.Version) {
			continue
		}
		s.metrics.readRepairs.Inc()
		if a.peer == nil {
			s.eng.ApplyFunc(m, func(engine.Result) {}) // the committer owns it; Close answers it
			continue
		}
		s.replicate(a.peer, key, replArgs(m, true), nil)
	}
}
