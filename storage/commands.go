package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"planet/internal/quorum"
	"planet/internal/repl"
	"planet/internal/resp"
	"planet/storage/engine"
)

// newMux returns the replica's RESP commands: Redis's housekeeping
// commands (internal/resp), the key-value commands and the replica
// commands of replication and repair (resp.FlagInternal, which only the
// platform sends). Commands that only read this replica and never block
// are Serial: a pipeline of them runs inline on the connection's
// goroutine. Quorum reads and writes and replicated writes are Async: a
// pipeline of them starts at once and shares one fsync.
func (s *Server) newMux() (*resp.Mux, error) {
	mc := resp.MuxConfig{Service: "storage", Settings: s.settings(), Info: s.infoSections(), Password: s.cfg.Password}
	if s.cfg.Secret != nil {
		mc.PlatformPassword = s.cfg.Secret.RESPPassword()
	}
	m, err := resp.NewMux(mc)
	if err != nil {
		return nil, err
	}
	const (
		ro       = resp.FlagReadOnly
		wr       = resp.FlagWrite
		internal = resp.FlagInternal
	)
	for _, c := range []resp.Command{
		{Name: "get", Arity: 2, Class: resp.Read, Flags: ro | resp.FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1, Group: "string",
			Summary: "quorum read of a key", Async: s.asyncGet},
		{Name: "mget", Arity: -2, Class: resp.Read, Flags: ro, FirstKey: 1, LastKey: -1, KeyStep: 1, Group: "string",
			Summary: "quorum reads of keys", Run: s.cmdMGet},
		{Name: "exists", Arity: -2, Class: resp.Read, Flags: ro, FirstKey: 1, LastKey: -1, KeyStep: 1,
			Summary: "how many of the keys exist (quorum reads)", Run: s.cmdExists},
		{Name: "set", Arity: 3, Class: resp.Write, Flags: wr, FirstKey: 1, LastKey: 1, KeyStep: 1, Group: "string",
			Summary: "quorum write of a key", Async: s.asyncSet},
		{Name: "del", Arity: -2, Class: resp.Write, Flags: wr, FirstKey: 1, LastKey: -1, KeyStep: 1,
			Summary: "quorum writes of tombstones", Run: s.cmdDel},
		{Name: "scan", Arity: -2, Class: resp.Serial, Flags: ro, Summary: "this replica's keys", Run: s.cmdScan},
		{Name: "dbsize", Arity: 1, Class: resp.Serial, Flags: ro | resp.FlagFast, Group: "server",
			Summary: "this replica's live keys", Run: s.cmdDBSize},
		{Name: "vget", Arity: 2, Class: resp.Serial, Flags: ro | resp.FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Summary: "this replica's entry of a key: [value, version]", Run: s.cmdVGet},
		{Name: "peers", Arity: 1, Class: resp.Serial, Flags: resp.FlagFast, Group: "server",
			Summary: "peer count, W, R and peer addresses", Run: s.cmdPeers},
		{Name: "vver", Arity: 2, Class: resp.Serial, Flags: internal | ro | resp.FlagFast, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Summary: "this replica's version of a key (digest read)", Run: s.cmdVVer},
		{Name: "mvver", Arity: -2, Class: resp.Serial, Flags: internal | ro, FirstKey: 1, LastKey: -1, KeyStep: 1,
			Summary: "VVER of many keys", Run: s.cmdMVVer},
		{Name: "repl.put", Arity: 4, Class: resp.Write, Flags: internal | wr, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Summary: "apply a replicated value iff newer", Async: s.asyncRepl},
		{Name: "repl.del", Arity: 3, Class: resp.Write, Flags: internal | wr, FirstKey: 1, LastKey: 1, KeyStep: 1,
			Summary: "apply a replicated tombstone iff newer", Async: s.asyncRepl},
		{Name: "repl.mput", Arity: -4, Class: resp.Write, Flags: internal | wr, FirstKey: 1, LastKey: -1, KeyStep: 3,
			Summary: "many REPL.PUT", Async: s.asyncRepl},
		{Name: "repl.mdel", Arity: -3, Class: resp.Write, Flags: internal | wr, FirstKey: 1, LastKey: -1, KeyStep: 2,
			Summary: "many REPL.DEL", Async: s.asyncRepl},
		{Name: "repl.apply", Arity: -4, Class: resp.Write, Flags: internal | wr,
			Summary: "apply another region's records with this region's write quorum (WAL tailer)", Async: s.asyncApply},
		{Name: "repl.digest", Arity: 1, Class: resp.Serial, Flags: internal | ro, Summary: "the anti-entropy digest", Run: s.cmdReplDigest},
		{Name: "repl.bucket", Arity: 2, Class: resp.Serial, Flags: internal | ro, Summary: "keys and versions of a digest bucket", Run: s.cmdReplBucket},
	} {
		m.Register(c)
	}
	return m, nil
}

// okReply is +OK; replies are never modified once made.
var okReply = resp.AppendOK(nil)

// errReply is the RESP error reply of err.
func errReply(err error) []byte {
	var qe *quorum.Error
	if errors.As(err, &qe) {
		return resp.AppendError(nil, qe.Error())
	}
	return resp.AppendError(nil, "ERR "+err.Error())
}

func (s *Server) checkKey(key []byte) []byte {
	if len(key) > MaxKey {
		return resp.AppendError(nil, fmt.Sprintf("ERR key too large: %d bytes, max %d", len(key), MaxKey))
	}
	return nil
}

func (s *Server) checkValue(v []byte) []byte {
	if len(v) > s.cfg.MaxValue {
		return resp.AppendError(nil, fmt.Sprintf("ERR value too large: %d bytes, max %d", len(v), s.cfg.MaxValue))
	}
	return nil
}

// asyncGet runs GET without holding a goroutine while the replicas answer.
func (s *Server) asyncGet(_ context.Context, _ *resp.Conn, args [][]byte, done func([]byte)) {
	if e := s.checkKey(args[1]); e != nil {
		done(e)
		return
	}
	s.readAsync(args[1], func(ent engine.Entry, found bool, err error) {
		switch {
		case err != nil:
			done(errReply(err))
		case !found || ent.Deleted:
			done(resp.AppendNull(nil))
		default:
			done(resp.AppendBulk(nil, ent.Value))
		}
	})
}

// readMany runs quorum reads of keys in parallel.
func (s *Server) readMany(ctx context.Context, keys [][]byte) ([]engine.Entry, error) {
	out := make([]engine.Entry, len(keys))
	errs := make([]error, len(keys))
	forEach(len(keys), func(i int) {
		k := keys[i]
		if len(k) > MaxKey {
			errs[i] = fmt.Errorf("key too large: %d bytes, max %d", len(k), MaxKey)
			return
		}
		ent, found, err := s.read(k)
		if !found {
			ent.Deleted = true
		}
		out[i], errs[i] = ent, err
	})
	return out, errors.Join(errs...)
}

// maxKeyParallelism bounds the keys of one multi-key command (MGET, EXISTS,
// DEL) that are read or written at once.
const maxKeyParallelism = 64

// forEach runs f(0..n-1), at most maxKeyParallelism at a time.
func forEach(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(n, maxKeyParallelism) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func (s *Server) cmdMGet(ctx context.Context, _ *resp.Conn, args [][]byte) []byte {
	ents, err := s.readMany(ctx, args[1:])
	if err != nil {
		return errReply(firstError(err))
	}
	b := resp.AppendArray(nil, len(ents))
	for _, e := range ents {
		if e.Deleted {
			b = resp.AppendNull(b)
		} else {
			b = resp.AppendBulk(b, e.Value)
		}
	}
	return b
}

func (s *Server) cmdExists(ctx context.Context, _ *resp.Conn, args [][]byte) []byte {
	ents, err := s.readMany(ctx, args[1:])
	if err != nil {
		return errReply(firstError(err))
	}
	n := 0
	for _, e := range ents {
		if !e.Deleted {
			n++
		}
	}
	return resp.AppendInt(nil, int64(n))
}

// firstError unwraps errors.Join's first error, so the reply reads as one.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) > 0 {
		return j.Unwrap()[0]
	}
	return err
}

// asyncSet runs SET without holding a goroutine while the replicas answer.
func (s *Server) asyncSet(_ context.Context, _ *resp.Conn, args [][]byte, done func([]byte)) {
	if e := s.checkKey(args[1]); e != nil {
		done(e)
		return
	}
	if e := s.checkValue(args[2]); e != nil {
		done(e)
		return
	}
	m := engine.Mutation{Key: args[1], Value: args[2], Origin: s.cfg.Region}
	s.writeAsync(m, func(_ bool, err error) {
		if err != nil {
			done(errReply(err))
			return
		}
		done(okReply)
	})
}

func (s *Server) cmdDel(ctx context.Context, _ *resp.Conn, args [][]byte) []byte {
	keys := args[1:]
	for _, k := range keys {
		if e := s.checkKey(k); e != nil {
			return e
		}
	}
	deleted := make([]bool, len(keys))
	errs := make([]error, len(keys))
	forEach(len(keys), func(i int) {
		m := engine.Mutation{Key: keys[i], Origin: s.cfg.Region, Delete: true}
		deleted[i], errs[i] = s.write(m)
	})
	if err := errors.Join(errs...); err != nil {
		return errReply(firstError(err))
	}
	n := 0
	for _, d := range deleted {
		if d {
			n++
		}
	}
	return resp.AppendInt(nil, int64(n))
}

// cmdVGet: the local replica's entry of a key: null if it holds nothing,
// else [value, version], value null for a tombstone.
func (s *Server) cmdVGet(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	ent, err := s.eng.Get(args[1])
	if errors.Is(err, engine.ErrNotFound) {
		return resp.AppendNullArray(nil)
	}
	if err != nil {
		return errReply(err)
	}
	b := resp.AppendArray(nil, 2)
	if ent.Deleted {
		b = resp.AppendNull(b)
	} else {
		b = resp.AppendBulk(b, ent.Value)
	}
	return resp.AppendBulk(b, ent.Version.AppendText(nil))
}

// cmdVVer: the version of the local replica's entry of a key (value or
// tombstone), or null if it holds none: the digest read of a quorum GET.
func (s *Server) cmdVVer(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	ent, err := s.eng.Get(args[1])
	if errors.Is(err, engine.ErrNotFound) {
		return resp.AppendNull(nil)
	}
	if err != nil {
		return errReply(err)
	}
	return resp.AppendBulk(nil, ent.Version.AppendText(nil))
}

// cmdMVVer: VVER of many keys at once, an array of their replies (the
// digest reads of many quorum GETs, merged by the coordinator).
func (s *Server) cmdMVVer(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	b := resp.AppendArray(nil, len(args)-1)
	var v []byte
	for _, k := range args[1:] {
		ent, err := s.eng.Get(k)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			b = resp.AppendNull(b)
		case err != nil:
			b = append(b, errReply(err)...)
		default:
			v = ent.Version.AppendText(v[:0])
			b = resp.AppendBulk(b, v)
		}
	}
	return b
}

// asyncRepl runs REPL.PUT, REPL.DEL and their merged forms REPL.MPUT and
// REPL.MDEL (see package repl for the wire form) without holding a
// goroutine: each item applies iff newer, and is never re-replicated. A
// merged command replies an array of its items' replies, in order; a bad
// item gets its error in its place and leaves the others alone.
func (s *Server) asyncRepl(_ context.Context, _ *resp.Conn, args [][]byte, done func([]byte)) {
	op, items, err := repl.Parse(nil, args)
	if err != nil {
		done(resp.AppendError(nil, "ERR "+err.Error()))
		return
	}
	replies := make([][]byte, len(items))
	var left atomic.Int64
	left.Store(int64(len(items)))
	answer := func(i int, reply []byte) {
		replies[i] = reply
		if left.Add(-1) > 0 {
			return
		}
		if !op.Merged() {
			done(replies[0])
			return
		}
		b := resp.AppendArray(nil, len(replies))
		for _, r := range replies {
			b = append(b, r...)
		}
		done(b)
	}
	for i := range items {
		it := &items[i]
		if e := s.checkItem(it); e != nil {
			answer(i, e)
			continue
		}
		s.clock.Observe(it.Version)
		m := engine.Mutation{Key: it.Key, Value: it.Value, Version: it.Version, Origin: it.Version.Origin(), Delete: it.Delete}
		s.eng.ApplyFunc(m, func(r engine.Result) {
			if r.Err != nil {
				answer(i, errReply(r.Err))
				return
			}
			answer(i, resp.AppendInt(nil, it.Reply(r.Applied, r.WasLive)))
		})
	}
}

// checkItem returns the error reply of a replicated write that must not
// apply: a bad version, one too far ahead of this replica's clock, a key
// or value too large.
func (s *Server) checkItem(it *repl.Item) []byte {
	if it.Err != nil {
		return resp.AppendError(nil, "ERR "+it.Err.Error())
	}
	if err := repl.CheckSkew(it.Version, s.cfg.Now(), s.cfg.MaxClockSkew); err != nil {
		return resp.AppendError(nil, "ERR "+err.Error())
	}
	if e := s.checkKey(it.Key); e != nil {
		return e
	}
	return s.checkValue(it.Value)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) cmdReplDigest(context.Context, *resp.Conn, [][]byte) []byte {
	d := s.eng.Digest()
	return resp.AppendBulk(nil, repl.AppendDigestBody(make([]byte, 0, 8*engine.NumBuckets), d[:]))
}

func (s *Server) cmdReplBucket(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	b, err := repl.ParseBucketArg(args[1], engine.NumBuckets)
	if err != nil {
		return resp.AppendError(nil, "ERR "+err.Error())
	}
	kvs, err := s.eng.BucketEntries(b)
	if err != nil {
		return errReply(err)
	}
	out := resp.AppendArray(nil, 2*len(kvs))
	for _, kv := range kvs {
		out = resp.AppendBulk(out, kv.Key)
		out = resp.AppendBulk(out, kv.Version.AppendText(nil))
	}
	return out
}
