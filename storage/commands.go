package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"planet/internal/hlc"
	"planet/internal/quorum"
	"planet/internal/resp"
	"planet/storage/engine"
)

// handler serves the RESP commands of a Server.
type handler Server

// command describes one RESP command: arity as Redis reports it (negative:
// at least that many), its ordering class and what runs it. Commands that
// only read this replica and never block are Serial: a pipeline of them runs
// inline on the connection's goroutine, cheaper than one goroutine each.
type command struct {
	name  string
	arity int
	class resp.Class
	run   func(s *Server, ctx context.Context, c *resp.Conn, args [][]byte) []byte
	// async, if set instead of run, runs the command without holding a
	// goroutine (see resp.AsyncHandler): quorum reads and writes and
	// replicated writes, so that a pipeline of them starts at once and
	// shares one fsync. Run alone, it is waited for.
	async func(s *Server, args [][]byte, done func([]byte))
}

// execute runs c, waiting for it if it is asynchronous.
func (c *command) execute(s *Server, ctx context.Context, conn *resp.Conn, args [][]byte) []byte {
	if c.run != nil {
		return c.run(s, ctx, conn, args)
	}
	reply := make(chan []byte, 1)
	c.async(s, args, func(b []byte) { reply <- b })
	return <-reply
}

// commandCounts are a server's calls of one command, by result.
type commandCounts struct{ ok, failed atomic.Int64 }

var commands map[string]*command

func init() {
	commands = make(map[string]*command)
	for _, c := range []*command{
		{"get", 2, resp.Read, nil, (*Server).asyncGet},
		{"mget", -2, resp.Read, (*Server).cmdMGet, nil},
		{"exists", -2, resp.Read, (*Server).cmdExists, nil},
		{"vget", 2, resp.Serial, (*Server).cmdVGet, nil},
		{"vver", 2, resp.Serial, (*Server).cmdVVer, nil},
		{"mvver", -2, resp.Serial, (*Server).cmdMVVer, nil},
		{"scan", -2, resp.Serial, (*Server).cmdScan, nil},
		{"dbsize", 1, resp.Serial, (*Server).cmdDBSize, nil},
		{"set", 3, resp.Write, nil, (*Server).asyncSet},
		{"del", -2, resp.Write, (*Server).cmdDel, nil},
		{"repl.put", 4, resp.Write, nil, (*Server).asyncRepl},
		{"repl.del", 3, resp.Write, nil, (*Server).asyncRepl},
		{"repl.mput", -4, resp.Write, nil, (*Server).asyncReplMPut},
		{"repl.mdel", -3, resp.Write, nil, (*Server).asyncReplMDel},
		{"repl.digest", 1, resp.Serial, (*Server).cmdReplDigest, nil},
		{"repl.bucket", 2, resp.Serial, (*Server).cmdReplBucket, nil},
		{"peers", 1, resp.Serial, (*Server).cmdPeers, nil},
		{"ping", -1, resp.Serial, (*Server).cmdPing, nil},
		{"echo", 2, resp.Serial, (*Server).cmdEcho, nil},
		{"info", -1, resp.Serial, (*Server).cmdInfo, nil},
		{"quit", -1, resp.Serial, (*Server).cmdQuit, nil},
		{"select", 2, resp.Serial, (*Server).cmdSelect, nil},
		{"config", -2, resp.Serial, (*Server).cmdConfig, nil},
		{"command", -1, resp.Serial, (*Server).cmdCommand, nil},
		{"client", -2, resp.Serial, (*Server).cmdClient, nil},
		{"hello", -1, resp.Serial, (*Server).cmdHello, nil},
	} {
		commands[c.name] = c
	}
}

// lookup finds a command by name, in any case, without allocating.
func lookup(name []byte) *command {
	var buf [16]byte
	if len(name) > len(buf) {
		return nil
	}
	low := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return commands[string(low)]
}

func (h *handler) Class(args [][]byte) resp.Class {
	if c := lookup(args[0]); c != nil {
		return c.class
	}
	return resp.Serial
}

func (h *handler) Async(args [][]byte) bool {
	c := lookup(args[0])
	return c != nil && c.async != nil && arityOK(c, args)
}

func (h *handler) ExecAsync(_ context.Context, _ *resp.Conn, args [][]byte, done func([]byte)) {
	s := (*Server)(h)
	c := lookup(args[0])
	counts := s.metrics.commands[c.name]
	c.async(s, args, func(reply []byte) {
		if len(reply) > 0 && reply[0] == '-' {
			counts.failed.Add(1)
		} else {
			counts.ok.Add(1)
		}
		done(reply)
	})
}

func arityOK(c *command, args [][]byte) bool {
	return c.arity > 0 && len(args) == c.arity || c.arity < 0 && len(args) >= -c.arity
}

func (h *handler) Exec(ctx context.Context, conn *resp.Conn, args [][]byte) []byte {
	s := (*Server)(h)
	c := lookup(args[0])
	if c == nil {
		s.metrics.unknownCommands.Add(1)
		return resp.ErrUnknownCommand(args)
	}
	counts := s.metrics.commands[c.name]
	if !arityOK(c, args) {
		counts.failed.Add(1)
		return resp.ErrWrongArity(args[0])
	}
	reply := c.execute(s, ctx, conn, args)
	if len(reply) > 0 && reply[0] == '-' {
		counts.failed.Add(1)
	} else {
		counts.ok.Add(1)
	}
	return reply
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
func (s *Server) asyncGet(args [][]byte, done func([]byte)) {
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
func (s *Server) asyncSet(args [][]byte, done func([]byte)) {
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

// parseReplVersion validates a replicated version: well-formed, of a known
// region, and not too far in the future.
func (s *Server) parseReplVersion(b []byte) (hlc.Version, []byte) {
	v, err := hlc.ParseVersion(b)
	if err != nil {
		return v, resp.AppendError(nil, "ERR "+err.Error())
	}
	if ahead := v.WallTime().Sub(s.cfg.Now()); ahead > s.cfg.MaxClockSkew {
		return v, resp.AppendError(nil, fmt.Sprintf("ERR version %s is %v ahead of this replica's clock (max skew %v)",
			v, ahead.Round(1e6), s.cfg.MaxClockSkew))
	}
	return v, nil
}

// replMutation parses the arguments of REPL.PUT (key value version) or
// REPL.DEL (key version); on bad input it returns the error reply.
func (s *Server) replMutation(args [][]byte, del bool) (engine.Mutation, []byte) {
	v, e := s.parseReplVersion(args[len(args)-1])
	if e != nil {
		return engine.Mutation{}, e
	}
	m := engine.Mutation{Key: args[0], Version: v, Origin: v.Origin(), Delete: del}
	if !del {
		m.Value = args[1]
	}
	if e := s.checkKey(m.Key); e != nil {
		return m, e
	}
	if e := s.checkValue(m.Value); e != nil {
		return m, e
	}
	return m, nil
}

// replReply is the reply to a replicated write: REPL.PUT :1 if applied,
// :0 if the replica already held that version or a newer one; REPL.DEL :1
// if it deleted a live value, else :0.
func replReply(m engine.Mutation, r engine.Result) []byte {
	if r.Err != nil {
		return errReply(r.Err)
	}
	if m.Delete {
		return resp.AppendInt(nil, int64(boolInt(r.Applied && r.WasLive)))
	}
	return resp.AppendInt(nil, int64(boolInt(r.Applied)))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// asyncRepl runs REPL.PUT or REPL.DEL without holding a goroutine.
func (s *Server) asyncRepl(args [][]byte, done func([]byte)) {
	m, e := s.replMutation(args[1:], len(args) == 3)
	if e != nil {
		done(e)
		return
	}
	s.clock.Observe(m.Version)
	s.eng.ApplyFunc(m, func(r engine.Result) { done(replReply(m, r)) })
}

// asyncReplMPut runs REPL.MPUT key value version [key value version ...].
func (s *Server) asyncReplMPut(args [][]byte, done func([]byte)) { s.asyncReplMany(args, false, done) }

// asyncReplMDel runs REPL.MDEL key version [key version ...].
func (s *Server) asyncReplMDel(args [][]byte, done func([]byte)) { s.asyncReplMany(args, true, done) }

// asyncReplMany runs REPL.MPUT or REPL.MDEL (del): many REPL.PUT or
// REPL.DEL, merged by the coordinator (see peer.Client.GoMerged). The reply
// is an array of each item's REPL.PUT or REPL.DEL reply, in order; a bad
// item gets its error in its place and leaves the others alone.
func (s *Server) asyncReplMany(args [][]byte, del bool, done func([]byte)) {
	per := 3
	if del {
		per = 2
	}
	if (len(args)-1)%per != 0 {
		done(resp.ErrWrongArity(args[0]))
		return
	}
	n := (len(args) - 1) / per
	replies := make([][]byte, n)
	var left atomic.Int64
	left.Store(int64(n))
	answer := func(i int, reply []byte) {
		replies[i] = reply
		if left.Add(-1) > 0 {
			return
		}
		b := resp.AppendArray(nil, n)
		for _, r := range replies {
			b = append(b, r...)
		}
		done(b)
	}
	for i := range n {
		m, e := s.replMutation(args[1+i*per:1+(i+1)*per], del)
		if e != nil {
			answer(i, e)
			continue
		}
		s.clock.Observe(m.Version)
		s.eng.ApplyFunc(m, func(r engine.Result) { answer(i, replReply(m, r)) })
	}
}

func (s *Server) cmdReplDigest(context.Context, *resp.Conn, [][]byte) []byte {
	d := s.eng.Digest()
	return resp.AppendBulk(nil, engine.EncodeDigest(&d))
}

func (s *Server) cmdReplBucket(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	b, err := strconv.Atoi(string(args[1]))
	if err != nil || b < 0 || b >= engine.NumBuckets {
		return resp.AppendError(nil, fmt.Sprintf("ERR bucket must be an integer in [0, %d)", engine.NumBuckets))
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
