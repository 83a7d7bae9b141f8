package resp

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// settings is a service's configuration for CONFIG tests: maxmemory is
// settable (an integer), region is read-only; the Mux adds requirepass,
// maxclients and timeout.
type settings struct {
	mu        sync.Mutex
	maxmemory string
	keepalive string
}

func (s *settings) list() []Setting {
	get := func(p *string) func() string {
		return func() string {
			s.mu.Lock()
			defer s.mu.Unlock()
			return *p
		}
	}
	set := func(p *string) func(string) error {
		return func(v string) error {
			if _, ok := parseRedisInt([]byte(v)); !ok {
				return errors.New("argument must be an integer")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			*p = v
			return nil
		}
	}
	return []Setting{
		{Name: "maxmemory", Get: get(&s.maxmemory), Set: set(&s.maxmemory)},
		{Name: "maxmemory-policy", Get: func() string { return "allkeys-lru" }},
		{Name: "region", Get: func() string { return "sfo" }},
		{Name: "tcp-keepalive", Get: get(&s.keepalive), Set: set(&s.keepalive)},
	}
}

func TestConfigCommand(t *testing.T) {
	st := &settings{maxmemory: "0", keepalive: "300"}
	kv := newKVMux(t, MuxConfig{Settings: st.list()})
	ts := startServer(t, kv, Config{})
	pairs := func(kv ...string) string {
		b := AppendArray(nil, len(kv))
		for _, s := range kv {
			b = AppendBulkString(b, s)
		}
		return string(b)
	}
	tests := []struct{ send, want string }{
		{"CONFIG GET nosuch", "*0\r\n"},
		{"CONFIG GET region", pairs("region", "sfo")},
		{"config get REGION", pairs("region", "sfo")},
		{"CONFIG GET maxmemory*", pairs("maxmemory", "0", "maxmemory-policy", "allkeys-lru")},
		{"CONFIG GET *", pairs("maxmemory", "0", "maxmemory-policy", "allkeys-lru", "region", "sfo", "tcp-keepalive", "300",
			"requirepass", "", "maxclients", "10000", "timeout", "0")},
		{"CONFIG GET region reg* [rt]*-*", pairs("region", "sfo", "tcp-keepalive", "300")},
		{"CONFIG GET", "-ERR wrong number of arguments for 'config|get' command\r\n"},
		{"CONFIG SET maxmemory 100", "+OK\r\n"},
		{"CONFIG GET maxmemory", pairs("maxmemory", "100")},
		{"CONFIG SET MAXMEMORY 200 tcp-keepalive 5", "+OK\r\n"},
		{"CONFIG GET maxmemory tcp-keepalive", pairs("maxmemory", "200", "tcp-keepalive", "5")},
		{"CONFIG SET maxmemory", "-ERR wrong number of arguments for 'config|set' command\r\n"},
		{"CONFIG SET maxmemory 1 tcp-keepalive", "-ERR syntax error\r\n"},
		{"CONFIG SET nosuch 1", "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"},
		{"CONFIG SET region nyc", "-ERR CONFIG SET failed (possibly related to argument 'region') - can't set immutable config\r\n"},
		{"CONFIG SET region nyc nosuch 1", "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"},
		{"CONFIG SET maxmemory 1 MaxMemory 2", "-ERR CONFIG SET failed (possibly related to argument 'MaxMemory') - duplicate parameter\r\n"},
		{"CONFIG SET maxmemory abc", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be an integer\r\n"},
		// All or nothing: tcp-keepalive fails, maxmemory is set back.
		{"CONFIG SET maxmemory 7 tcp-keepalive x", "-ERR CONFIG SET failed (possibly related to argument 'tcp-keepalive') - argument must be an integer\r\n"},
		{"CONFIG GET maxmemory tcp-keepalive", pairs("maxmemory", "200", "tcp-keepalive", "5")},
		// The Mux's own settings, also all or nothing.
		{"CONFIG SET maxclients 5 timeout 7", "+OK\r\n"},
		{"CONFIG GET maxclients timeout", pairs("maxclients", "5", "timeout", "7")},
		{"CONFIG SET maxclients 6 timeout x", "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n"},
		{"CONFIG GET maxclients timeout", pairs("maxclients", "5", "timeout", "7")},
		{"CONFIG RESETSTAT", "-ERR unknown subcommand 'RESETSTAT'. Try CONFIG HELP.\r\n"},
	}
	for i, got := range exchange(t, ts.addr(), sendAll(tests)...) {
		if got != tests[i].want {
			t.Errorf("%s: got %q, want %q", tests[i].send, got, tests[i].want)
		}
	}
	// go-redis reads the flat map.
	rdb := newGoRedis(t, ts.addr())
	got, err := rdb.ConfigGet(context.Background(), "maxmemory*").Result()
	if err != nil || len(got) != 2 || got["maxmemory"] != "200" || got["maxmemory-policy"] != "allkeys-lru" {
		t.Errorf("go-redis ConfigGet = %v, %v", got, err)
	}
}

func sendAll(tests []struct{ send, want string }) [][]string {
	var out [][]string
	for _, tt := range tests {
		out = append(out, cmd(tt.send))
	}
	return out
}

func TestConnectionCommands(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	tests := []struct{ send, want string }{
		{"PING", "+PONG\r\n"},
		{"ping hi", "$2\r\nhi\r\n"},
		{"PING a b", "-ERR wrong number of arguments for 'ping' command\r\n"},
		{"ECHO x", "$1\r\nx\r\n"},
		{"ECHO", "-ERR wrong number of arguments for 'echo' command\r\n"},
		{"SELECT 0", "+OK\r\n"},
		{"SELECT 1", "-ERR DB index is out of range\r\n"},
		{"SELECT -1", "-ERR DB index is out of range\r\n"},
		{"SELECT 00", "-ERR value is not an integer or out of range\r\n"},
		{"SELECT 4294967296", "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"},
		{"SELECT x", "-ERR value is not an integer or out of range\r\n"},
		{"HELLO 3", "-NOPROTO unsupported protocol version\r\n"},
		{"HELLO 1", "-NOPROTO unsupported protocol version\r\n"},
		{"HELLO x", "-ERR Protocol version is not an integer or out of range\r\n"},
		{"HELLO 2 foo", "-ERR Syntax error in HELLO option 'foo'\r\n"},
		{"HELLO 2 SETNAME", "-ERR Syntax error in HELLO option 'SETNAME'\r\n"},
		{"HELLO 2 AUTH bob pw", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"CLIENT GETNAME", "$-1\r\n"},
		{"CLIENT SETNAME app-1", "+OK\r\n"},
		{"CLIENT GETNAME", "$5\r\napp-1\r\n"},
		{"CLIENT SETNAME", "-ERR wrong number of arguments for 'client|setname' command\r\n"},
		{"CLIENT SETINFO lib-name go-redis(v9)", "+OK\r\n"},
		{"CLIENT SETINFO LIB-VER 9.23.0", "+OK\r\n"},
		{"CLIENT SETINFO color red", "-ERR Unrecognized option 'color'\r\n"},
		{"CLIENT FOO", "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"},
		{"CLIENT", "-ERR wrong number of arguments for 'client' command\r\n"},
		{"CLIENT LIST TYPE master", "$0\r\n\r\n"},
		{"CLIENT LIST TYPE nosuch", "-ERR Unknown client type 'nosuch'\r\n"},
		{"CLIENT LIST ID x", "-ERR Invalid client ID\r\n"},
		{"CLIENT LIST ID 999", "$0\r\n\r\n"},
		{"CLIENT LIST x", "-ERR syntax error\r\n"},
	}
	for i, got := range exchange(t, ts.addr(), sendAll(tests)...) {
		if got != tests[i].want {
			t.Errorf("%s: got %q, want %q", tests[i].send, got, tests[i].want)
		}
	}
}

func TestHello(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	got := exchange(t, ts.addr(), cmd("CLIENT ID"), cmd("HELLO"), cmd("HELLO 2 AUTH default pw SETNAME me"), cmd("CLIENT GETNAME"))
	id := strings.TrimSuffix(got[0][1:], "\r\n")
	want := "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n" + RedisVersion + "\r\n$5\r\nproto\r\n:2\r\n" +
		"$2\r\nid\r\n:" + id + "\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
	if got[1] != want || got[2] != want {
		t.Errorf("HELLO = %q\nHELLO 2 AUTH ... = %q\nwant %q", got[1], got[2], want)
	}
	if got[3] != "$2\r\nme\r\n" {
		t.Errorf("name after HELLO SETNAME: %q", got[3])
	}
}

// clientLine is a line of CLIENT LIST.
var clientLine = regexp.MustCompile(`^id=(\d+) addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=\d+ name=(\S*) age=\d+ idle=\d+ ` +
	`flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd=(\S+) user=default redir=-1 resp=2 lib-name=(\S*) lib-ver=(\S*)$`)

func TestClientList(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	idle := dial(t, ts.addr()) // runs no command
	_ = idle
	exchange(t, ts.addr(), cmd("CLIENT SETNAME first"), cmd("GET k")) // closed at cleanup
	got := exchange(t, ts.addr(), cmd("CLIENT SETINFO lib-name x"), cmd("CLIENT ID"), cmd("CLIENT INFO"), cmd("CLIENT LIST"))
	id := strings.TrimSuffix(got[1][1:], "\r\n")

	info := bulkText(t, got[2])
	m := clientLine.FindStringSubmatch(strings.TrimSuffix(info, "\n"))
	if m == nil || !strings.HasSuffix(info, "\n") || m[1] != id || m[3] != "client|info" || m[4] != "x" {
		t.Errorf("CLIENT INFO = %q", info)
	}
	lines := strings.Split(strings.TrimSuffix(bulkText(t, got[3]), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("CLIENT LIST has %d lines, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	wantCmd := []string{"NULL", "get", "client|list"}
	wantName := []string{"", "first", ""}
	for i, l := range lines {
		m := clientLine.FindStringSubmatch(l)
		if m == nil || m[3] != wantCmd[i] || m[2] != wantName[i] {
			t.Errorf("CLIENT LIST line %d = %q, want cmd=%s name=%s", i, l, wantCmd[i], wantName[i])
		}
	}
	got = exchange(t, ts.addr(), []string{"CLIENT", "LIST", "ID", id, "1"})
	if lines := strings.Split(strings.TrimSuffix(bulkText(t, got[0]), "\n"), "\n"); len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "id="+id+" ") || !strings.HasPrefix(lines[1], "id=1 ") {
		t.Errorf("CLIENT LIST ID %s 1 = %q", id, lines)
	}

	// go-redis parses CLIENT INFO, sends CLIENT SETINFO at connect, and
	// falls back from HELLO 3 to RESP2.
	rdb := newGoRedis(t, ts.addr())
	ci, err := rdb.ClientInfo(context.Background()).Result()
	if err != nil || ci.LibName == "" || ci.LastCmd != "client|info" || ci.Resp != 2 {
		t.Errorf("go-redis ClientInfo = %+v, %v", ci, err)
	}
}

// bulkText returns the text of a bulk string reply.
func bulkText(tb testing.TB, reply string) string {
	tb.Helper()
	header, body, ok := strings.Cut(reply, "\r\n")
	if !ok || !strings.HasPrefix(header, "$") || !strings.HasSuffix(body, "\r\n") {
		tb.Fatalf("not a bulk string: %q", reply)
	}
	return strings.TrimSuffix(body, "\r\n")
}

func TestCommandCommand(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	rdb := newGoRedis(t, ts.addr())
	ctx := context.Background()

	infos, err := rdb.Command(ctx).Result()
	if err != nil {
		t.Fatalf("go-redis COMMAND: %v", err)
	}
	n, err := rdb.Do(ctx, "COMMAND", "COUNT").Int()
	if err != nil || n != len(infos) || n != 16 {
		t.Errorf("COMMAND COUNT = %d, %v; COMMAND has %d", n, err, len(infos))
	}
	get := infos["get"]
	if get == nil || get.Arity != 2 || !get.ReadOnly || get.FirstKeyPos != 1 || get.LastKeyPos != 1 || get.StepCount != 1 ||
		strings.Join(get.Flags, ",") != "readonly,fast" || strings.Join(get.ACLFlags, ",") != "@read,@string,@fast" {
		t.Errorf("COMMAND get = %+v", get)
	}
	if p := infos["repl.put"]; p == nil || strings.Join(p.Flags, ",") != "write,internal" {
		t.Errorf("COMMAND repl.put = %+v", p)
	}
	if c := infos["config"]; c == nil || c.Arity != -2 {
		t.Errorf("COMMAND config = %+v", c)
	}

	tests := []struct{ send, want string }{
		{"COMMAND INFO nosuch", "*1\r\n$-1\r\n"},
		{"COMMAND INFO ping", "*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n"},
		{"COMMAND INFO kv|size", "*1\r\n*10\r\n$7\r\nkv|size\r\n:2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@keyspace\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n"},
		{"COMMAND DOCS nosuch", "*0\r\n"},
		{"COMMAND DOCS ping nosuch", "*2\r\n$4\r\nping\r\n*6\r\n$7\r\nsummary\r\n$33\r\nReply PONG, or the message given.\r\n" +
			"$5\r\nsince\r\n$5\r\n" + RedisVersion + "\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n"},
		{"COMMAND LIST x", "-ERR syntax error\r\n"},
		{"COMMAND COUNT x", "-ERR wrong number of arguments for 'command|count' command\r\n"},
		{"COMMAND NOSUCH", "-ERR unknown subcommand 'NOSUCH'. Try COMMAND HELP.\r\n"},
	}
	for i, got := range exchange(t, ts.addr(), sendAll(tests)...) {
		if got != tests[i].want {
			t.Errorf("%s: got %q, want %q", tests[i].send, got, tests[i].want)
		}
	}

	list, err := rdb.Do(ctx, "COMMAND", "LIST").StringSlice()
	if err != nil || !sortedStrings(list) || !contains(list, "config|get") || !contains(list, "repl.put") || len(list) < 30 {
		t.Errorf("COMMAND LIST = %q, %v", list, err)
	}
	// COMMAND DOCS: a flat map of name to a flat map, as redis-cli 7.2
	// reads it; internal commands are marked syscmd.
	docs, err := rdb.Do(ctx, "COMMAND", "DOCS", "config", "repl.put").Slice()
	if err != nil || len(docs) != 4 {
		t.Fatalf("COMMAND DOCS = %v, %v", docs, err)
	}
	if s := fmt.Sprint(docs[3]); !strings.Contains(s, "doc_flags [syscmd]") {
		t.Errorf("COMMAND DOCS repl.put = %s", s)
	}
	if s := fmt.Sprint(docs[1]); !strings.Contains(s, "subcommands [config|get [summary") {
		t.Errorf("COMMAND DOCS config = %s", s)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestInfoCommand(t *testing.T) {
	kv := newKVMux(t, MuxConfig{
		Service: "storage",
		Info: []InfoSection{
			{Name: "server", Fields: func(add func(string, any)) { add("region", "sfo") }},
			{Name: "replication", Fields: func(add func(string, any)) { add("peers", 2); add("quorum_w", 2) }},
			{Name: "keyspace", Fields: func(add func(string, any)) { add("db0", "keys=1,expires=0,avg_ttl=0") }},
		},
	})
	ts := startServer(t, kv, Config{})
	got := exchange(t, ts.addr(), cmd("SET a 1"), cmd("GET"), cmd("INFO"), cmd("INFO keyspace"), cmd("INFO nosuch"),
		cmd("info Replication CLIENTS"), cmd("INFO commandstats"), cmd("INFO everything"))

	sections := func(text string) []string {
		return regexp.MustCompile(`(?m)^# (\w+)\r$`).FindAllString(text, -1)
	}
	all := bulkText(t, got[2])
	if s := fmt.Sprint(sections(all)); s != "[# Server\r # Clients\r # Stats\r # Replication\r # Keyspace\r]" {
		t.Errorf("INFO sections %q", s)
	}
	for _, line := range []string{"redis_version:" + RedisVersion, "redis_mode:standalone", "tcp_port:" + portOf(ts.addr()),
		"planet_service:storage", "region:sfo", "connected_clients:1", "maxclients:10000",
		"rejected_connections:0", "acl_access_denied_auth:0", "acl_access_denied_cmd:0", "peers:2", "quorum_w:2", "db0:keys=1,expires=0,avg_ttl=0"} {
		if !strings.Contains(all, "\r\n"+line+"\r\n") {
			t.Errorf("INFO lacks %q:\n%s", line, all)
		}
	}
	if !strings.HasPrefix(all, "# Server\r\nredis_version:") || !strings.Contains(all, "\r\n\r\n# Clients\r\n") || !strings.HasSuffix(all, "avg_ttl=0\r\n") {
		t.Errorf("INFO layout:\n%q", all)
	}
	if got[3] != string(AppendBulkString(nil, "# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")) {
		t.Errorf("INFO keyspace = %q", got[3])
	}
	if got[4] != "$0\r\n\r\n" {
		t.Errorf("INFO nosuch = %q", got[4])
	}
	if want := "# Clients\r\nconnected_clients:1\r\nmaxclients:10000\r\n\r\n# Replication\r\npeers:2\r\nquorum_w:2\r\n"; bulkText(t, got[5]) != want {
		t.Errorf("INFO replication clients = %q, want %q", bulkText(t, got[5]), want)
	}
	stats := bulkText(t, got[6])
	if !regexp.MustCompile(`^# Commandstats\r\n` +
		`cmdstat_get:calls=0,usec=0,usec_per_call=0\.00,rejected_calls=1,failed_calls=0\r\n` +
		`cmdstat_info:calls=4,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n` +
		`cmdstat_set:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n$`).MatchString(stats) {
		t.Errorf("INFO commandstats = %q", stats)
	}
	if s := fmt.Sprint(sections(bulkText(t, got[7]))); s != "[# Server\r # Clients\r # Stats\r # Replication\r # Keyspace\r # Commandstats\r]" {
		t.Errorf("INFO everything sections %q", s)
	}

	rdb := newGoRedis(t, ts.addr())
	if s, err := rdb.Info(context.Background(), "server").Result(); err != nil || !strings.Contains(s, "planet_service:storage") {
		t.Errorf("go-redis INFO server = %q, %v", s, err)
	}
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

// TestQuitClosesAfterReply: QUIT (with arguments, as Redis 7 allows)
// answers OK, then the connection closes.
func TestMuxQuit(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	nc := dial(t, ts.addr())
	send(t, nc, frame("PING")+frame("QUIT", "now")+frame("PING"))
	expect(t, nc, "+PONG\r\n+OK\r\n")
	expectClosed(t, nc)
}

// TestGoRedisHandshake: go-redis (HELLO 3, then RESP2; CLIENT SETINFO)
// works against a Mux, and reports RESP2's errors as Redis's.
func TestGoRedisHandshake(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	rdb := redis.NewClient(&redis.Options{Addr: ts.addr(), ClientName: "handshake"})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if name, err := rdb.ClientGetName(ctx).Result(); err != nil || name != "handshake" {
		t.Errorf("CLIENT GETNAME = %q, %v", name, err)
	}
	if err := rdb.Do(ctx, "SELECT", "1").Err(); err == nil || err.Error() != "ERR DB index is out of range" {
		t.Errorf("SELECT 1: %v", err)
	}
}
