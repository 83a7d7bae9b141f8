package resp

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"planet/internal/secret"
)

const (
	testPassword         = "app-pass-0123"
	testPlatformPassword = "platform-pass-4567"
)

func TestDecide(t *testing.T) {
	tests := []struct {
		auth                          uint32
		passwordSet, noAuth, platform bool
		want                          verdict
	}{
		{authNone, false, false, false, allow},
		{authNone, true, false, false, noAuth},
		{authNone, true, true, false, allow},
		{authNone, true, false, true, noAuth}, // NOAUTH before NOPERM, as Redis
		{authNone, false, false, true, noPerm},
		{authNone, true, true, true, noPerm}, // a no-auth internal command
		{authDefault, true, false, false, allow},
		{authDefault, true, false, true, noPerm},
		{authDefault, false, false, true, noPerm},
		{authPlatform, true, false, true, allow},
		{authPlatform, false, false, true, allow},
		{authPlatform, true, false, false, allow},
	}
	for _, tt := range tests {
		if got := decide(tt.auth, tt.passwordSet, tt.noAuth, tt.platform); got != tt.want {
			t.Errorf("decide(%d, password %v, noAuth %v, platformOnly %v) = %d, want %d",
				tt.auth, tt.passwordSet, tt.noAuth, tt.platform, got, tt.want)
		}
	}
}

// TestInternalCommandNeedsPlatform: with a platform password, REPL.PUT is
// refused (and does not run) until the connection authenticates as the
// platform; the application's password does not open it.
func TestInternalCommandNeedsPlatform(t *testing.T) {
	kv := newKVMux(t, MuxConfig{Password: testPassword, PlatformPassword: testPlatformPassword})
	ts := startServer(t, kv, Config{})
	noPerm := "-NOPERM User default has no permissions to run the 'repl.put' command\r\n"
	tests := []struct{ send, want string }{
		{"REPL.PUT k v 1", "-NOAUTH Authentication required.\r\n"},
		{"AUTH " + testPassword, "+OK\r\n"},
		{"REPL.PUT k v 1", noPerm},
		{"REPL.PUT k v", "-ERR wrong number of arguments for 'repl.put' command\r\n"},
		{"AUTH planet " + testPassword, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"AUTH " + testPlatformPassword, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"REPL.PUT k v 1", noPerm},
		{"KV SIZE", ":0\r\n"},
		{"AUTH planet " + testPlatformPassword, "+OK\r\n"},
		{"REPL.PUT k v 1", ":1\r\n"},
		{"GET k", "$1\r\nv\r\n"},
		{"AUTH default " + testPassword, "+OK\r\n"}, // back to default
		{"REPL.PUT k w 1", noPerm},
		{"GET k", "$1\r\nv\r\n"},
	}
	for i, got := range exchange(t, ts.addr(), sendAll(tests)...) {
		if got != tests[i].want {
			t.Errorf("%d %s: got %q, want %q", i, tests[i].send, got, tests[i].want)
		}
	}
	if got := kv.DeniedCommands(); got != 3 {
		t.Errorf("DeniedCommands = %d, want 3", got)
	}
	if st := statsOf(kv.Mux, "repl.put"); st.OK != 1 || st.Rejected != 5 {
		t.Errorf("repl.put stats %+v, want 1 OK, 5 rejected", st)
	}
	info := bulkText(t, exchange(t, ts.addr(), cmd("AUTH "+testPassword), cmd("INFO stats"))[1])
	for _, line := range []string{"acl_access_denied_auth:2", "acl_access_denied_cmd:3"} {
		if !strings.Contains(info, line+"\r\n") {
			t.Errorf("INFO stats lacks %q:\n%s", line, info)
		}
	}
}

// TestInternalCommandOpenWithoutPlatformPassword: without a platform
// password, internal commands stay open and the platform user does not
// exist.
func TestInternalCommandOpenWithoutPlatformPassword(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	got := exchange(t, ts.addr(), cmd("REPL.PUT k v 1"), cmd("AUTH planet x"), cmd("CLIENT INFO"))
	if got[0] != ":1\r\n" || got[1] != "-WRONGPASS invalid username-password pair or user is disabled.\r\n" {
		t.Errorf("got %q", got[:2])
	}
	if !strings.Contains(got[2], " user=default ") {
		t.Errorf("CLIENT INFO = %q", got[2])
	}
}

// TestRequirePass: with a password, only AUTH, HELLO and QUIT run before
// the connection authenticates; unknown commands and arity errors keep
// their replies, as in Redis.
func TestRequirePass(t *testing.T) {
	kv := newKVMux(t, MuxConfig{Password: testPassword, PlatformPassword: testPlatformPassword})
	ts := startServer(t, kv, Config{})
	noAuth := "-NOAUTH Authentication required.\r\n"
	wrongPass := "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
	tests := []struct{ send, want string }{
		{"PING", noAuth},
		{"SET k v", noAuth},
		{"CLIENT SETNAME x", noAuth},
		{"CONFIG GET requirepass", noAuth},
		{"GET", "-ERR wrong number of arguments for 'get' command\r\n"},
		{"NOSUCH a", "-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n"},
		{"HELLO 2 SETNAME x", string(helloNoAuthReply)},
		{"AUTH wrong", wrongPass},
		{"AUTH default wrong", wrongPass},
		{"AUTH " + testPassword + " x y", "-ERR syntax error\r\n"},
		{"HELLO 2 AUTH default wrong", wrongPass},
		{"CLIENT GETNAME", noAuth},
		{"AUTH " + testPassword, "+OK\r\n"},
		{"PING", "+PONG\r\n"},
		{"SET k v", "+OK\r\n"},
		{"CLIENT GETNAME", "$-1\r\n"},
	}
	for i, got := range exchange(t, ts.addr(), sendAll(tests)...) {
		if got != tests[i].want {
			t.Errorf("%d %s: got %q, want %q", i, tests[i].send, got, tests[i].want)
		}
	}
	if kv.has("k") != true {
		t.Error("SET after AUTH did not run")
	}
	// HELLO 2 AUTH authenticates and names the connection.
	got := exchange(t, ts.addr(), cmd("HELLO 2 AUTH default "+testPassword+" SETNAME app"), cmd("CLIENT GETNAME"), cmd("CLIENT INFO"))
	if !strings.HasPrefix(got[0], "*14\r\n") || got[1] != "$3\r\napp\r\n" || !strings.Contains(got[2], " user=default ") {
		t.Errorf("HELLO AUTH: %q", got)
	}
	got = exchange(t, ts.addr(), cmd("HELLO 2 AUTH planet "+testPlatformPassword), cmd("REPL.PUT a b 1"), cmd("CLIENT LIST"))
	if !strings.HasPrefix(got[0], "*14\r\n") || got[1] != ":1\r\n" || !strings.Contains(got[2], " user=planet ") {
		t.Errorf("HELLO AUTH planet: %q", got)
	}
	if got := kv.AuthFailures(); got != 3 {
		t.Errorf("AuthFailures = %d, want 3", got)
	}
}

// hasKey reports whether the kvMux holds key.
func (kv *kvMux) has(key string) bool {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	_, ok := kv.data[key]
	return ok
}

// TestAuthClients: redis-cli -a and go-redis's Password and Username
// authenticate.
func TestAuthClients(t *testing.T) {
	kv := newKVMux(t, MuxConfig{Password: testPassword, PlatformPassword: testPlatformPassword})
	ts := startServer(t, kv, Config{})
	host, port := "127.0.0.1", portOf(ts.addr())
	cli := func(args ...string) string {
		out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
		if err != nil {
			t.Fatalf("redis-cli %q: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := cli("-a", testPassword, "SET", "cli", "1"); got != "OK" {
		t.Errorf("redis-cli -a SET = %q", got)
	}
	if got := cli("GET", "cli"); !strings.Contains(got, "NOAUTH") {
		t.Errorf("redis-cli GET without -a = %q", got)
	}
	if got := cli("--user", secret.PlatformUser, "--pass", testPlatformPassword, "REPL.PUT", "x", "y", "1"); got != "1" {
		t.Errorf("redis-cli --user planet REPL.PUT = %q", got)
	}

	ctx := context.Background()
	app := redis.NewClient(&redis.Options{Addr: ts.addr(), Password: testPassword, MaxRetries: -1})
	t.Cleanup(func() { app.Close() })
	if got, err := app.Get(ctx, "cli").Result(); err != nil || got != "1" {
		t.Errorf("go-redis Password: GET = %q, %v", got, err)
	}
	if err := app.Do(ctx, "REPL.PUT", "x", "y", "1").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM ") {
		t.Errorf("go-redis default REPL.PUT: %v", err)
	}
	platform := redis.NewClient(&redis.Options{Addr: ts.addr(), Username: secret.PlatformUser, Password: testPlatformPassword, MaxRetries: -1})
	t.Cleanup(func() { platform.Close() })
	if got, err := platform.Do(ctx, "REPL.PUT", "x", "z", "1").Int(); err != nil || got != 1 {
		t.Errorf("go-redis planet REPL.PUT = %d, %v", got, err)
	}
	wrong := redis.NewClient(&redis.Options{Addr: ts.addr(), Password: "wrong", MaxRetries: -1})
	t.Cleanup(func() { wrong.Close() })
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("go-redis wrong password: PING: %v", err)
	}
}

// TestConfigSetRequirePass: CONFIG SET requirepass applies to new
// connections; open ones keep their authentication, as in Redis.
func TestConfigSetRequirePass(t *testing.T) {
	kv := newKVMux(t, MuxConfig{})
	ts := startServer(t, kv, Config{})
	old := dial(t, ts.addr())
	oldR := bufio.NewReader(old)
	ask := func(nc *bufio.Reader, w interface{ Write([]byte) (int, error) }, args ...string) string {
		t.Helper()
		w.Write([]byte(frame(args...)))
		r, err := readReply(nc)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return r
	}
	if got := ask(oldR, old, "CONFIG", "SET", "requirepass", testPassword); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass = %q", got)
	}
	if got := ask(oldR, old, "CONFIG", "GET", "requirepass"); got != string(AppendArray(nil, 2))+"$11\r\nrequirepass\r\n$13\r\n"+testPassword+"\r\n" {
		t.Errorf("CONFIG GET requirepass = %q", got)
	}
	got := exchange(t, ts.addr(), cmd("PING"), cmd("AUTH "+testPassword), cmd("PING"))
	if got[0] != "-NOAUTH Authentication required.\r\n" || got[1] != "+OK\r\n" || got[2] != "+PONG\r\n" {
		t.Errorf("new connection: %q", got)
	}
	if got := ask(oldR, old, "PING"); got != "+PONG\r\n" {
		t.Errorf("open connection after CONFIG SET requirepass: PING = %q", got)
	}
	if got := ask(oldR, old, "CONFIG", "SET", "requirepass", ""); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass \"\" = %q", got)
	}
	if got := exchange(t, ts.addr(), cmd("PING")); got[0] != "+PONG\r\n" {
		t.Errorf("no password: PING = %q", got[0])
	}
	if kv.Password() != "" {
		t.Errorf("Password() = %q", kv.Password())
	}
}

// fakeAuthClock is the limiter's clock and sleep for tests: time stands
// still unless advanced, and sleeps are recorded.
type fakeAuthClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (f *fakeAuthClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeAuthClock) Sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	return nil
}

func (f *fakeAuthClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fakeAuthClock) Sleeps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

func useFakeClock(m *Mux) *fakeAuthClock {
	f := &fakeAuthClock{now: time.Unix(1_700_000_000, 0)}
	m.limiter.now, m.limiter.sleep = f.Now, f.Sleep
	return f
}

// syncBuffer is a log sink for tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuthRateLimit: after a burst of 20 failures, attempts from the IP
// wait 100ms more each (the right password too), up to 1s; beyond, the
// connection is closed. Failures are logged once a second per IP with
// their count, never with the password.
func TestAuthRateLimit(t *testing.T) {
	kv := newKVMux(t, MuxConfig{Password: testPassword})
	clock := useFakeClock(kv.Mux)
	var logs syncBuffer
	ts := startServer(t, kv, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const guess = "guess-Secret-42"
	nc := dial(t, ts.addr())
	r := bufio.NewReader(nc)
	auth := func(pass string) string {
		t.Helper()
		send(t, nc, frame("AUTH", pass))
		reply, err := readReply(r)
		if err != nil {
			t.Fatalf("AUTH: %v", err)
		}
		return reply
	}
	wrongPass := string(wrongPassReply)
	for i := range authFailureBurst {
		if got := auth(guess); got != wrongPass {
			t.Fatalf("failure %d: %q", i, got)
		}
	}
	if s := clock.Sleeps(); len(s) != 0 {
		t.Fatalf("waits within the burst: %v", s)
	}
	// Over the limit: each attempt waits one interval more.
	if got := auth(guess); got != wrongPass {
		t.Fatalf("throttled failure: %q", got)
	}
	if got := auth(testPassword); got != "+OK\r\n" {
		t.Fatalf("throttled right password: %q", got)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	if s := clock.Sleeps(); len(s) != 2 || s[0] != want[0] || s[1] != want[1] {
		t.Fatalf("waits %v, want %v", s, want)
	}
	// A second connection from the same IP queues behind them, until
	// the wait would pass 1s: then it is closed.
	other := dial(t, ts.addr())
	otherR := bufio.NewReader(other)
	var last string
	for range 20 {
		send(t, other, frame("AUTH", "default", guess))
		var err error
		if last, err = readReply(otherR); err != nil {
			t.Fatal(err)
		}
		if last != wrongPass {
			break
		}
	}
	if last != string(authThrottled) {
		t.Fatalf("last reply %q, want %q", last, authThrottled)
	}
	expectClosed(t, other)
	if s := clock.Sleeps(); s[len(s)-1] != time.Second {
		t.Errorf("waits %v, want the longest 1s", s)
	}
	// After a second, the count since the first line is logged.
	clock.Advance(time.Second)
	if got := auth(guess); got != wrongPass {
		t.Fatalf("after a second: %q", got)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "failures=1 ") || !strings.Contains(lines[1], "user=default") ||
		!strings.Contains(lines[0], "remote=127.0.0.1:") {
		t.Errorf("log lines:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), guess) || strings.Contains(logs.String(), testPassword) {
		t.Errorf("the log holds a password:\n%s", logs.String())
	}
	t.Logf("log:\n%s", logs.String())
}

// TestAuthLogUnknownUser: a user name that is no user's is not logged (it
// may be a password).
func TestAuthLogUnknownUser(t *testing.T) {
	kv := newKVMux(t, MuxConfig{Password: testPassword})
	var logs syncBuffer
	ts := startServer(t, kv, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	exchange(t, ts.addr(), cmd("AUTH "+testPassword+" x"))
	if s := logs.String(); strings.Contains(s, testPassword) || !strings.Contains(s, "user=(unknown)") {
		t.Errorf("log:\n%s", s)
	}
}
