package storage

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	var match []byte
	for i := 2; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return resp.AppendError(nil, "ERR syntax error")
		}
		switch strings.ToUpper(string(args[i])) {
		case "MATCH":
			match = args[i+1]
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

func (s *Server) cmdPing(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	switch len(args) {
	case 1:
		return resp.AppendSimple(nil, "PONG")
	case 2:
		return resp.AppendBulk(nil, args[1])
	}
	return resp.ErrWrongArity(args[0])
}

func (s *Server) cmdEcho(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	return resp.AppendBulk(nil, args[1])
}

func (s *Server) cmdQuit(_ context.Context, c *resp.Conn, _ [][]byte) []byte {
	c.CloseAfterReply()
	return resp.AppendOK(nil)
}

func (s *Server) cmdSelect(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	if string(args[1]) != "0" {
		return resp.AppendError(nil, "ERR DB index is out of range")
	}
	return resp.AppendOK(nil)
}

// cmdConfig: CONFIG GET answers an empty list (tools such as
// redis-benchmark ask for settings Planet does not have).
func (s *Server) cmdConfig(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	if strings.EqualFold(string(args[1]), "GET") {
		return resp.AppendArray(nil, 0)
	}
	return resp.AppendError(nil, "ERR CONFIG "+strings.ToUpper(string(args[1]))+" is not supported")
}

func (s *Server) cmdCommand(context.Context, *resp.Conn, [][]byte) []byte {
	return resp.AppendArray(nil, 0)
}

// cmdClient accepts CLIENT SETNAME and SETINFO, which client libraries send
// when they connect.
func (s *Server) cmdClient(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	switch strings.ToUpper(string(args[1])) {
	case "SETNAME", "SETINFO":
		return resp.AppendOK(nil)
	}
	return resp.AppendError(nil, "ERR CLIENT "+strings.ToUpper(string(args[1]))+" is not supported")
}

// cmdHello: Planet speaks RESP2 only; clients fall back to it.
func (s *Server) cmdHello(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	if len(args) == 1 || string(args[1]) == "2" {
		return resp.AppendError(nil, "ERR HELLO is not supported; this server speaks RESP2")
	}
	return resp.AppendError(nil, "NOPROTO unsupported protocol version")
}

func (s *Server) cmdInfo(_ context.Context, _ *resp.Conn, args [][]byte) []byte {
	section := ""
	if len(args) > 1 {
		section = strings.ToLower(string(args[1]))
	}
	st := s.eng.Stats()
	var b bytes.Buffer
	add := func(name string, kv ...any) {
		if section != "" && section != "all" && section != "everything" && section != name {
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		fmt.Fprintf(&b, "# %s\r\n", strings.ToUpper(name[:1])+name[1:])
		for i := 0; i+1 < len(kv); i += 2 {
			fmt.Fprintf(&b, "%s:%v\r\n", kv[i], kv[i+1])
		}
	}
	add("server", "planet_service", "storage", "region", s.cfg.Region, "node", s.clock.Node(),
		"tcp_port", s.cfg.Port, "uptime_in_seconds", int(s.cfg.Now().Sub(s.started)/time.Second))
	add("clients", "connected_clients", s.resp.Connections())
	add("replication", "peers", len(s.peers.addrs()), "quorum_w", s.cfg.W, "quorum_r", s.cfg.R,
		"hints_pending", s.hints.pending())
	add("persistence", "durability", s.cfg.Engine.Durability, "wal_generation", st.Generation,
		"wal_bytes", st.WALBytes, "compacting", boolInt(st.Compacting), "tombstones_purged", st.Purged)
	add("keyspace", "db0", fmt.Sprintf("keys=%d,expires=0,avg_ttl=0", st.Keys))
	return resp.AppendBulk(nil, b.Bytes())
}
