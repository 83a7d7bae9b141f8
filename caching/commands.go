package caching

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"planet/internal/resp"
)

// txCommand runs one command under the Store's lock.
type txCommand func(tx *Tx, args [][]byte) []byte

// command describes one of the cache's commands for newMux.
type command struct {
	name    string
	arity   int
	write   bool // modifies the keyspace (Redis's "write" flag)
	denyOOM bool // may grow memory: refused while over the limit and unable to evict
	keys    [3]int
	group   string
	run     txCommand
}

// commandTable lists the cache's commands with Redis 7's arity and key
// positions.
func commandTable() []command {
	one, all, pairs := [3]int{1, 1, 1}, [3]int{1, -1, 1}, [3]int{1, -1, 2}
	const str, gen, srv = "string", "generic", "server"
	return []command{
		{"get", 2, false, false, one, str, cmdGet},
		{"set", -3, true, true, one, str, cmdSet},
		{"setnx", 3, true, true, one, str, cmdSetNX},
		{"setex", 4, true, true, one, str, cmdSetEX},
		{"psetex", 4, true, true, one, str, cmdPSetEX},
		{"getset", 3, true, true, one, str, cmdGetSet},
		{"getdel", 2, true, false, one, str, cmdGetDel},
		{"getex", -2, true, false, one, str, cmdGetEX},
		{"mget", -2, false, false, all, str, cmdMGet},
		{"mset", -3, true, true, pairs, str, cmdMSet},
		{"msetnx", -3, true, true, pairs, str, cmdMSetNX},
		{"append", 3, true, true, one, str, cmdAppend},
		{"strlen", 2, false, false, one, str, cmdStrlen},
		{"getrange", 4, false, false, one, str, cmdGetRange},
		{"setrange", 4, true, true, one, str, cmdSetRange},
		{"incr", 2, true, true, one, str, cmdIncr},
		{"decr", 2, true, true, one, str, cmdDecr},
		{"incrby", 3, true, true, one, str, cmdIncrBy},
		{"decrby", 3, true, true, one, str, cmdDecrBy},
		{"incrbyfloat", 3, true, true, one, str, cmdIncrByFloat},
		{"del", -2, true, false, all, gen, cmdDel},
		{"unlink", -2, true, false, all, gen, cmdDel},
		{"exists", -2, false, false, all, gen, cmdExists},
		{"type", 2, false, false, one, gen, cmdType},
		{"expire", -3, true, false, one, gen, expireCommand("expire", true, true)},
		{"pexpire", -3, true, false, one, gen, expireCommand("pexpire", false, true)},
		{"expireat", -3, true, false, one, gen, expireCommand("expireat", true, false)},
		{"pexpireat", -3, true, false, one, gen, expireCommand("pexpireat", false, false)},
		{"ttl", 2, false, false, one, gen, ttlCommand(false, false)},
		{"pttl", 2, false, false, one, gen, ttlCommand(true, false)},
		{"expiretime", 2, false, false, one, gen, ttlCommand(false, true)},
		{"pexpiretime", 2, false, false, one, gen, ttlCommand(true, true)},
		{"persist", 2, true, false, one, gen, cmdPersist},
		{"keys", 2, false, false, [3]int{}, gen, cmdKeys},
		{"scan", -2, false, false, [3]int{}, gen, cmdScan},
		{"randomkey", 1, false, false, [3]int{}, gen, cmdRandomKey},
		{"rename", 3, true, false, [3]int{1, 2, 1}, gen, cmdRename},
		{"renamenx", 3, true, false, [3]int{1, 2, 1}, gen, cmdRenameNX},
		{"dbsize", 1, false, false, [3]int{}, srv, cmdDBSize},
		{"flushdb", -1, true, false, [3]int{}, srv, cmdFlush},
		{"flushall", -1, true, false, [3]int{}, srv, cmdFlush},
	}
}

// NewMux returns the cache's RESP commands over st, without replication:
// Redis's housekeeping commands (internal/resp) and the string and
// keyspace commands. Of mc, only the authentication (Password,
// PlatformPassword) and Timing are used; the rest is the cache's.
func NewMux(st *Store, mc resp.MuxConfig) (*resp.Mux, error) { return newMux(st, mc, nil) }

// newMux is NewMux with replication through r (nil: none): writes go to
// the peers, and the PLANET.* and internal CACHE.* commands are there.
// Every command is Serial: it runs under the Store's lock and never waits
// but for a write's peers, so a pipeline of them runs inline on the
// connection's goroutine and a connection's writes are acknowledged in
// order.
func newMux(st *Store, mc resp.MuxConfig, r *replicator) (*resp.Mux, error) {
	mc.Service, mc.Settings, mc.Info = ServiceName, settings(st, r), infoSections(st, r)
	m, err := resp.NewMux(mc)
	if err != nil {
		return nil, fmt.Errorf("caching: %w", err)
	}
	for _, c := range commandTable() {
		flags, run := resp.FlagReadOnly, st.run(c.run, c.denyOOM)
		if c.write {
			flags = resp.FlagWrite
			if r != nil {
				run = r.write(st, c.run, c.denyOOM)
			}
		}
		m.Register(resp.Command{Name: c.name, Arity: c.arity, Class: resp.Serial, Flags: flags,
			FirstKey: c.keys[0], LastKey: c.keys[1], KeyStep: c.keys[2], Group: c.group, Run: run})
	}
	m.Register(debugCommand())
	if r == nil {
		return m, nil
	}
	m.Register(resp.Command{Name: "planet.mode", Arity: -2, Class: resp.Serial, Flags: resp.FlagFast, Group: "connection",
		Summary: "set the replication mode of the next write, or of the connection", Run: cmdPlanetMode})
	m.Register(resp.Command{Name: "planet.acks", Arity: 1, Class: resp.Serial, Flags: resp.FlagFast, Group: "connection",
		Summary: "the regions that hold the connection's last write", Run: r.cmdPlanetAcks})
	m.Register(resp.Command{Name: applyCommand, Arity: -2, Class: resp.Serial, Flags: resp.FlagWrite | resp.FlagInternal,
		Summary: "apply writes replicated from a peer, each iff newer", Run: func(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
			if _, err := checkRecords(args[1:]); err != nil {
				return resp.AppendError(nil, "ERR cache.apply: "+err.Error())
			}
			st.Apply(args[1:])
			return okReply
		}})
	m.Register(resp.Command{Name: dumpCommand, Arity: 3, Class: resp.Serial, Flags: resp.FlagReadOnly | resp.FlagInternal,
		Summary: "a page of entries with their TTLs and versions, for a warm start", Run: func(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
			cursor, err1 := strconv.Atoi(string(args[1]))
			count, err2 := strconv.Atoi(string(args[2]))
			if err1 != nil || err2 != nil || cursor < 0 || cursor >= numBuckets || count < 1 {
				return resp.AppendError(nil, "ERR cache.dump: want a cursor 0..1023 and a count of at least 1")
			}
			ops, next := st.Dump(cursor, min(count, 100000))
			return appendDumpReply(nil, ops, next)
		}})
	return m, nil
}

// run adapts a txCommand to resp.Command.Run; a denyOOM command first
// makes room under the memory limit, or fails with -OOM.
func (s *Store) run(fn txCommand, denyOOM bool) func(context.Context, *resp.Conn, [][]byte) []byte {
	return func(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
		if s.loading.Load() {
			return loadingErr
		}
		return s.Do(func(tx *Tx) []byte {
			if denyOOM && !tx.makeRoom() {
				return oomErr
			}
			return fn(tx, args)
		})
	}
}

// settings are the cache's CONFIG parameters.
func settings(st *Store, r *replicator) []resp.Setting {
	set := []resp.Setting{
		{Name: "maxmemory", Get: func() string { return strconv.FormatInt(st.MaxMemory(), 10) },
			Set: func(v string) error {
				n, err := ParseMemory(v)
				if err != nil {
					return err
				}
				st.SetMaxMemory(n)
				return nil
			}},
		{Name: "maxmemory-policy", Get: func() string { return string(st.Policy()) },
			Set: func(v string) error {
				p, err := ParsePolicy(strings.ToLower(v))
				if err != nil {
					return fmt.Errorf("argument(s) must be one of the following: volatile-lru, allkeys-lru, allkeys-random, noeviction")
				}
				st.SetPolicy(p)
				return nil
			}},
	}
	if r == nil {
		return set
	}
	return append(set,
		resp.Setting{Name: "cache-mode", Get: func() string { return r.defaultMode().String() },
			Set: func(v string) error {
				m, err := ParseMode(v)
				if err != nil {
					return errors.New("argument must be one of the following: eventual, quorum, strong")
				}
				r.mode.Store(uint32(m))
				return nil
			}},
		resp.Setting{Name: "cache-strong-timeout", Get: func() string { return strconv.FormatInt(time.Duration(r.strongTimeout.Load()).Milliseconds(), 10) },
			Set: func(v string) error {
				ms, err := strconv.ParseInt(v, 10, 64)
				if err != nil || ms < 1 || ms > 3_600_000 {
					return errors.New("argument must be milliseconds between 1 and 3600000")
				}
				r.strongTimeout.Store(int64(time.Duration(ms) * time.Millisecond))
				return nil
			}})
}

// debugCommand is DEBUG with the one subcommand the cache has: SLEEP.
func debugCommand() resp.Command {
	return resp.Command{Name: "debug", Arity: -2, Flags: resp.FlagAdmin, Group: "server", Subcommands: []resp.Command{
		{Name: "sleep", Arity: 3, Class: resp.Serial, Flags: resp.FlagAdmin,
			Summary: "sleep for the given seconds (this connection only; the cache goes on serving others)",
			Run: func(ctx context.Context, _ *resp.Conn, args [][]byte) []byte {
				secs, err := strconv.ParseFloat(string(args[2]), 64)
				if err != nil || secs < 0 || secs > 3600 {
					return resp.AppendError(nil, "ERR value is not a valid float")
				}
				t := time.NewTimer(time.Duration(secs * float64(time.Second)))
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				return okReply
			}},
	}}
}

// ParseMemory parses a memory size as Redis does: bytes, or a number with
// a unit k, kb, m, mb, g, gb (k = 1000, kb = 1024, ...) in any case.
func ParseMemory(s string) (int64, error) {
	units := []struct {
		suffix string
		mul    int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1}}
	lower, mul := strings.ToLower(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			lower, mul = strings.TrimSuffix(lower, u.suffix), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(lower, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mul {
		return 0, fmt.Errorf("argument must be a memory value")
	}
	return n * mul, nil
}

// infoSections are the cache's INFO sections and fields, as Redis names
// them.
func infoSections(st *Store, r *replicator) []resp.InfoSection {
	sections := []resp.InfoSection{
		{Name: "memory", Fields: func(add func(string, any)) {
			add("used_memory", st.Used())
			add("maxmemory", st.MaxMemory())
			add("maxmemory_policy", st.Policy())
			add("entry_overhead", EntryOverhead)
		}},
		{Name: "stats", Fields: func(add func(string, any)) {
			s := st.Stats()
			add("expired_keys", s.Expired)
			add("evicted_keys", s.Evicted)
			add("keyspace_hits", s.Hits)
			add("keyspace_misses", s.Misses)
		}},
		{Name: "keyspace", Fields: func(add func(string, any)) {
			if n := st.Len(); n > 0 {
				add("db0", fmt.Sprintf("keys=%d,expires=%d,avg_ttl=0", n, st.Volatile()))
			}
		}},
		{Name: "replication", Fields: func(add func(string, any)) {
			// As Redis names them: caches are all primaries; peers
			// are not Redis replicas (see the planet section).
			add("role", "master")
			add("connected_slaves", 0)
		}},
	}
	if r != nil {
		sections = append(sections, resp.InfoSection{Name: "planet", Fields: r.infoFields})
	}
	return sections
}
