// Package peer is the client that Planet's storage replicas (and later
// caches) use to send RESP commands to each other.
//
// A Client talks to one peer over Config.Conns persistent connections, each
// driven by a worker goroutine. Do puts a command on the client's queue and
// waits. A worker takes the command, adds every command already queued
// behind it (up to Config.MaxBatch), writes them as one pipeline, reads all
// the replies and hands each to its caller. Concurrent callers thus share
// round trips, while a lone command still goes out at once: a worker never
// waits to fill a batch. Commands that one goroutine issues one after
// another reach the peer in that order, since each Do returns only after
// its reply.
//
// Errors: an error reply from the peer is a *ReplyError, an answer like any
// other. A caller whose context ends first gets ErrTimeout; its command may
// still be sent, and its reply is dropped. Any transport failure (dial,
// I/O, no reply within Config.IOTimeout) fails the commands it affects with
// ErrUnavailable and opens a backoff window of Config.Backoff: until it
// passes, Do fails fast with ErrUnavailable without dialling, and so do the
// commands still queued. Nothing is retried here; whether a command is safe
// to repeat is the caller's decision.
//
// The connections carry only the callers' commands, in RESP2: no HELLO,
// CLIENT SETINFO or other handshake. go-redis, which does the wire work,
// does not show in the API.
//
// Pool keeps one Client per address for a peer set that changes.
package peer
