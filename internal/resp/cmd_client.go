package resp

import (
	"context"
	"net"
	"strconv"
	"syscall"
	"time"
)

func (m *Mux) clientCommands() []Command {
	return []Command{
		{Name: "id", Arity: 2, Summary: "Reply the connection's id.", Run: cmdClientID},
		{Name: "info", Arity: 2, Summary: "Describe this connection, as a line of CLIENT LIST.", Run: cmdClientInfo},
		{Name: "list", Arity: -2, Flags: FlagAdmin, Summary: "Describe the connections: LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID id ...].", Run: cmdClientList},
		{Name: "setname", Arity: 3, Summary: "Name the connection: SETNAME name (empty: no name).", Run: cmdClientSetName},
		{Name: "getname", Arity: 2, Summary: "Reply the connection's name, or null.", Run: cmdClientGetName},
		{Name: "setinfo", Arity: 4, Summary: "Record the client library: SETINFO LIB-NAME|LIB-VER value.", Run: cmdClientSetInfo},
	}
}

func cmdClientID(_ context.Context, c *Conn, _ [][]byte) []byte { return AppendInt(nil, int64(c.ID())) }

func cmdClientInfo(_ context.Context, c *Conn, _ [][]byte) []byte {
	return AppendBulk(nil, c.appendInfo(nil, time.Now()))
}

// cmdClientList: CLIENT LIST [TYPE type | ID id [id ...]], as Redis 7. Every
// connection is of type normal.
func cmdClientList(_ context.Context, c *Conn, args [][]byte) []byte {
	now := time.Now()
	var conns []*Conn
	switch {
	case len(args) == 2:
		conns = c.srv.connections()
	case len(args) == 4 && equalFold(string(args[2]), "type"):
		switch typ := string(args[3]); {
		case equalFold(typ, "normal"):
			conns = c.srv.connections()
		case equalFold(typ, "master"), equalFold(typ, "replica"), equalFold(typ, "slave"), equalFold(typ, "pubsub"):
		default:
			return AppendError(nil, "ERR Unknown client type '"+string(cString(args[3], maxQuoted))+"'")
		}
	case len(args) > 3 && equalFold(string(args[2]), "id"):
		byID := make(map[int64]*Conn)
		for _, cc := range c.srv.connections() {
			byID[int64(cc.id)] = cc
		}
		for _, a := range args[3:] {
			id, ok := parseRedisInt(a)
			if !ok {
				return invalidClientID
			}
			if cc := byID[id]; cc != nil {
				conns = append(conns, cc)
			}
		}
	default:
		return syntaxErrReply
	}
	var b []byte
	for _, cc := range conns {
		b = cc.appendInfo(b, now)
	}
	return AppendBulk(nil, b)
}

var invalidClientID = AppendError(nil, "ERR Invalid client ID")

func cmdClientSetName(_ context.Context, c *Conn, args [][]byte) []byte {
	if !validClientAttr(args[2]) {
		return badClientName
	}
	c.setName(string(args[2]))
	return okReply
}

func cmdClientGetName(_ context.Context, c *Conn, _ [][]byte) []byte {
	if name := c.Name(); name != "" {
		return AppendBulkString(nil, name)
	}
	return AppendNull(nil)
}

// cmdClientSetInfo: CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2),
// which client libraries send when they connect.
func cmdClientSetInfo(_ context.Context, c *Conn, args [][]byte) []byte {
	attr, val := string(args[2]), string(args[3])
	if !equalFold(attr, "lib-name") && !equalFold(attr, "lib-ver") {
		return AppendError(nil, "ERR Unrecognized option '"+string(cString(args[2], maxQuoted))+"'")
	}
	if !validClientAttr(args[3]) {
		return AppendError(nil, "ERR "+string(cString(args[2], maxQuoted))+" cannot contain spaces, newlines or special characters.")
	}
	c.attrMu.Lock()
	defer c.attrMu.Unlock()
	if equalFold(attr, "lib-name") {
		c.libName = val
	} else {
		c.libVer = val
	}
	return okReply
}

func (c *Conn) setName(name string) {
	c.attrMu.Lock()
	defer c.attrMu.Unlock()
	c.name = name
}

// appendInfo appends the connection's line of CLIENT LIST, ending in \n,
// with the fields of Redis 7.2 that apply to it.
func (c *Conn) appendInfo(b []byte, now time.Time) []byte {
	c.attrMu.Lock()
	name, libName, libVer := c.name, c.libName, c.libVer
	c.attrMu.Unlock()
	age := now.Sub(c.created)
	idle := age
	cmd := "NULL"
	if p := c.lastCmd.Load(); p != nil {
		cmd = *p
		idle = 0 // unless timed
		if at := c.lastCmdAt.Load(); at > 0 {
			idle = age - time.Duration(at)
		}
	}
	b = append(b, "id="...)
	b = strconv.AppendUint(b, c.id, 10)
	b = append(b, " addr="...)
	b = append(b, addrString(c.nc.RemoteAddr())...)
	b = append(b, " laddr="...)
	b = append(b, addrString(c.nc.LocalAddr())...)
	b = append(b, " fd="...)
	b = strconv.AppendInt(b, fileDescriptor(c.nc), 10)
	b = append(b, " name="...)
	b = append(b, name...)
	b = append(b, " age="...)
	b = strconv.AppendInt(b, int64(max(age, 0)/time.Second), 10)
	b = append(b, " idle="...)
	b = strconv.AppendInt(b, int64(max(idle, 0)/time.Second), 10)
	b = append(b, " flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd="...)
	b = append(b, cmd...)
	b = append(b, " user="...)
	b = append(b, c.User()...)
	b = append(b, " redir=-1 resp=2 lib-name="...)
	b = append(b, libName...)
	b = append(b, " lib-ver="...)
	b = append(b, libVer...)
	return append(b, '\n')
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// fileDescriptor returns nc's file descriptor, or -1.
func fileDescriptor(nc net.Conn) int64 {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := int64(-1)
	if raw.Control(func(f uintptr) { fd = int64(f) }) != nil {
		return -1
	}
	return fd
}
