// Package resp is the RESP2 server shared by Planet's storage and cache
// services: any Redis client (redis-cli, redis-benchmark, go-redis) talks to
// it. The server knows the protocol, not the commands: a Handler classifies
// and executes them. A Mux is the Handler that services use: a command
// table with Redis's housekeeping commands.
//
// # Requests
//
// A request is either a multibulk frame
//
//	*<count>\r\n $<len>\r\n <len bytes>\r\n ...   (count bulk strings)
//
// or an inline command: a line that does not start with '*', ended by \n
// (an \r before it is dropped), split into arguments the way Redis'
// sdssplitargs does ("double quotes" with \n \r \t \b \a \\ \" \xHH escapes,
// 'single quotes' with only \'; a closing quote must be followed by a space
// or the end of the line). A NUL byte ends an inline line, as in Redis.
// "*0" and "*-1" frames and blank inline lines are skipped.
//
// Malformed input is a *ProtocolError; the server replies
// "-ERR Protocol error: <msg>" after the replies of the earlier commands and
// closes the connection, as Redis does. Unlike Redis, the two bytes after
// bulk data must be \r\n, and a multibulk count below -1 is an error rather
// than an empty command.
//
// The parser never allocates on the strength of a declared length: a bulk
// string is read into memory that grows with the data received, at most
// 1 MiB beyond it, so a client announcing "$500000000" and sending nothing
// costs 1 MiB, not 500 MB. Each command's arguments share one backing
// buffer, allocated for that command and owned by its handler call.
//
// # Ordering on a connection
//
// One reader goroutine per connection parses commands and asks the Handler
// for each command's Class:
//
//   - Serial commands run alone, on the reader goroutine, once every earlier
//     command of the connection has finished.
//   - Consecutive Read commands may run concurrently, each on its own
//     goroutine; so may consecutive Write commands. A Read waits for the
//     running Writes to finish and vice versa, so a pipeline "SET k v; GET k"
//     reads its own write.
//
// Replies are written in command order whatever order commands finish in,
// and flushed when no further reply is ready, so a pipeline of 16 replies
// goes out in one write. At most 1024 commands per connection are in flight
// (dispatched, reply not yet written); the reader stops reading beyond that.
//
// A command that arrives while the connection has nothing in flight and no
// further input buffered runs on the reader goroutine, which writes its reply
// itself: the common request/response exchange costs no goroutine handoff.
//
// A client that disconnects cancels nothing: running commands complete and
// their replies are discarded. Server.Run's context is the one every Exec
// gets; it is cancelled at shutdown (Run's context ends or Close is
// called), and Run and Close wait for every Exec to return.
//
// # Mux
//
// A Mux maps command names to Commands: name (any case), arity in Redis's
// convention (3: exactly three arguments, the name included; -2: at least
// two), Flags for COMMAND (FlagInternal marks platform-only commands such as
// REPL.PUT), Class, and Run or, for commands that wait without holding a
// goroutine, Async. A Command with Subcommands is a container, as Redis's
// CONFIG: args[1] picks the subcommand ("config|get"), and a HELP
// subcommand is generated. The Mux looks a name up without allocating,
// answers unknown commands and subcommands and wrong argument counts with
// Redis's exact errors, and counts every command's calls (ok, failed,
// rejected, and with MuxConfig.Timing microseconds) for a service's
// metrics (Mux.Stats) and INFO commandstats.
//
// NewMux registers the housekeeping commands, whose replies are those of
// redis-server 7 (RESP2, one database): PING, ECHO, QUIT, SELECT, HELLO,
// CLIENT (ID, INFO, LIST, SETNAME, GETNAME, SETINFO), CONFIG (GET, SET)
// over the Settings the service declares, COMMAND (COUNT, LIST, INFO,
// DOCS) from the table itself, and INFO with the server, clients and
// commandstats sections plus the service's own (MuxConfig.Info). The
// service then registers its commands (Register also replaces a
// housekeeping command) before the Server starts; the table is fixed from
// the first command on. HELLO 3 gets "-NOPROTO unsupported protocol
// version": clients fall back to RESP2.
package resp
