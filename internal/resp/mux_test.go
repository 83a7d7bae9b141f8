package resp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// kvMux is a Mux with a small store: GET (Read, Run), SET (Write, Async,
// answered from another goroutine), DEL (Write), FAIL (always an error),
// REPL.PUT (internal) and a container KV with subcommands.
type kvMux struct {
	*Mux
	mu   sync.Mutex
	data map[string]string // guarded by mu
}

func newKVMux(tb testing.TB, cfg MuxConfig) *kvMux {
	tb.Helper()
	m, err := NewMux(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	kv := &kvMux{Mux: m, data: make(map[string]string)}
	m.Register(Command{Name: "GET", Arity: 2, Flags: FlagReadOnly | FlagFast, Class: Read, FirstKey: 1, LastKey: 1, KeyStep: 1,
		Group: "string", Summary: "Get a value.", Run: kv.get})
	m.Register(Command{Name: "set", Arity: 3, Flags: FlagWrite, Class: Write, FirstKey: 1, LastKey: 1, KeyStep: 1,
		Group: "string", Summary: "Set a value.", Async: kv.setAsync})
	m.Register(Command{Name: "del", Arity: -2, Flags: FlagWrite, Class: Write, FirstKey: 1, LastKey: -1, KeyStep: 1, Run: kv.del})
	m.Register(Command{Name: "fail", Arity: 1, Run: func(context.Context, *Conn, [][]byte) []byte {
		return AppendError(nil, "ERR failed on purpose")
	}})
	m.Register(Command{Name: "REPL.PUT", Arity: 4, Flags: FlagWrite | FlagInternal, Class: Write, Run: kv.replPut})
	m.Register(Command{Name: "kv", Arity: -2, Summary: "Inspect the store.", Subcommands: []Command{
		{Name: "size", Arity: 2, Class: Read, Summary: "Reply the number of keys.", Run: kv.size},
		{Name: "keys", Arity: -3, Summary: "Reply the keys matching patterns.", Run: kv.keys},
	}})
	return kv
}

func (kv *kvMux) get(_ context.Context, _ *Conn, args [][]byte) []byte {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	v, ok := kv.data[string(args[1])]
	if !ok {
		return AppendNull(nil)
	}
	return AppendBulkString(nil, v)
}

func (kv *kvMux) setAsync(_ context.Context, _ *Conn, args [][]byte, done func([]byte)) {
	k, v := string(args[1]), string(args[2])
	go func() {
		kv.mu.Lock()
		kv.data[k] = v
		kv.mu.Unlock()
		done(AppendOK(nil))
	}()
}

func (kv *kvMux) del(_ context.Context, _ *Conn, args [][]byte) []byte {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	n := 0
	for _, k := range args[1:] {
		if _, ok := kv.data[string(k)]; ok {
			delete(kv.data, string(k))
			n++
		}
	}
	return AppendInt(nil, int64(n))
}

func (kv *kvMux) replPut(_ context.Context, _ *Conn, args [][]byte) []byte {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.data[string(args[1])] = string(args[2])
	return AppendInt(nil, 1)
}

func (kv *kvMux) size(context.Context, *Conn, [][]byte) []byte {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return AppendInt(nil, int64(len(kv.data)))
}

func (kv *kvMux) keys(_ context.Context, _ *Conn, args [][]byte) []byte {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	var out []string
	for k := range kv.data {
		for _, p := range args[2:] {
			if GlobMatch(p, []byte(k)) {
				out = append(out, k)
				break
			}
		}
	}
	b := AppendArray(nil, len(out))
	for _, k := range out {
		b = AppendBulkString(b, k)
	}
	return b
}

// exchange sends each command on one connection and returns each reply.
func exchange(tb testing.TB, addr string, cmds ...[]string) []string {
	tb.Helper()
	nc := dial(tb, addr)
	r := bufio.NewReader(nc)
	var out []string
	for _, cmd := range cmds {
		send(tb, nc, frame(cmd...))
		reply, err := readReply(r)
		if err != nil {
			tb.Fatalf("%q: %v", cmd, err)
		}
		out = append(out, reply)
	}
	return out
}

// readReply reads one complete RESP2 reply and returns its bytes.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return line, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return line, fmt.Errorf("bad reply line %q", line)
	}
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	case '$':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil || n < 0 {
			return line, err
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(r, body); err != nil {
			return line, err
		}
		return line + string(body), nil
	case '*':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil {
			return line, err
		}
		out := line
		for range n {
			elem, err := readReply(r)
			out += elem
			if err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return line, fmt.Errorf("bad reply type %q", line)
}

// cmd splits a command on spaces (for tables; no argument has one).
func cmd(s string) []string { return strings.Fields(s) }

func TestMuxDispatch(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	tests := []struct{ send, want string }{
		{"GET k", "$-1\r\n"},
		{"set k v", "+OK\r\n"},
		{"gEt k", "$1\r\nv\r\n"},
		{"GET", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"SET k", "-ERR wrong number of arguments for 'set' command\r\n"},
		{"DEL", "-ERR wrong number of arguments for 'del' command\r\n"},
		{"DEL k nosuch", ":1\r\n"},
		{"NOSUCH a b", "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"},
		{"a-very-long-command-name-beyond-32-bytes x", "-ERR unknown command 'a-very-long-command-name-beyond-32-bytes', with args beginning with: 'x' \r\n"},
		{"FAIL", "-ERR failed on purpose\r\n"},
		{"repl.put k v 1.0.n", ":1\r\n"},
		{"KV", "-ERR wrong number of arguments for 'kv' command\r\n"},
		{"KV SIZE", ":1\r\n"},
		{"kv size x", "-ERR wrong number of arguments for 'kv|size' command\r\n"},
		{"KV KEYS", "-ERR wrong number of arguments for 'kv|keys' command\r\n"},
		{"KV KEYS k*", "*1\r\n$1\r\nk\r\n"},
		{"kv nosuch", "-ERR unknown subcommand 'nosuch'. Try KV HELP.\r\n"},
		{"kv help", "*7\r\n+KV <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+KEYS\r\n+    Reply the keys matching patterns.\r\n" +
			"+SIZE\r\n+    Reply the number of keys.\r\n+HELP\r\n+    Print this help.\r\n"},
	}
	var cmds [][]string
	for _, tt := range tests {
		cmds = append(cmds, cmd(tt.send))
	}
	got := exchange(t, ts.addr(), cmds...)
	for i, tt := range tests {
		if got[i] != tt.want {
			t.Errorf("%s: got %q, want %q", tt.send, got[i], tt.want)
		}
	}
}

// TestMuxPipelinedAsync: a pipeline of Async SETs and Run GETs is answered
// in order, and each GET sees the SETs before it.
func TestMuxPipelinedAsync(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	var req, want strings.Builder
	for i := range 300 {
		k := fmt.Sprint("k", i%5)
		req.WriteString(frame("SET", k, fmt.Sprint(i)))
		req.WriteString(frame("GET", k))
		want.WriteString("+OK\r\n" + string(AppendBulkString(nil, fmt.Sprint(i))))
	}
	nc := dial(t, ts.addr())
	send(t, nc, req.String())
	expect(t, nc, want.String())
	if st := statsOf(kv.Mux, "set"); st.OK != 300 {
		t.Errorf("set stats %+v, want 300 OK", st)
	}
}

func statsOf(m *Mux, name string) CommandStats {
	for n, st := range m.Stats() {
		if n == name {
			return st
		}
	}
	return CommandStats{}
}

func TestMuxStats(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	exchange(t, ts.addr(), cmd("SET a 1"), cmd("GET a"), cmd("GET b"), cmd("GET"), cmd("FAIL"), cmd("FAIL"),
		cmd("NOSUCH"), cmd("KV SIZE"), cmd("KV NOSUCH"), cmd("KV"), cmd("CONFIG GET x"))
	want := map[string]CommandStats{
		"set":        {OK: 1},
		"get":        {OK: 2, Rejected: 1},
		"fail":       {Failed: 2},
		"kv":         {Rejected: 2},
		"kv|size":    {OK: 1},
		"config|get": {OK: 1},
	}
	var names []string
	for name, st := range kv.Stats() {
		names = append(names, name)
		st.Usec = 0
		if st != want[name] {
			t.Errorf("%s: %+v, want %+v", name, st, want[name])
		}
	}
	if !sortedStrings(names) || len(names) < 20 {
		t.Errorf("Stats names %q: want every command, sorted", names)
	}
	if n := kv.UnknownCommands(); n != 1 {
		t.Errorf("UnknownCommands = %d, want 1", n)
	}
}

// TestMuxTiming: with Timing, a call's time is in Usec and CLIENT LIST's
// idle counts from the latest command.
func TestMuxTiming(t *testing.T) {
	m, err := NewMux(MuxConfig{Timing: true})
	if err != nil {
		t.Fatal(err)
	}
	m.Register(Command{Name: "nap", Arity: 1, Async: func(_ context.Context, _ *Conn, _ [][]byte, done func([]byte)) {
		time.AfterFunc(20*time.Millisecond, func() { done(AppendOK(nil)) })
	}})
	ts := startServer(t, m, Config{})
	exchange(t, ts.addr(), cmd("NAP"))
	if st := statsOf(m, "nap"); st.OK != 1 || st.Usec < 20000 || st.Usec > 10_000_000 {
		t.Errorf("nap stats %+v, want 1 OK of at least 20ms", st)
	}
	got := exchange(t, ts.addr(), cmd("CLIENT INFO"))
	if info := bulkText(t, got[0]); !strings.Contains(info, " idle=0 ") {
		t.Errorf("CLIENT INFO = %q", info)
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func TestMuxLookup(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	c, ok := kv.Lookup([]byte("Repl.Put"))
	if !ok || !c.Flags.Has(FlagInternal) || c.Flags.String() != "write|internal" {
		t.Errorf("Lookup(Repl.Put) = %+v, %v", c, ok)
	}
	if _, ok := kv.Lookup([]byte("nosuch")); ok {
		t.Error("Lookup(nosuch) found a command")
	}
	if c, ok := kv.Lookup([]byte("PING")); !ok || c.Arity != -1 {
		t.Errorf("Lookup(PING) = %+v, %v", c, ok)
	}
}

func TestMuxClass(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	tests := []struct {
		args  string
		class Class
		async bool
	}{
		{"get k", Read, false},
		{"SET k v", Write, true},
		{"SET k", Write, false}, // wrong arity: Exec answers
		{"kv size", Read, false},
		{"kv", Serial, false},
		{"kv nosuch", Serial, false},
		{"nosuch", Serial, false},
		{"ping", Serial, false},
	}
	for _, tt := range tests {
		args := bytesArgs(tt.args)
		if got := kv.Class(args); got != tt.class {
			t.Errorf("Class(%s) = %v, want %v", tt.args, got, tt.class)
		}
		if got := kv.Async(args); got != tt.async {
			t.Errorf("Async(%s) = %v, want %v", tt.args, got, tt.async)
		}
	}
}

func bytesArgs(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

// TestMuxExecWithoutConn: commands that do not use the connection run with
// a nil Conn (a service's unit tests), Async ones too.
func TestMuxExecWithoutConn(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ctx := context.Background()
	for _, tt := range []struct{ args, want string }{
		{"SET k v", "+OK\r\n"},
		{"GET k", "$1\r\nv\r\n"},
		{"PING", "+PONG\r\n"},
		{"SELECT 0", "+OK\r\n"},
	} {
		if got := string(kv.Exec(ctx, nil, bytesArgs(tt.args))); got != tt.want {
			t.Errorf("Exec(%s) = %q, want %q", tt.args, got, tt.want)
		}
	}
	done := make(chan []byte, 1)
	kv.ExecAsync(ctx, nil, bytesArgs("SET a b"), func(r []byte) { done <- r })
	if got := string(<-done); got != "+OK\r\n" {
		t.Errorf("ExecAsync(SET) = %q", got)
	}
	kv.ExecAsync(ctx, nil, bytesArgs("SET a"), func(r []byte) { done <- r })
	if got := string(<-done); got != "-ERR wrong number of arguments for 'set' command\r\n" {
		t.Errorf("ExecAsync(SET a) = %q", got)
	}
}

func TestMuxRegisterInvalid(t *testing.T) {
	run := func(context.Context, *Conn, [][]byte) []byte { return nil }
	async := func(context.Context, *Conn, [][]byte, func([]byte)) {}
	tests := []struct {
		name string
		cmd  Command
	}{
		{"no name", Command{Arity: 1, Run: run}},
		{"space in name", Command{Name: "a b", Arity: 1, Run: run}},
		{"bar in name", Command{Name: "a|b", Arity: 1, Run: run}},
		{"long name", Command{Name: strings.Repeat("x", 33), Arity: 1, Run: run}},
		{"zero arity", Command{Name: "x", Run: run}},
		{"neither Run nor Async", Command{Name: "x", Arity: 1}},
		{"both Run and Async", Command{Name: "x", Arity: 1, Run: run, Async: async}},
		{"container with positive arity", Command{Name: "x", Arity: 2, Subcommands: []Command{{Name: "a", Arity: 2, Run: run}}}},
		{"container -1 without Run", Command{Name: "x", Arity: -1, Subcommands: []Command{{Name: "a", Arity: 2, Run: run}}}},
		{"container -2 with Run", Command{Name: "x", Arity: -2, Run: run, Subcommands: []Command{{Name: "a", Arity: 2, Run: run}}}},
		{"container with Async", Command{Name: "x", Arity: -2, Async: async, Subcommands: []Command{{Name: "a", Arity: 2, Run: run}}}},
		{"subcommand arity 1", Command{Name: "x", Arity: -2, Subcommands: []Command{{Name: "a", Arity: 1, Run: run}}}},
		{"subcommand twice", Command{Name: "x", Arity: -2, Subcommands: []Command{{Name: "a", Arity: 2, Run: run}, {Name: "A", Arity: 2, Run: run}}}},
		{"nested subcommands", Command{Name: "x", Arity: -2, Subcommands: []Command{{Name: "a", Arity: -2, Subcommands: []Command{{Name: "b", Arity: 3, Run: run}}}}}},
	}
	m, err := NewMux(MuxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			m.Register(tt.cmd)
		})
	}
}

func TestMuxRegisterAfterServing(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	kv.Exec(context.Background(), nil, bytesArgs("PING"))
	defer func() {
		if recover() == nil {
			t.Error("Register after serving did not panic")
		}
	}()
	kv.Register(Command{Name: "late", Arity: 1, Run: cmdPing})
}

// TestMuxReplaceHousekeeping: a service replaces a housekeeping command.
func TestMuxReplaceHousekeeping(t *testing.T) {
	m, err := NewMux(MuxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m.Register(Command{Name: "PING", Arity: 1, Run: func(context.Context, *Conn, [][]byte) []byte { return AppendSimple(nil, "PONG!") }})
	if got := string(m.Exec(context.Background(), nil, bytesArgs("ping"))); got != "+PONG!\r\n" {
		t.Errorf("PING = %q", got)
	}
}

func TestNewMuxInvalidConfig(t *testing.T) {
	get := func() string { return "" }
	fields := func(func(string, any)) {}
	tests := []struct {
		name string
		cfg  MuxConfig
	}{
		{"setting without name", MuxConfig{Settings: []Setting{{Get: get}}}},
		{"setting in upper case", MuxConfig{Settings: []Setting{{Name: "MaxMemory", Get: get}}}},
		{"setting twice", MuxConfig{Settings: []Setting{{Name: "a", Get: get}, {Name: "a", Get: get}}}},
		{"setting without Get", MuxConfig{Settings: []Setting{{Name: "a"}}}},
		{"section without name", MuxConfig{Info: []InfoSection{{Fields: fields}}}},
		{"section all", MuxConfig{Info: []InfoSection{{Name: "all", Fields: fields}}}},
		{"section commandstats", MuxConfig{Info: []InfoSection{{Name: "commandstats", Fields: fields}}}},
		{"section twice", MuxConfig{Info: []InfoSection{{Name: "a", Fields: fields}, {Name: "a", Fields: fields}}}},
		{"section without Fields", MuxConfig{Info: []InfoSection{{Name: "a"}}}},
	}
	for _, tt := range tests {
		if _, err := NewMux(tt.cfg); err == nil {
			t.Errorf("%s: NewMux succeeded", tt.name)
		}
	}
}

// TestMuxConcurrentClients: many connections use the Mux at once (for the
// race detector).
func TestMuxConcurrentClients(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			nc, err := net.Dial("tcp", ts.addr())
			if err != nil {
				t.Error(err)
				return
			}
			defer nc.Close()
			r := bufio.NewReader(nc)
			for i := range 50 {
				k := fmt.Sprint("c", g, ":", i)
				io.WriteString(nc, frame("SET", k, "v")+frame("GET", k)+frame("CLIENT", "LIST")+frame("INFO", "all"))
				for range 4 {
					if _, err := readReply(r); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
