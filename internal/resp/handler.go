package resp

import "context"

// Class says how a command is ordered against its neighbours on one
// connection.
type Class int

const (
	// Serial commands run alone: after every earlier command of the
	// connection finished, before any later one starts.
	Serial Class = iota
	// Read commands: consecutive ones of a connection may run
	// concurrently. A Read starts once the earlier Writes finished.
	Read
	// Write commands: consecutive ones of a connection may run
	// concurrently. A Write starts once the earlier Reads finished.
	Write
)

// Handler executes commands. args[0] is the command name as sent (any
// case). The args slices belong to the handler call: the server does not
// use them after Class and Exec (the arguments of a command share one
// backing buffer).
type Handler interface {
	// Class classifies a command; any value other than Read and Write
	// means Serial.
	Class(args [][]byte) Class
	// Exec runs one command and returns its complete RESP reply (built with
	// the Append* helpers). The server neither modifies nor keeps the
	// reply after writing it, so it may be a shared constant. Exec may
	// block (e.g. waiting for replicas) but must return once ctx, which is
	// cancelled at shutdown, is done.
	Exec(ctx context.Context, c *Conn, args [][]byte) []byte
}

// AsyncHandler is an optional interface of a Handler, for Read and Write
// commands that wait for something (a write waiting for its fsync) without
// holding a goroutine each. The server then starts every such command of a
// pipeline at once, in order, from the connection's reader, and writes the
// replies in command order as they complete. A command that arrives alone
// (nothing in flight, nothing pipelined behind it) runs with Exec on the
// reader, which answers it directly: cheaper than a hand-off.
type AsyncHandler interface {
	// Async reports whether the command is to run with ExecAsync.
	Async(args [][]byte) bool
	// ExecAsync starts the command and arranges for done to be called
	// exactly once with its complete reply, from any goroutine, soon
	// after ctx (cancelled at shutdown) is done at the latest. It may
	// call done before returning; done does not block for long.
	ExecAsync(ctx context.Context, c *Conn, args [][]byte, done func(reply []byte))
}
