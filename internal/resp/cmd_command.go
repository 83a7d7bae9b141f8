package resp

import (
	"context"
	"strings"
)

func (m *Mux) commandCommands() []Command {
	return []Command{
		{Name: "count", Arity: 2, Summary: "Reply the number of commands.", Run: m.cmdCommandCount},
		{Name: "list", Arity: -2, Summary: "Reply the names of the commands and subcommands.", Run: m.cmdCommandList},
		{Name: "info", Arity: -2, Summary: "Describe commands: INFO [name ...] (all if none is named).", Run: m.cmdCommandInfo},
		{Name: "docs", Arity: -2, Summary: "Document commands: DOCS [name ...] (all if none is named).", Run: m.cmdCommandDocs},
	}
}

// cmdCommand: COMMAND, the description of every command (as COMMAND INFO).
func (m *Mux) cmdCommand(_ context.Context, _ *Conn, _ [][]byte) []byte {
	cmds := m.sorted()
	b := AppendArray(nil, len(cmds))
	for _, e := range cmds {
		b = e.appendInfo(b)
	}
	return b
}

func (m *Mux) cmdCommandCount(_ context.Context, _ *Conn, _ [][]byte) []byte {
	return AppendInt(nil, int64(len(m.commands)))
}

// cmdCommandList: the full names of the commands and subcommands; Redis's
// FILTERBY is not supported.
func (m *Mux) cmdCommandList(_ context.Context, _ *Conn, args [][]byte) []byte {
	if len(args) > 2 {
		return syntaxErrReply
	}
	all := m.entries()
	b := AppendArray(nil, len(all))
	for _, e := range all {
		b = AppendBulkString(b, e.name)
	}
	return b
}

// cmdCommandInfo: COMMAND INFO [name ...], one description per name (a
// null bulk string for an unknown one); every command if none is named.
func (m *Mux) cmdCommandInfo(ctx context.Context, c *Conn, args [][]byte) []byte {
	if len(args) == 2 {
		return m.cmdCommand(ctx, c, args)
	}
	b := AppendArray(nil, len(args)-2)
	for _, name := range args[2:] {
		if e := m.findFull(name); e != nil {
			b = e.appendInfo(b)
		} else {
			b = AppendNull(b)
		}
	}
	return b
}

// cmdCommandDocs: COMMAND DOCS [name ...], a flat map of name to
// documentation (a flat map: summary, since, group, and subcommands if
// any), unknown names left out; every command if none is named.
func (m *Mux) cmdCommandDocs(_ context.Context, _ *Conn, args [][]byte) []byte {
	var found []*entry
	if len(args) == 2 {
		found = m.sorted()
	}
	for _, name := range args[2:] {
		if e := m.findFull(name); e != nil {
			found = append(found, e)
		}
	}
	b := AppendArray(nil, 2*len(found))
	for _, e := range found {
		b = AppendBulkString(b, e.name)
		b = e.appendDocs(b)
	}
	return b
}

// appendInfo appends e's description as COMMAND INFO gives it in Redis 7:
// [name, arity, flags, first key, last key, key step, ACL categories,
// tips, key specs, subcommands].
func (e *entry) appendInfo(b []byte) []byte {
	cmd := &e.cmd
	b = AppendArray(b, 10)
	b = AppendBulkString(b, e.name)
	b = AppendInt(b, int64(cmd.Arity))
	flags := cmd.Flags.names()
	b = AppendArray(b, len(flags))
	for _, f := range flags {
		b = AppendSimple(b, f)
	}
	b = AppendInt(b, int64(cmd.FirstKey))
	b = AppendInt(b, int64(cmd.LastKey))
	b = AppendInt(b, int64(cmd.KeyStep))
	cats := e.aclCategories()
	b = AppendArray(b, len(cats))
	for _, c := range cats {
		b = AppendSimple(b, c)
	}
	b = AppendArray(b, 0) // tips
	b = AppendArray(b, 0) // key specs
	subs := sortedEntries(e.subs)
	b = AppendArray(b, len(subs))
	for _, sub := range subs {
		b = sub.appendInfo(b)
	}
	return b
}

// aclCategories derives Redis's ACL categories from flags and group, in
// Redis's order.
func (e *entry) aclCategories() []string {
	f, group := e.cmd.Flags, e.cmd.Group
	var out []string
	add := func(ok bool, cat string) {
		if ok {
			out = append(out, cat)
		}
	}
	add(group == "generic" || group == "", "@keyspace")
	add(f.Has(FlagReadOnly), "@read")
	add(f.Has(FlagWrite), "@write")
	add(group == "string", "@string")
	add(f.Has(FlagAdmin), "@admin")
	add(f.Has(FlagFast), "@fast")
	add(!f.Has(FlagFast), "@slow")
	add(f.Has(FlagAdmin), "@dangerous")
	add(group == "connection", "@connection")
	return out
}

// appendDocs appends e's documentation as COMMAND DOCS gives it: a flat
// map with summary, since, group, doc_flags (syscmd for internal
// commands) and subcommands.
func (e *entry) appendDocs(b []byte) []byte {
	cmd := &e.cmd
	group := cmd.Group
	if group == "" {
		group = "generic"
	}
	subs := sortedEntries(e.subs)
	n := 6
	if cmd.Flags.Has(FlagInternal) {
		n += 2
	}
	if len(subs) > 0 {
		n += 2
	}
	b = AppendArray(b, n)
	b = AppendBulkString(b, "summary")
	b = AppendBulkString(b, cmd.Summary)
	b = AppendBulkString(b, "since")
	b = AppendBulkString(b, RedisVersion)
	b = AppendBulkString(b, "group")
	b = AppendBulkString(b, group)
	if cmd.Flags.Has(FlagInternal) {
		b = AppendBulkString(b, "doc_flags")
		b = AppendArray(b, 1)
		b = AppendSimple(b, "syscmd")
	}
	if len(subs) > 0 {
		b = AppendBulkString(b, "subcommands")
		b = AppendArray(b, 2*len(subs))
		for _, sub := range subs {
			b = AppendBulkString(b, sub.name)
			b = sub.appendDocs(b)
		}
	}
	return b
}

// newHelpEntry returns the HELP subcommand of a container: its
// subcommands, each with its Summary, as Redis's help lines.
func newHelpEntry(parent *entry) *entry {
	upper := strings.ToUpper(parent.name)
	lines := []string{upper + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"}
	for _, sub := range sortedEntries(parent.subs) {
		lines = append(lines, strings.ToUpper(sub.cmd.Name), "    "+sub.cmd.Summary)
	}
	lines = append(lines, "HELP", "    Print this help.")
	reply := AppendArray(nil, len(lines))
	for _, l := range lines {
		reply = AppendSimple(reply, l)
	}
	help := Command{Name: "help", Arity: 2, Group: parent.cmd.Group, Summary: "Print this help.",
		Run: func(context.Context, *Conn, [][]byte) []byte { return reply }}
	e, err := newEntry(help, parent.name)
	if err != nil {
		panic(err) // a valid Command
	}
	return e
}
