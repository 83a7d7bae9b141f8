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
// two), Flags for COMMAND and access (FlagInternal marks platform-only
// commands such as REPL.PUT, FlagNoAuth those allowed before AUTH), Class, and Run or, for commands that wait without holding a
// goroutine, Async. A Command with Subcommands is a container, as Redis's
// CONFIG: args[1] picks the subcommand ("config|get"), and a HELP
// subcommand is generated. The Mux looks a name up without allocating,
// answers unknown commands and subcommands and wrong argument counts with
// Redis's exact errors, and counts every command's calls (ok, failed,
// rejected, and with MuxConfig.Timing microseconds) for a service's
// metrics (Mux.Stats) and INFO commandstats.
//
// NewMux registers the housekeeping commands, whose replies are those of
// redis-server 7 (RESP2, one database): PING, ECHO, QUIT, AUTH, SELECT, HELLO,
// CLIENT (ID, INFO, LIST, SETNAME, GETNAME, SETINFO), CONFIG (GET, SET)
// over the Settings the service declares and the Mux's own (requirepass,
// maxclients, timeout), COMMAND (COUNT, LIST, INFO,
// DOCS) from the table itself, and INFO with the server, clients and
// stats and commandstats sections plus the service's own (MuxConfig.Info). The
// service then registers its commands (Register also replaces a
// housekeeping command) before the Server starts; the table is fixed from
// the first command on. HELLO 3 gets "-NOPROTO unsupported protocol
// version": clients fall back to RESP2.
//
// # Authentication
//
// A Mux knows two users, as Redis's ACL would: "default", the
// application, whose password is MuxConfig.Password (Redis's
// requirepass, changed at run time by CONFIG SET requirepass), and
// secret.PlatformUser ("planet"), the platform, whose password is
// MuxConfig.PlatformPassword. A connection authenticates with
// AUTH [username] password or HELLO 2 AUTH username password; the
// replies, and the order of the checks, are Redis 7's:
//
//  1. an unknown command, an unknown subcommand or the wrong number of
//     arguments gets its usual error, authenticated or not (so internal
//     commands are known to exist, as in Redis, where COMMAND lists them
//     too: their names are no secret, only running them is);
//  2. with a Password set, a connection that has not authenticated gets
//     "-NOAUTH Authentication required." for every command but those
//     flagged FlagNoAuth: AUTH, HELLO and QUIT (HELLO without AUTH gets
//     Redis's longer NOAUTH error). A connection opened while no Password
//     was set is authenticated as default, and stays so if one is set
//     later, as in Redis;
//  3. with a PlatformPassword set, a FlagInternal command on a connection
//     not authenticated as the platform gets "-NOPERM User <user> has no
//     permissions to run the '<cmd>' command" (Redis 7.2's ACL error) and
//     does not run. Without it, internal commands are open, and AUTH
//     planet fails as for any unknown user.
//
// Passwords are compared in constant time. Failed attempts (AUTH and
// HELLO AUTH) are counted (INFO stats acl_access_denied_auth; NOPERM
// refusals are acl_access_denied_cmd), logged at most once a second per
// remote IP with their count, the remote address and the user name (a
// name that is no user's is logged as "(unknown)": it may be a password
// sent in the wrong place) and never the password, and rate-limited per
// remote IP: 10 failures a second after a burst of 20. From an IP over
// the limit, every attempt waits for its turn (at most 1s) before it is
// checked, holding up only its own connection; one that would wait longer
// is answered with an error and its connection closed.
//
// # Limits
//
// The Server serves at most Config.MaxClients connections (Redis's
// maxclients, default 10,000); one accepted beyond gets "-ERR max number
// of clients reached" and is closed (INFO stats rejected_connections).
// With Config.IdleTimeout (Redis's timeout), a connection that sent
// nothing for that long while none of its commands was in flight (running,
// waiting, or with its reply unwritten) is closed, silently. Both change at
// run time (Server.SetMaxClients, Server.SetIdleTimeout; CONFIG SET
// maxclients, timeout).
package resp
