package resp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// FuzzParser: the parser never panics, never returns a command with more
// arguments than MaxArgs or an argument beyond the limits, allocates in
// proportion to its input, and reads back what AppendArray/AppendBulk wrote.
func FuzzParser(f *testing.F) {
	for _, seed := range []string{
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n",
		"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$6\r\na\r\nb\x00c\r\n",
		"*0\r\n*-1\r\n*1\r\n$0\r\n\r\n",
		"PING\r\nSET \"a b\" 'c\\'d' \"\\x41\\n\"\n\r\n",
		"foo\"bar baz\" x\x00y\r\n",
		"*1\r\n$500000000\r\nabc",
		"*1048576\r\n$0\r\n\r\n$0\r\n\r\n",
		"*2\r\n$3\r\nGET\r\n:1\r\n",
		"*1\r\n$-1\r\n", "*-2\r\n", "*x\r\n", "*1\n", "*1\r\n$4\r\nPINGxx",
		"SET \"a\r\n", "SET 'a'b\n", "\"\\x4",
	} {
		f.Add([]byte(seed))
	}
	small := Config{MaxBulk: 8, MaxArgs: 4, MaxInline: 32}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bufSize := range []int{16, 4096} {
			checkParse(t, data, bufSize, Config{}, DefaultMaxArgs, DefaultMaxBulk, DefaultMaxInline)
			checkParse(t, data, bufSize, small, small.MaxArgs, small.MaxBulk, small.MaxInline)
		}
	})
}

func checkParse(t *testing.T, data []byte, bufSize int, cfg Config, maxArgs, maxBulk, maxInline int) {
	r := bufio.NewReaderSize(bytes.NewReader(data), bufSize)
	p := NewParser(r, cfg)
	var cmds [][][]byte
	var err error
	alloc := allocated(func() {
		for len(cmds) <= len(data) {
			var args [][]byte
			if args, err = p.Next(); err != nil {
				return
			}
			cmds = append(cmds, args)
		}
	})
	if len(cmds) > len(data) {
		t.Fatalf("%d commands from %d bytes", len(cmds), len(data))
	}
	var perr *ProtocolError
	if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &perr) {
		t.Fatalf("unexpected error %v", err)
	}
	if limit := uint64(2*bulkChunk + 64*len(data)); alloc > limit {
		t.Fatalf("allocated %d bytes for %d bytes of input", alloc, len(data))
	}
	var frames []byte
	for _, args := range cmds {
		if len(args) == 0 || len(args) > maxArgs {
			t.Fatalf("command with %d arguments (MaxArgs %d)", len(args), maxArgs)
		}
		frames = AppendArray(frames, len(args))
		for _, a := range args {
			if len(a) > max(maxBulk, maxInline) {
				t.Fatalf("argument of %d bytes", len(a))
			}
			frames = AppendBulk(frames, a)
		}
	}
	// Round trip: the commands, encoded as multibulk frames, parse back.
	p = NewParser(bufio.NewReader(bytes.NewReader(frames)), Config{})
	for i, want := range cmds {
		got, err := p.Next()
		if err != nil {
			t.Fatalf("round trip of command %d: %v", i, err)
		}
		if len(got) != len(want) {
			t.Fatalf("round trip of command %d: %q, want %q", i, got, want)
		}
		for j := range got {
			if !bytes.Equal(got[j], want[j]) {
				t.Fatalf("round trip of command %d: %q, want %q", i, got, want)
			}
		}
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("round trip: %v after the commands, want EOF", err)
	}
}

// FuzzAuth runs sequences of AUTH, HELLO AUTH, CONFIG SET requirepass,
// an internal command and others on a Mux with a platform password, and
// compares every reply with a model of the access rules: an internal
// command runs only after a successful AUTH planet <right password>, a
// connection that has not authenticated while a password is set runs
// only AUTH, HELLO and QUIT, and nothing panics. The rate limiter runs on
// a fake clock; a connection it closes is replaced by a new one.
func FuzzAuth(f *testing.F) {
	f.Add(false, []byte{6, 2 + 12*2, 6, 7})
	f.Add(true, []byte{8, 6, 0, 0 + 12*0, 6, 5 + 12*1, 9, 8, 0 + 12*1, 7})
	f.Add(true, []byte{4 + 12*5, 4 + 12*4, 6, 11, 9, 11})
	f.Add(false, bytes.Repeat([]byte{2, 3, 1 + 12*3}, 30))
	f.Fuzz(func(t *testing.T, withPassword bool, ops []byte) {
		const platformPass = "plat"
		candidates := []string{"pw1", "pw2", platformPass, ""}
		users := []string{"default", "planet", "bob"}
		cfg := MuxConfig{PlatformPassword: platformPass}
		if withPassword {
			cfg.Password = "pw1"
		}
		m, err := NewMux(cfg)
		if err != nil {
			t.Fatal(err)
		}
		clock := useFakeClock(m)
		var internalRuns, appRuns int
		m.Register(Command{Name: "int", Arity: 1, Flags: FlagInternal, Run: func(context.Context, *Conn, [][]byte) []byte {
			internalRuns++
			return okReply
		}})
		m.Register(Command{Name: "app", Arity: 1, Run: func(context.Context, *Conn, [][]byte) []byte {
			appRuns++
			return okReply
		}})

		// The model.
		password := cfg.Password
		state := authNone
		var c *Conn
		connect := func() {
			c = &Conn{created: time.Now()}
			m.openConn(c)
			state = authNone
			if password == "" {
				state = authDefault
			}
		}
		connect()
		ctx := context.Background()
		exec := func(args ...string) string {
			b := make([][]byte, len(args))
			for i, a := range args {
				b[i] = []byte(a)
			}
			return string(m.Exec(ctx, c, b))
		}
		locked := func() bool { return password != "" && state == authNone }
		noAuth, wrongPass := string(noAuthReply), string(wrongPassReply)
		// attempt checks the reply to an authentication of user with pass.
		attempt := func(op int, reply, success, user, pass string) {
			right := user == "default" && (password == "" || pass == password) || user == "planet" && pass == platformPass
			switch {
			case reply == string(authThrottled):
				if !c.closeAfter.Load() {
					t.Fatalf("op %d: throttled, connection left open", op)
				}
				connect()
			case reply == success && right:
				state = authDefault
				if user == "planet" {
					state = authPlatform
				}
			case reply == wrongPass && !right:
			default:
				t.Fatalf("op %d: AUTH %s %q (password %q): %q", op, user, pass, password, reply)
			}
		}
		for i, op := range ops {
			kind, param := int(op%12), int(op/12)
			cand := candidates[param%len(candidates)]
			want := ""
			var got string
			switch kind {
			case 0:
				got = exec("AUTH", cand)
				if password == "" {
					want = string(noDefaultPassword)
					break
				}
				attempt(i, got, "+OK\r\n", "default", cand)
				continue
			case 1, 2, 3:
				user := users[kind-1]
				attempt(i, exec("AUTH", user, cand), "+OK\r\n", user, cand)
				continue
			case 4:
				user := users[param%len(users)]
				cand = candidates[(param/len(users))%len(candidates)]
				got = exec("HELLO", "2", "AUTH", user, cand)
				if strings.HasPrefix(got, "*14\r\n") {
					got = "HELLO"
				}
				attempt(i, got, "HELLO", user, cand)
				continue
			case 5:
				got = exec("CONFIG", "SET", "requirepass", cand)
				want = noAuth
				if !locked() {
					want, password = "+OK\r\n", cand
				}
			case 6:
				before := internalRuns
				got = exec("INT")
				switch {
				case locked():
					want = noAuth
				case state != authPlatform:
					want = "-NOPERM User default has no permissions to run the 'int' command\r\n"
				default:
					want = "+OK\r\n"
				}
				if ran := internalRuns > before; ran != (want == "+OK\r\n") {
					t.Fatalf("op %d: INT ran %v, state %d, password %q", i, ran, state, password)
				}
			case 7:
				before := appRuns
				got, want = exec("APP"), "+OK\r\n"
				if locked() {
					want = noAuth
				}
				if ran := appRuns > before; ran != (want == "+OK\r\n") {
					t.Fatalf("op %d: APP ran %v, state %d, password %q", i, ran, state, password)
				}
			case 8:
				got, want = exec("PING"), "+PONG\r\n"
				if locked() {
					want = noAuth
				}
			case 9:
				got, want = exec("QUIT"), "+OK\r\n"
			case 10:
				clock.Advance(time.Duration(param+1) * time.Second)
				continue
			case 11:
				got = exec("HELLO")
				want = string(helloNoAuthReply)
				if !locked() {
					want = got
					if !strings.HasPrefix(got, "*14\r\n") {
						t.Fatalf("op %d: HELLO = %q", i, got)
					}
				}
			}
			if got != want {
				t.Fatalf("op %d (kind %d, %q): got %q, want %q (state %d, password %q)", i, kind, cand, got, want, state, password)
			}
			if kind == 9 {
				connect()
			}
		}
	})
}
