package peer

import (
	"context"
	"errors"
	"fmt"
)

var (
	// ErrUnavailable means the peer could not be reached: a dial or I/O
	// error, a closed Client, or the failure backoff window. The error
	// returned wraps it together with the cause.
	ErrUnavailable = errors.New("peer: unavailable")

	// ErrTimeout means the caller's context ended before the reply arrived.
	// The error returned wraps it together with the context's error. The
	// command may still reach the peer.
	ErrTimeout = errors.New("peer: timeout")
)

// errClosed is the cause of ErrUnavailable after Close.
var errClosed = errors.New("client closed")

// errQueueFull is the cause of ErrUnavailable when Go finds the queue full.
var errQueueFull = errors.New("queue full: the peer is not keeping up")

// errEmptyCommand is returned by Do when called without arguments.
var errEmptyCommand = errors.New("peer: empty command")

// ReplyError is an error reply sent by the peer (a RESP "-ERR ..." line).
// It is an answer, not a transport failure.
type ReplyError struct {
	Msg string // the reply without its leading '-', e.g. "ERR unknown command"
}

func (e *ReplyError) Error() string { return "peer: reply: " + e.Msg }

// unavailable wraps cause in ErrUnavailable.
func unavailable(cause error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}

// timeout wraps the reason ctx ended in ErrTimeout.
func timeout(ctx context.Context) error {
	return fmt.Errorf("%w: %w", ErrTimeout, context.Cause(ctx))
}
