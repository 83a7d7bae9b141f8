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
