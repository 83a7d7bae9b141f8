package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"planet/internal/resp"
	"planet/storage/engine"
)

// cmdScan: SCAN cursor [MATCH pattern] [COUNT n], over this replica. The
// cursor is the next layout bucket; a call returns whole buckets, so a key
// present for the whole iteration is returned (at least once).
func (s *Server) cmdScan(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	cursor, err := strconv.ParseUint(string(args[1]), 10, 64)
	if err != nil || cursor >= engine.ScanCursors {
		return resp.AppendError(nil, "ERR invalid cursor")
	}
	count := 10
	var match func([]byte) bool
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return resp.AppendError(nil, "ERR syntax error")
		}
		switch strings.ToUpper(string(args[i])) {
		case "MATCH":
			pattern := args[i+1]
			match = func(key []byte) bool { return resp.GlobMatch(pattern, key) }
		case "COUNT":
			n, err := strconv.Atoi(string(args[i+1]))
			if err != nil || n < 1 {
				return resp.AppendError(nil, "ERR value is not an integer or out of range")
			}
			count = n
		default:
			return resp.AppendError(nil, "ERR syntax error")
		}
	}
	next, keys, err := s.eng.Scan(int(cursor), count, match)
	if err != nil {
		return errReply(err)
	}
	b := resp.AppendArray(nil, 2)
	b = resp.AppendBulkString(b, strconv.Itoa(next))
	b = resp.AppendArray(b, len(keys))
	for _, k := range keys {
		b = resp.AppendBulk(b, k)
	}
	return b
}

func (s *Server) cmdDBSize(context.Context, *resp.Conn, [][]byte) []byte {
	return resp.AppendInt(nil, s.eng.Stats().Keys)
}

// cmdPeers: PEERS reports the replicas this one coordinates with, as a flat
// map: peers (count), w, r, addresses.
func (s *Server) cmdPeers(context.Context, *resp.Conn, [][]byte) []byte {
	addrs := s.peers.addrs()
	b := resp.AppendArray(nil, 8)
	b = resp.AppendBulkString(b, "peers")
	b = resp.AppendInt(b, int64(len(addrs)))
	b = resp.AppendBulkString(b, "w")
	b = resp.AppendInt(b, int64(s.cfg.W))
	b = resp.AppendBulkString(b, "r")
	b = resp.AppendInt(b, int64(s.cfg.R))
	b = resp.AppendBulkString(b, "addresses")
	b = resp.AppendArray(b, len(addrs))
	for _, a := range addrs {
		b = resp.AppendBulkString(b, a)
	}
	return b
}

// settings are what CONFIG GET reports: the replica's quorum and
// durability settings, read-only (they are set at start).
func (s *Server) settings() []resp.Setting {
	get := func(v any) func() string { return func() string { return fmt.Sprint(v) } }
	return []resp.Setting{
		{Name: "quorum-w", Get: get(s.cfg.W)},
		{Name: "quorum-r", Get: get(s.cfg.R)},
		{Name: "consistency", Get: get(s.cfg.Consistency)},
		{Name: "durability", Get: get(s.cfg.Engine.Durability)},
		{Name: "max-value", Get: get(s.cfg.MaxValue)},
		{Name: "quorum-timeout", Get: get(s.cfg.QuorumTimeout)},
	}
}

// infoSections are Planet's own INFO sections and fields.
func (s *Server) infoSections() []resp.InfoSection {
	return []resp.InfoSection{
		{Name: "server", Fields: func(add func(string, any)) {
			add("region", s.cfg.Region)
			add("node", s.clock.Node())
		}},
		{Name: "replication", Fields: func(add func(string, any)) {
			add("peers", len(s.peers.addrs()))
			add("quorum_w", s.cfg.W)
			add("quorum_r", s.cfg.R)
			add("consistency", s.cfg.Consistency)
			add("hints_pending", s.hints.pending())
		}},
		{Name: "persistence", Fields: func(add func(string, any)) {
			st := s.eng.Stats()
			add("durability", s.cfg.Engine.Durability)
			add("wal_generation", st.Generation)
			add("wal_bytes", st.WALBytes)
			add("compacting", boolInt(st.Compacting))
			add("tombstones_purged", st.Purged)
		}},
		{Name: "keyspace", Fields: func(add func(string, any)) {
			add("db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", s.eng.Stats().Keys))
		}},
	}
}
