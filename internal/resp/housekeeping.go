package resp

import "context"

// housekeeping returns the commands every Mux starts with (see NewMux).
func (m *Mux) housekeeping() []Command {
	const conn, server = "connection", "server"
	return []Command{
		{Name: "ping", Arity: -1, Flags: FlagFast, Group: conn, Summary: "Reply PONG, or the message given.", Run: cmdPing},
		{Name: "echo", Arity: 2, Flags: FlagFast, Group: conn, Summary: "Reply the message given.", Run: cmdEcho},
		{Name: "quit", Arity: -1, Flags: FlagFast | FlagNoAuth, Group: conn, Summary: "Close the connection after the reply.", Run: cmdQuit},
		{Name: "auth", Arity: -2, Flags: FlagFast | FlagNoAuth, Group: conn, Summary: "Authenticate the connection: AUTH [username] password.", Run: m.cmdAuth},
		{Name: "select", Arity: 2, Flags: FlagFast, Group: conn, Summary: "Select the database; only 0 exists.", Run: cmdSelect},
		{Name: "hello", Arity: -1, Flags: FlagFast | FlagNoAuth, Group: conn, Summary: "Handshake: RESP2 only; optionally authenticate and name the connection.", Run: m.cmdHello},
		{Name: "client", Arity: -2, Group: conn, Summary: "Inspect and name connections.", Subcommands: m.clientCommands()},
		{Name: "config", Arity: -2, Group: server, Summary: "Get and set the service's settings.", Subcommands: m.configCommands()},
		{Name: "command", Arity: -1, Group: server, Summary: "Describe the commands of the service.", Run: m.cmdCommand, Subcommands: m.commandCommands()},
		{Name: "info", Arity: -1, Group: server, Summary: "Report on the service, by section.", Run: m.cmdInfo},
	}
}

// respVersion is the only protocol version this package speaks.
const respVersion = 2

var (
	pongReply       = AppendSimple(nil, "PONG")
	okReply         = AppendOK(nil)
	syntaxErrReply  = AppendError(nil, "ERR syntax error")
	notIntegerReply = AppendError(nil, "ERR value is not an integer or out of range")
	notInt32Reply   = AppendError(nil, "ERR value is out of range, value must between -2147483648 and 2147483647") // sic
	dbOutOfRange    = AppendError(nil, "ERR DB index is out of range")
	noProtoReply    = AppendError(nil, "NOPROTO unsupported protocol version")
	badProtoReply   = AppendError(nil, "ERR Protocol version is not an integer or out of range")
	wrongPassReply  = AppendError(nil, "WRONGPASS invalid username-password pair or user is disabled.")
	badClientName   = AppendError(nil, "ERR Client names cannot contain spaces, newlines or special characters.")
	pingArityReply  = ErrWrongArity([]byte("ping"))
)

func cmdPing(_ context.Context, _ *Conn, args [][]byte) []byte {
	switch len(args) {
	case 1:
		return pongReply
	case 2:
		return AppendBulk(nil, args[1])
	}
	return pingArityReply
}

func cmdEcho(_ context.Context, _ *Conn, args [][]byte) []byte { return AppendBulk(nil, args[1]) }

// cmdQuit replies OK and closes the connection; arguments are ignored, as
// by Redis.
func cmdQuit(_ context.Context, c *Conn, _ [][]byte) []byte {
	c.CloseAfterReply()
	return okReply
}

// cmdSelect accepts database 0 only, as Redis configured with one
// database.
func cmdSelect(_ context.Context, _ *Conn, args [][]byte) []byte {
	id, ok := parseRedisInt(args[1])
	switch {
	case !ok:
		return notIntegerReply
	case id != int64(int32(id)):
		return notInt32Reply
	case id != 0:
		return dbOutOfRange
	}
	return okReply
}

// cmdHello: HELLO [protover [AUTH username password] [SETNAME name]].
// Only RESP2 is spoken: HELLO 3 gets NOPROTO, and clients fall back.
func (m *Mux) cmdHello(ctx context.Context, c *Conn, args [][]byte) []byte {
	if len(args) >= 2 {
		ver, ok := parseRedisInt(args[1])
		switch {
		case !ok:
			return badProtoReply
		case ver != respVersion: // 3 is valid, but RESP3 is not spoken
			return noProtoReply
		}
	}
	var user, pass, name []byte
	for j := 2; j < len(args); j++ {
		more := len(args) - 1 - j
		switch opt := string(args[j]); {
		case equalFold(opt, "AUTH") && more >= 2:
			user, pass = args[j+1], args[j+2]
			j += 2
		case equalFold(opt, "SETNAME") && more >= 1:
			name = args[j+1]
			if !validClientAttr(name) {
				return badClientName
			}
			j++
		default:
			return AppendError(nil, "ERR Syntax error in HELLO option '"+string(cString(args[j], maxQuoted))+"'")
		}
	}
	if user != nil {
		if reply := m.authenticate(ctx, c, user, pass); reply != nil {
			return reply
		}
	}
	if m.password.Load() != nil && !c.Authenticated() {
		return helloNoAuthReply
	}
	if name != nil {
		c.setName(string(name))
	}
	b := AppendArray(nil, 14)
	b = AppendBulkString(b, "server")
	b = AppendBulkString(b, "redis")
	b = AppendBulkString(b, "version")
	b = AppendBulkString(b, RedisVersion)
	b = AppendBulkString(b, "proto")
	b = AppendInt(b, respVersion)
	b = AppendBulkString(b, "id")
	b = AppendInt(b, int64(c.ID()))
	b = AppendBulkString(b, "mode")
	b = AppendBulkString(b, "standalone")
	b = AppendBulkString(b, "role")
	b = AppendBulkString(b, "master")
	b = AppendBulkString(b, "modules")
	return AppendArray(b, 0)
}

// parseRedisInt parses b as Redis's string2ll does: an optional '-', then
// "0" or a decimal without leading zeros, within int64; no '+', no spaces.
func parseRedisInt(b []byte) (int64, bool) {
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := len(b) > 0 && b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) == 0 || digits[0] < '1' || digits[0] > '9' || len(digits) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0') // 19 digits cannot overflow uint64
	}
	switch {
	case neg && v <= 1<<63:
		return int64(-v), true
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}

// validClientAttr reports whether b may be a client name or library
// attribute: printable ASCII without spaces, as Redis requires.
func validClientAttr(b []byte) bool {
	for _, c := range b {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

// equalFold compares ASCII strings in any case.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
