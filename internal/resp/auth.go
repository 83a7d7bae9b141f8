package resp

import (
	"context"
	"net"

	"planet/internal/secret"
)

// A connection's authentication, as a Mux records it in Conn.auth.
const (
	authNone     uint32 = iota // not authenticated (user "default")
	authDefault                // authenticated as "default", the application
	authPlatform               // authenticated as secret.PlatformUser
)

// defaultUser is Redis's user of requirepass.
const defaultUser = "default"

// User returns the user the connection runs as: secret.PlatformUser once it
// authenticated as the platform, else "default" (also before it
// authenticated, as in Redis).
func (c *Conn) User() string {
	if c != nil && c.auth.Load() == authPlatform {
		return secret.PlatformUser
	}
	return defaultUser
}

// Authenticated reports whether the connection authenticated (AUTH, HELLO
// AUTH), or opened while the default user needed no password.
func (c *Conn) Authenticated() bool { return c != nil && c.auth.Load() != authNone }

func (c *Conn) authState() uint32 {
	if c == nil {
		return authNone
	}
	return c.auth.Load()
}

var (
	noAuthReply       = AppendError(nil, "NOAUTH Authentication required.")
	helloNoAuthReply  = AppendError(nil, "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
	noDefaultPassword = AppendError(nil, "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
	authThrottled     = AppendError(nil, "ERR too many failed AUTH attempts from this address; closing the connection")
)

// verdict is what a Mux does with a command that a connection calls.
type verdict int

const (
	allow  verdict = iota
	noAuth         // -NOAUTH: the connection must authenticate first
	noPerm         // -NOPERM: only the platform may run it
)

// decide is the access rule, in Redis's order (authentication first, then
// the ACL): with a password set (passwordSet), a connection that did not
// authenticate runs only FlagNoAuth commands; with a platform password
// set, a platformOnly command (FlagInternal) runs only on a connection
// authenticated as the platform.
func decide(auth uint32, passwordSet, noAuthCmd, platformOnly bool) verdict {
	switch {
	case passwordSet && auth == authNone && !noAuthCmd:
		return noAuth
	case platformOnly && auth != authPlatform:
		return noPerm
	}
	return allow
}

// deny returns the error reply if c may not run e, else nil. Without
// a password and for a command that is not platform-only, it costs one
// atomic load.
func (m *Mux) deny(c *Conn, e *entry) []byte {
	pw := m.password.Load()
	if pw == nil && !e.platformOnly {
		return nil
	}
	switch decide(c.authState(), pw != nil, e.noAuth, e.platformOnly) {
	case noAuth:
		e.rejected.Add(1)
		return noAuthReply
	case noPerm:
		e.rejected.Add(1)
		m.deniedCmds.Add(1)
		return AppendError(nil, "NOPERM User "+c.User()+" has no permissions to run the '"+e.name+"' command")
	}
	return nil
}

// openConn marks a new connection authenticated as "default" if the
// default user needs no password (Redis's nopass user): it stays
// authenticated if a password is set later, as in Redis.
func (m *Mux) openConn(c *Conn) {
	if m.password.Load() == nil {
		c.auth.Store(authDefault)
	}
}

// setPassword sets requirepass; "" means none.
func (m *Mux) setPassword(pw string) {
	if pw == "" {
		m.password.Store(nil)
		return
	}
	m.password.Store(&pw)
}

// Password returns the default user's password (requirepass); "" if none.
func (m *Mux) Password() string {
	if pw := m.password.Load(); pw != nil {
		return *pw
	}
	return ""
}

// cmdAuth: AUTH [username] password, as Redis 7.
func (m *Mux) cmdAuth(ctx context.Context, c *Conn, args [][]byte) []byte {
	var reply []byte
	switch len(args) {
	case 2:
		if m.password.Load() == nil {
			return noDefaultPassword
		}
		reply = m.authenticate(ctx, c, []byte(defaultUser), args[1])
	case 3:
		reply = m.authenticate(ctx, c, args[1], args[2])
	default:
		return syntaxErrReply
	}
	if reply == nil {
		return okReply
	}
	return reply
}

// authenticate checks user and pass (for AUTH and HELLO AUTH) and, if they
// match, makes user the connection's user. It returns nil on success, else
// the error reply. Failures are counted, logged without the password and
// rate-limited per remote IP (see authLimiter): from an address over the
// limit, an attempt waits before it is checked, or the connection is
// closed.
func (m *Mux) authenticate(ctx context.Context, c *Conn, user, pass []byte) []byte {
	ip := remoteIP(c)
	wait, ok := m.limiter.admit(ip)
	if !ok {
		m.authFailed(c, ip, user, true)
		if c != nil {
			c.CloseAfterReply()
		}
		return authThrottled
	}
	if wait > 0 && m.limiter.sleep(ctx, wait) != nil {
		return wrongPassReply // shutting down: no check
	}
	state, good := m.checkPassword(string(user), string(pass))
	if !good {
		m.authFailed(c, ip, user, wait > 0)
		return wrongPassReply
	}
	if c != nil {
		c.auth.Store(state)
	}
	return nil
}

// checkPassword returns the state of a connection authenticated as user
// with pass, and whether the pair is valid. Passwords are compared in
// constant time.
func (m *Mux) checkPassword(user, pass string) (uint32, bool) {
	switch user {
	case defaultUser:
		pw := m.password.Load()
		return authDefault, pw == nil || secret.Equal(pass, *pw)
	case secret.PlatformUser:
		return authPlatform, m.cfg.PlatformPassword != "" && secret.Equal(pass, m.cfg.PlatformPassword)
	}
	return authNone, false
}

// authFailed counts and, rate-limited, logs a failed or refused attempt.
// The log names the user only if it exists: a client may have sent its
// password in the user's place.
func (m *Mux) authFailed(c *Conn, ip string, user []byte, throttled bool) {
	m.deniedAuth.Add(1)
	failures, log := m.limiter.failed(ip, throttled)
	if !log || c == nil || c.srv == nil {
		return
	}
	name := string(user)
	if name != defaultUser && name != secret.PlatformUser {
		name = "(unknown)"
	}
	c.srv.log.Warn("AUTH failed", "remote", c.RemoteAddr(), "user", name, "failures", failures, "throttled", throttled)
}

// remoteIP returns the IP of c's client, the key of the rate limit; "" if
// unknown.
func remoteIP(c *Conn) string {
	if c == nil || c.nc == nil {
		return ""
	}
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String())
	if err != nil {
		return ""
	}
	return host
}

// AuthFailures returns the number of failed AUTH and HELLO AUTH attempts
// (INFO's acl_access_denied_auth).
func (m *Mux) AuthFailures() int64 { return m.deniedAuth.Load() }

// DeniedCommands returns the number of calls refused with NOPERM (INFO's
// acl_access_denied_cmd).
func (m *Mux) DeniedCommands() int64 { return m.deniedCmds.Load() }
