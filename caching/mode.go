package caching

import (
	"context"

	"planet/internal/resp"
)

// connState is what the cache keeps of one client connection. Every
// cache command is Serial, so only the connection's reader goroutine
// touches it.
type connState struct {
	next Mode    // PLANET.MODE m: the mode of the next write only
	conn Mode    // PLANET.MODE m CONNECTION: the mode of every later write
	last *waiter // the last write's acknowledgements; nil before any
}

func stateOf(c *resp.Conn) *connState {
	if st, ok := c.Value().(*connState); ok {
		return st
	}
	st := &connState{}
	if c != nil {
		c.SetValue(st)
	}
	return st
}

// takeMode returns the mode of a write about to run on the connection,
// and forgets a PLANET.MODE that named the next write only.
func (st *connState) takeMode(server Mode) Mode {
	m := server
	if st.conn != ModeDefault {
		m = st.conn
	}
	if st.next != ModeDefault {
		m, st.next = st.next, ModeDefault
	}
	return m
}

// PLANET.MODE eventual|quorum|strong [NEXT|CONNECTION]
// PLANET.MODE DEFAULT CONNECTION
//
// Sets the mode of the connection's next write (NEXT, the default), or of
// every later write on it (CONNECTION; DEFAULT goes back to the
// server's). The next write is the next command that may modify data,
// whether or not it does.
func cmdPlanetMode(_ context.Context, c *resp.Conn, args [][]byte) []byte {
	if len(args) > 3 {
		return syntaxErr
	}
	scope := "next"
	if len(args) == 3 {
		switch {
		case is(args[2], "next"):
		case is(args[2], "connection"):
			scope = "connection"
		default:
			return syntaxErr
		}
	}
	st := stateOf(c)
	if is(args[1], "default") {
		if scope != "connection" {
			return resp.AppendError(nil, "ERR DEFAULT applies to CONNECTION only")
		}
		st.conn = ModeDefault
		return okReply
	}
	m, err := ParseMode(string(args[1]))
	if err != nil {
		return resp.AppendError(nil, "ERR "+err.Error())
	}
	if scope == "next" {
		st.next = m
	} else {
		st.conn = m
	}
	return okReply
}

// PLANET.ACKS: the regions that hold the connection's last write, this
// region first: those where every cache acknowledged it so far. A write
// that changed nothing is held by this region alone; before any write,
// the reply is empty.
func (r *replicator) cmdPlanetAcks(_ context.Context, c *resp.Conn, _ [][]byte) []byte {
	st := stateOf(c)
	if st.last == nil {
		return resp.AppendArray(nil, 0)
	}
	acked, _ := st.last.regions(r.region)
	b := resp.AppendArray(nil, len(acked))
	for _, name := range acked {
		b = resp.AppendBulkString(b, name)
	}
	return b
}

// write adapts a write txCommand: it runs under the Store's lock, then its
// records go to the peers in the connection's mode.
func (r *replicator) write(s *Store, fn txCommand, denyOOM bool) func(context.Context, *resp.Conn, [][]byte) []byte {
	return func(ctx context.Context, c *resp.Conn, args [][]byte) []byte {
		if s.loading.Load() {
			return loadingErr
		}
		reply, recs, n := s.Write(r.hasPeers(), func(tx *Tx) []byte {
			if denyOOM && !tx.makeRoom() {
				return oomErr
			}
			return fn(tx, args)
		})
		st := stateOf(c)
		w, failed := r.replicate(ctx, st.takeMode(r.defaultMode()), recs, n)
		st.last = w
		if failed != nil {
			return failed
		}
		return reply
	}
}
