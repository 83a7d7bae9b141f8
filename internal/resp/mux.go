package resp

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Mux is a Handler that serves a table of commands: it finds a command by
// name in any case without allocating, checks its arity, runs it, and
// counts its calls. A new Mux holds the housekeeping commands (see NewMux);
// a service registers its own commands, then passes the Mux to Listen.
type Mux struct {
	cfg      MuxConfig
	commands map[string]*entry // by lower-case name; fixed once sealed
	created  time.Time
	sealed   atomic.Bool // the Mux has looked up a command: Register panics
	unknown  atomic.Int64

	// Authentication (auth.go).
	password   atomic.Pointer[string] // requirepass; nil if none
	limiter    *authLimiter
	deniedAuth atomic.Int64 // failed AUTH attempts
	deniedCmds atomic.Int64 // calls refused with NOPERM
}

var (
	_ Handler      = (*Mux)(nil)
	_ AsyncHandler = (*Mux)(nil)
)

// Command describes a command of a Mux.
type Command struct {
	// Name is matched in any case; COMMAND reports it in lower case. It
	// has 1..32 bytes, printable ASCII other than space and '|'.
	Name string
	// Arity is the number of arguments, the name included, in Redis's
	// convention: n means exactly n, -n at least n. Zero is invalid. A
	// subcommand's arity counts the command name and the subcommand name,
	// so it is at least 2 or at most -2.
	Arity int
	// Flags are reported by COMMAND. The Mux acts on FlagNoAuth and
	// FlagInternal (see there).
	Flags Flags
	// Class orders the command on its connection (see Handler).
	Class Class
	// FirstKey, LastKey and KeyStep are the positions of the key
	// arguments as COMMAND reports them (Redis's convention: LastKey -1
	// is the last argument); zero if the command takes no key.
	FirstKey, LastKey, KeyStep int
	// Group is the command's group in COMMAND DOCS ("string", "generic",
	// "connection", "server", ...); empty means "generic".
	Group string
	// Summary is one line for COMMAND DOCS and the HELP subcommand of a
	// command with subcommands.
	Summary string

	// Run runs the command and returns its reply (as Handler.Exec, whose
	// contract it follows). The Mux calls it only with args that fit
	// Arity. Exactly one of Run and Async is set, except on a command
	// with Subcommands (see there).
	Run func(ctx context.Context, c *Conn, args [][]byte) []byte
	// Async starts the command and calls done with its reply (as
	// AsyncHandler.ExecAsync, whose contract it follows): for Read and
	// Write commands that wait for something without holding a
	// goroutine. Run alone (not pipelined), the Mux waits for done.
	Async func(ctx context.Context, c *Conn, args [][]byte, done func(reply []byte))

	// Subcommands makes this a container command, as Redis's CONFIG:
	// args[1] names the subcommand that runs, which gets args whole
	// (args[0] the command, args[1] the subcommand). Arity must then be
	// negative; a container with Arity -1 also needs Run, called when
	// no subcommand is named (as COMMAND), and no other needs it. Async
	// is not set. Subcommands have no subcommands. A HELP subcommand
	// that lists the subcommands with their Summary is added unless one
	// is given.
	Subcommands []Command
}

// Flags describe a command as COMMAND reports it: Redis's command flags
// that apply, and FlagInternal.
type Flags uint32

const (
	// FlagWrite marks a command that may modify data ("write").
	FlagWrite Flags = 1 << iota
	// FlagReadOnly marks a command that only reads data ("readonly").
	FlagReadOnly
	// FlagAdmin marks an administrative command ("admin").
	FlagAdmin
	// FlagFast marks a command that takes O(1) or O(log N) time and
	// never blocks ("fast").
	FlagFast
	// FlagNoAuth marks a command allowed before the connection
	// authenticated, as HELLO ("no_auth"): when MuxConfig.Password is
	// set, a connection that has not authenticated gets "-NOAUTH
	// Authentication required." for every other command. A subcommand
	// needs the flag itself.
	FlagNoAuth
	// FlagInternal marks a platform-only command, such as REPL.PUT
	// ("internal"): when MuxConfig.PlatformPassword is set, only a
	// connection authenticated as secret.PlatformUser runs it; others get
	// Redis 7.2's "-NOPERM User <user> has no permissions to run the
	// '<cmd>' command". The subcommands of an internal command are
	// internal.
	FlagInternal
)

var flagNames = [...]string{"write", "readonly", "admin", "fast", "no_auth", "internal"}

// Has reports whether f has every flag of g.
func (f Flags) Has(g Flags) bool { return f&g == g }

// String lists the flags' names as COMMAND reports them, separated by '|'.
func (f Flags) String() string { return strings.Join(f.names(), "|") }

func (f Flags) names() []string {
	var out []string
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

// CommandStats are the calls of one command (or subcommand) that a Mux
// counted since it was created.
type CommandStats struct {
	OK     int64 // calls that ran and did not reply with an error
	Failed int64 // calls that ran and replied with an error
	// Rejected counts calls that did not run: the wrong number of
	// arguments, for a container command an unknown subcommand, or
	// access denied (NOAUTH, NOPERM).
	Rejected int64
	// Usec is the time the calls that ran took, from start to reply, in
	// microseconds, if MuxConfig.Timing (else 0); unlike Redis's, it
	// includes the time an Async command waits.
	Usec int64
}

// Calls returns the number of calls that ran, OK + Failed (Redis's
// "calls").
func (s CommandStats) Calls() int64 { return s.OK + s.Failed }

// entry is a registered command with its counters.
type entry struct {
	cmd      Command
	name     string            // full name in lower case: "get", "config|get"
	subs     map[string]*entry // a container's subcommands, by lower-case name
	arityErr []byte            // the reply to a call with the wrong number of arguments
	noAuth   bool              // FlagNoAuth
	// platformOnly: FlagInternal (its own or its container's) and the
	// Mux has a platform password.
	platformOnly bool

	ok, failed, rejected, usec atomic.Int64
}

// maxNameLen bounds a command's name, so that lookup lowers it into a
// buffer on the stack.
const maxNameLen = 32

// NewMux returns a Mux that holds the housekeeping commands, with the
// replies of Redis 7 (RESP2):
//
//	PING [message]    ECHO message    QUIT    SELECT 0
//	AUTH [username] password
//	HELLO [2 [AUTH username password] [SETNAME name]]
//	CONFIG GET pattern [pattern ...] | SET name value [name value ...] | HELP
//	COMMAND [COUNT | LIST | INFO [name ...] | DOCS [name ...] | HELP]
//	CLIENT ID | INFO | LIST [TYPE type | ID id ...] | SETNAME name |
//	       GETNAME | SETINFO LIB-NAME|LIB-VER value | HELP
//	INFO [section ...]
//
// Register replaces any of them. AUTH, HELLO and QUIT are the commands
// flagged FlagNoAuth, as in Redis 7.
func NewMux(cfg MuxConfig) (*Mux, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Mux{cfg: cfg, commands: make(map[string]*entry), created: time.Now(), limiter: newAuthLimiter()}
	m.setPassword(cfg.Password)
	for _, cmd := range m.housekeeping() {
		m.Register(cmd)
	}
	return m, nil
}

// Register adds cmd to the Mux, replacing a command of the same name. It
// panics if cmd is invalid (see Command), or if the Mux already served a
// command: register every command before the Server starts.
func (m *Mux) Register(cmd Command) {
	if m.sealed.Load() {
		panic("resp: Mux.Register called after the Mux served a command")
	}
	e, err := newEntry(cmd, "")
	if err != nil {
		panic(err)
	}
	e.setAccess(false, m.cfg.PlatformPassword != "")
	m.commands[e.name] = e
}

// setAccess sets what deny checks of e and its subcommands.
func (e *entry) setAccess(parentInternal, platform bool) {
	internal := parentInternal || e.cmd.Flags.Has(FlagInternal)
	e.noAuth = e.cmd.Flags.Has(FlagNoAuth)
	e.platformOnly = internal && platform
	for _, sub := range e.subs {
		sub.setAccess(internal, platform)
	}
}

// newEntry validates cmd, a subcommand of parent if parent is not empty.
func newEntry(cmd Command, parent string) (*entry, error) {
	name := strings.ToLower(cmd.Name)
	full := name
	if parent != "" {
		full = parent + "|" + name
	}
	fail := func(msg string) error { return fmt.Errorf("resp: command %q: %s", full, msg) }
	if err := validName(name); err != "" {
		return nil, fail(err)
	}
	leaf := cmd.Subcommands == nil
	switch {
	case cmd.Arity == 0:
		return nil, fail("Arity is zero")
	case parent != "" && cmd.Arity > -2 && cmd.Arity < 2:
		return nil, fail("a subcommand's Arity must count the command and the subcommand")
	case parent != "" && !leaf:
		return nil, fail("a subcommand has Subcommands")
	case leaf && (cmd.Run == nil) == (cmd.Async == nil):
		return nil, fail("exactly one of Run and Async must be set")
	case !leaf && cmd.Arity > 0:
		return nil, fail("a command with Subcommands needs a negative Arity")
	case !leaf && cmd.Async != nil:
		return nil, fail("a command with Subcommands has Async")
	case !leaf && (cmd.Run != nil) != (cmd.Arity == -1):
		return nil, fail("a command with Subcommands has Run if and only if Arity is -1")
	}
	e := &entry{cmd: cmd, name: full, arityErr: ErrWrongArity([]byte(full))}
	if leaf {
		return e, nil
	}
	e.subs = make(map[string]*entry, len(cmd.Subcommands)+1)
	for _, sc := range cmd.Subcommands {
		sub, err := newEntry(sc, name)
		if err != nil {
			return nil, err
		}
		if e.subs[strings.ToLower(sc.Name)] != nil {
			return nil, fail(fmt.Sprintf("subcommand %q given twice", sc.Name))
		}
		e.subs[strings.ToLower(sc.Name)] = sub
	}
	if e.subs["help"] == nil {
		e.subs["help"] = newHelpEntry(e)
	}
	return e, nil
}

// validName returns why name is not a valid command name, or "".
func validName(name string) string {
	if name == "" || len(name) > maxNameLen {
		return "Name must have 1..32 bytes"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' || c == '|' {
			return "Name must be printable ASCII other than space and '|'"
		}
	}
	return ""
}

// Lookup returns the command registered under name, in any case.
func (m *Mux) Lookup(name []byte) (Command, bool) {
	if e := find(m.commands, name); e != nil {
		return e.cmd, true
	}
	return Command{}, false
}

// find looks name up in table in any case, without allocating.
func find(table map[string]*entry, name []byte) *entry {
	if len(name) > maxNameLen {
		return nil
	}
	var buf [maxNameLen]byte
	low := buf[:len(name)]
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	return table[string(low)]
}

// lookup returns the command or subcommand that args call (nil if none),
// whatever the number of arguments.
func (m *Mux) lookup(args [][]byte) *entry {
	if !m.sealed.Load() {
		m.sealed.Store(true)
	}
	if len(args) == 0 {
		return nil
	}
	e := find(m.commands, args[0])
	if e != nil && e.subs != nil && len(args) > 1 {
		return find(e.subs, args[1])
	}
	return e
}

// check returns the command that args call, or else the error reply, and
// counts the error.
func (m *Mux) check(args [][]byte) (*entry, []byte) {
	e := m.lookup(args)
	switch {
	case e != nil && e.arityOK(len(args)):
		return e, nil
	case e != nil:
		e.rejected.Add(1)
		return nil, e.arityErr
	case len(args) > 1:
		if parent := find(m.commands, args[0]); parent != nil && parent.subs != nil {
			parent.rejected.Add(1)
			return nil, errUnknownSubcommand(args)
		}
	}
	m.unknown.Add(1)
	return nil, ErrUnknownCommand(args)
}

func (e *entry) arityOK(n int) bool {
	a := e.cmd.Arity
	return a > 0 && n == a || a < 0 && n >= -a
}

// errUnknownSubcommand is Redis's reply to an unknown subcommand:
// "-ERR unknown subcommand 'foo'. Try CONFIG HELP.".
func errUnknownSubcommand(args [][]byte) []byte {
	out := make([]byte, 0, 64+len(args[0]))
	out = append(out, "-ERR unknown subcommand '"...)
	out = append(out, cString(args[1], maxQuoted)...)
	out = append(out, "'. Try "...)
	out = append(out, strings.ToUpper(string(args[0]))...)
	out = append(out, " HELP."...)
	return endError(out)
}

// Class returns the class of the command that args call; Serial if none.
func (m *Mux) Class(args [][]byte) Class {
	if e := m.lookup(args); e != nil {
		return e.cmd.Class
	}
	return Serial
}

// Async reports whether args call an Async command with a valid number of
// arguments.
func (m *Mux) Async(args [][]byte) bool {
	e := m.lookup(args)
	return e != nil && e.cmd.Async != nil && e.arityOK(len(args))
}

// Exec runs the command that args call and returns its reply, or the
// error reply of Redis to an unknown command or subcommand, to the wrong
// number of arguments, or to a connection that may not run it (NOAUTH,
// NOPERM; see FlagNoAuth and FlagInternal). It waits for an Async command.
// c may be nil for commands that do not use it (of the housekeeping
// commands, QUIT, HELLO, CLIENT and INFO do); a nil c has not
// authenticated.
func (m *Mux) Exec(ctx context.Context, c *Conn, args [][]byte) []byte {
	e, reply := m.check(args)
	if e == nil {
		return reply
	}
	if reply := m.deny(c, e); reply != nil {
		return reply
	}
	start := e.begin(c, m.cfg.Timing)
	if e.cmd.Run != nil {
		reply = e.cmd.Run(ctx, c, args)
	} else {
		reply = await(ctx, c, args, e.cmd.Async)
	}
	e.record(reply, start)
	return reply
}

// ExecAsync starts the Async command that args call (see Async) and calls
// done with its reply.
func (m *Mux) ExecAsync(ctx context.Context, c *Conn, args [][]byte, done func(reply []byte)) {
	e, reply := m.check(args)
	if e == nil {
		done(reply)
		return
	}
	if reply := m.deny(c, e); reply != nil {
		done(reply)
		return
	}
	start := e.begin(c, m.cfg.Timing)
	if e.cmd.Async == nil { // not through Async: run it here
		reply = e.cmd.Run(ctx, c, args)
		e.record(reply, start)
		done(reply)
		return
	}
	e.cmd.Async(ctx, c, args, func(reply []byte) {
		e.record(reply, start)
		done(reply)
	})
}

// await runs an Async command and waits for its reply.
func await(ctx context.Context, c *Conn, args [][]byte, async func(context.Context, *Conn, [][]byte, func([]byte))) []byte {
	ch := make(chan []byte, 1)
	async(ctx, c, args, func(reply []byte) {
		select {
		case ch <- reply:
		default: // a second call: ignored
		}
	})
	return <-ch
}

// begin notes the start of a call on its connection and, if timing,
// returns the time (else the zero Time).
func (e *entry) begin(c *Conn, timing bool) time.Time {
	var now time.Time
	if timing {
		now = time.Now()
	}
	if c != nil {
		c.lastCmd.Store(&e.name)
		if timing {
			c.lastCmdAt.Store(int64(now.Sub(c.created)))
		}
	}
	return now
}

// record counts a call that started at start (zero if not timed) and
// replied reply.
func (e *entry) record(reply []byte, start time.Time) {
	if !start.IsZero() {
		e.usec.Add(time.Since(start).Microseconds())
	}
	if len(reply) > 0 && reply[0] == '-' {
		e.failed.Add(1)
	} else {
		e.ok.Add(1)
	}
}

func (e *entry) stats() CommandStats {
	return CommandStats{OK: e.ok.Load(), Failed: e.failed.Load(), Rejected: e.rejected.Load(), Usec: e.usec.Load()}
}

// Stats yields the counters of every command and subcommand, by full name
// in lower case ("get", "config|get"), in name order: for a service's
// metrics (ok = OK, error = Failed + Rejected) and INFO commandstats.
func (m *Mux) Stats() iter.Seq2[string, CommandStats] {
	return func(yield func(string, CommandStats) bool) {
		for _, e := range m.entries() {
			if !yield(e.name, e.stats()) {
				return
			}
		}
	}
}

// UnknownCommands returns the number of calls of commands that are not
// registered (subcommands excluded: those count as Rejected calls of their
// command).
func (m *Mux) UnknownCommands() int64 { return m.unknown.Load() }

// entries returns every command and subcommand, by full name.
func (m *Mux) entries() []*entry {
	var out []*entry
	for _, e := range m.sorted() {
		out = append(out, e)
		out = append(out, sortedEntries(e.subs)...)
	}
	return out
}

// sorted returns the commands, without subcommands, by name.
func (m *Mux) sorted() []*entry { return sortedEntries(m.commands) }

func sortedEntries(table map[string]*entry) []*entry {
	out := make([]*entry, 0, len(table))
	for _, e := range table {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
	return out
}

// findFull looks a command up by full name ("get", "config|get"), in any
// case.
func (m *Mux) findFull(name []byte) *entry {
	parent, sub, isSub := strings.Cut(string(name), "|")
	e := find(m.commands, []byte(parent))
	if !isSub || e == nil {
		return e
	}
	if e.subs == nil {
		return nil
	}
	return find(e.subs, []byte(sub))
}
