package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"planet/internal/quorum"
	"planet/internal/repl"
	"planet/internal/resp"
	"planet/storage/engine"
)

// asyncApply runs REPL.APPLY, the WAL tailer's region-apply command (see
// repl.Apply): records of another region, each applied iff newer with
// this region's write quorum, as a write of this coordinator whose
// version is given rather than minted. The versions, and so the records'
// origin, are kept: this region's tailer never ships them again. It
// replies +OK once W replicas hold every record or a newer version; a
// batch with a bad record applies nothing; if some record misses its
// quorum the reply is a NOQUORUM error, and the tailer sends the batch
// again (applying is idempotent).
func (s *Server) asyncApply(_ context.Context, _ *resp.Conn, args [][]byte, done func([]byte)) {
	items, err := repl.ParseApply(nil, args)
	if err != nil {
		done(resp.AppendError(nil, "ERR "+err.Error()))
		return
	}
	for i := range items {
		if e := s.checkItem(&items[i]); e != nil {
			done(resp.AppendError(nil, fmt.Sprintf("ERR record %d: %s", i, strings.TrimPrefix(strings.TrimSpace(string(e[1:])), "ERR "))))
			return
		}
	}
	peers, _ := s.clients()
	var (
		mu     sync.Mutex
		left   = len(items)
		failed int
		first  error
	)
	finish := func(err error) {
		mu.Lock()
		left--
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
		last, n, ferr := left == 0, failed, first
		mu.Unlock()
		if !last {
			return
		}
		s.metrics.regionApplied.Add(float64(len(items) - n))
		if ferr == nil {
			done(okReply)
			return
		}
		msg := ferr.Error()
		var qe *quorum.Error
		if errors.As(ferr, &qe) {
			msg = strings.TrimPrefix(msg, "NOQUORUM ")
		}
		done(resp.AppendError(nil, fmt.Sprintf("NOQUORUM region apply: %d of %d records not held by %d replicas: %s", n, len(items), s.cfg.W, msg)))
	}
	for _, it := range items {
		s.clock.Observe(it.Version)
		m := engine.Mutation{Key: it.Key, Value: it.Value, Version: it.Version, Origin: it.Version.Origin(), Delete: it.Delete}
		q := &quorumWrite{s: s, op: quorum.Write, t: quorum.NewTally(quorum.Write, s.cfg.W, 1+len(peers)),
			done: func(_ bool, err error) { finish(err) }}
		s.startWrite(q, m, peers, true)
	}
}
