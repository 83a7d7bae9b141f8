package resp

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"runtime/metrics"
	"strings"
	"testing"
	"testing/iotest"
)

// parseAll parses every command of r, returning them as strings and the
// error that ended the parse.
func parseAll(tb testing.TB, r io.Reader, bufSize int, cfg Config) ([][]string, error) {
	tb.Helper()
	p := NewParser(bufio.NewReaderSize(r, bufSize), cfg)
	var cmds [][]string
	for {
		args, err := p.Next()
		if err != nil {
			return cmds, err
		}
		if len(args) == 0 {
			tb.Fatalf("Next returned an empty command")
		}
		cmd := make([]string, len(args))
		for i, a := range args {
			cmd[i] = string(a)
		}
		cmds = append(cmds, cmd)
	}
}

// cmds builds an expected command list: cmds("SET k v", "GET k").
func cmds(lines ...string) [][]string {
	var out [][]string
	for _, l := range lines {
		out = append(out, strings.Split(l, " "))
	}
	return out
}

func TestParser(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		cfg     Config
		want    [][]string
		wantErr string // ProtocolError.Msg, or "EOF", "unexpected EOF"
		bufSize int    // run only with this reader buffer size
	}{
		{name: "empty input", in: "", wantErr: "EOF"},
		{name: "multibulk", in: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n", want: cmds("SET k value"), wantErr: "EOF"},
		{name: "pipelined", in: "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", want: cmds("PING", "GET k"), wantErr: "EOF"},
		{name: "binary bulk", in: "*2\r\n$3\r\nGET\r\n$6\r\na\r\nb\x00c\r\n", want: [][]string{{"GET", "a\r\nb\x00c"}}, wantErr: "EOF"},
		{name: "empty bulk", in: "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", want: [][]string{{"ECHO", ""}}, wantErr: "EOF"},
		{name: "empty frames skipped", in: "*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n*0\r\n", want: cmds("PING"), wantErr: "EOF"},
		{name: "inline", in: "PING\r\nSET k v\nGET  k \r\n", want: cmds("PING", "SET k v", "GET k"), wantErr: "EOF"},
		{name: "blank inline lines skipped", in: "\r\n\n  \t \r\nPING\r\n\n", want: cmds("PING"), wantErr: "EOF"},
		{name: "inline and multibulk mixed", in: "PING\r\n*1\r\n$4\r\nPING\r\nPING\n", want: cmds("PING", "PING", "PING"), wantErr: "EOF"},
		{name: "double quotes", in: `SET "a b" "c\"d\\e"` + "\r\n", want: [][]string{{"SET", "a b", `c"d\e`}}, wantErr: "EOF"},
		{name: "escapes", in: `ECHO "\n\r\t\b\a\q\x41\x4a\x4A\xZZ\x4"` + "\n", want: [][]string{{"ECHO", "\n\r\t\b\aqAJJxZZx4"}}, wantErr: "EOF"},
		{name: "single quotes", in: `SET 'a b' 'it\'s \n "x"'` + "\n", want: [][]string{{"SET", "a b", `it's \n "x"`}}, wantErr: "EOF"},
		{name: "quotes inside token", in: `SET foo"bar baz" x'y z'` + "\n", want: [][]string{{"SET", "foobar baz", "xy z"}}, wantErr: "EOF"},
		{name: "empty quoted", in: `SET "" ''` + "\n", want: [][]string{{"SET", "", ""}}, wantErr: "EOF"},
		{name: "quote then tab", in: "SET \"a\"\t'b'\r\n", want: cmds("SET a b"), wantErr: "EOF"},
		{name: "vertical tab inside token", in: "\va\vb c\r\n", want: [][]string{{"a\vb", "c"}}, wantErr: "EOF"},
		{name: "carriage return splits", in: "a\rb\n", want: cmds("a b"), wantErr: "EOF"},
		{name: "NUL ends inline line", in: "PING\x00 junk \"\r\nPING\r\n", want: cmds("PING", "PING"), wantErr: "EOF"},
		{name: "inline at max length", in: "12345678\r\n", cfg: Config{MaxInline: 8}, want: cmds("12345678"), wantErr: "EOF"},
		{name: "args at max", in: "*2\r\n$1\r\na\r\n$1\r\nb\r\na b\r\n", cfg: Config{MaxArgs: 2}, want: cmds("a b", "a b"), wantErr: "EOF"},
		{name: "bulk at max", in: "*1\r\n$4\r\nPING\r\n", cfg: Config{MaxBulk: 4}, want: cmds("PING"), wantErr: "EOF"},

		{name: "truncated frame", in: "*2\r\n$3\r\nGET\r\n", wantErr: "unexpected EOF"},
		{name: "truncated bulk", in: "*1\r\n$4\r\nPI", wantErr: "unexpected EOF"},
		{name: "truncated count", in: "*1", wantErr: "unexpected EOF"},
		{name: "truncated inline", in: "PING\r\nPING", want: cmds("PING"), wantErr: "unexpected EOF"},

		{name: "count not a number", in: "*x\r\n", wantErr: "invalid multibulk length"},
		{name: "count empty", in: "*\r\n", wantErr: "invalid multibulk length"},
		{name: "count plus", in: "*+1\r\n", wantErr: "invalid multibulk length"},
		{name: "count leading zero", in: "*01\r\n", wantErr: "invalid multibulk length"},
		{name: "count negative", in: "*-2\r\n", wantErr: "invalid multibulk length"},
		{name: "count minus zero", in: "*-0\r\n", wantErr: "invalid multibulk length"},
		{name: "count overflow", in: "*99999999999999999999\r\n", wantErr: "invalid multibulk length", bufSize: 4096},
		{name: "count without CR", in: "*1\n$4\r\nPING\r\n", wantErr: "invalid multibulk length"},
		{name: "count space", in: "*1 \r\n", wantErr: "invalid multibulk length"},
		{name: "count above MaxArgs", in: "*3\r\n", cfg: Config{MaxArgs: 2}, wantErr: "invalid multibulk length"},
		{name: "count above default", in: "*1048577\r\n", wantErr: "invalid multibulk length"},
		{name: "missing dollar", in: "*1\r\nPING\r\n", wantErr: "expected '$', got 'P'"},
		{name: "missing dollar second", in: "*2\r\n$3\r\nGET\r\n:1\r\n", wantErr: "expected '$', got ':'"},
		{name: "bulk null", in: "*1\r\n$-1\r\n", wantErr: "invalid bulk length"},
		{name: "bulk negative", in: "*1\r\n$-5\r\n", wantErr: "invalid bulk length"},
		{name: "bulk not a number", in: "*1\r\n$x\r\n", wantErr: "invalid bulk length"},
		{name: "bulk leading zero", in: "*1\r\n$04\r\nPING\r\n", wantErr: "invalid bulk length"},
		{name: "bulk without CR", in: "*1\r\n$4\nPING\r\n", wantErr: "invalid bulk length"},
		{name: "bulk above MaxBulk", in: "*1\r\n$5\r\n", cfg: Config{MaxBulk: 4}, wantErr: "invalid bulk length"},
		{name: "bulk above default", in: "*1\r\n$536870913\r\n", wantErr: "invalid bulk length"},
		{name: "bulk overflow", in: "*1\r\n$9223372036854775808\r\n", wantErr: "invalid bulk length", bufSize: 4096},
		{name: "bulk without CRLF", in: "*1\r\n$4\r\nPINGxx", wantErr: "expected CRLF after bulk data"},
		{name: "bulk too long", in: "*1\r\n$3\r\nPING\r\n", wantErr: "expected CRLF after bulk data"},
		{name: "error after command", in: "PING\r\n*1\r\n$-5\r\n", want: cmds("PING"), wantErr: "invalid bulk length"},
		{name: "unbalanced double", in: "SET \"a b\r\n", wantErr: "unbalanced quotes in request"},
		{name: "unbalanced single", in: "SET 'a\n", wantErr: "unbalanced quotes in request"},
		{name: "unbalanced escaped", in: "SET \"a\\\"\n", wantErr: "unbalanced quotes in request"},
		{name: "closing quote followed", in: "SET \"a\"b\n", wantErr: "unbalanced quotes in request"},
		{name: "closing single quote followed", in: "SET 'a'b\n", wantErr: "unbalanced quotes in request"},
		{name: "quote cut by NUL", in: "SET \"a\x00\"\n", wantErr: "unbalanced quotes in request"},
		{name: "inline too long", in: "123456789\r\n", cfg: Config{MaxInline: 8}, wantErr: "too big inline request"},
		{name: "inline too many args", in: "a b c\r\n", cfg: Config{MaxArgs: 2}, wantErr: "too many arguments in inline request"},
		{name: "long inline line", in: strings.Repeat("x", 100) + " y\r\n", cfg: Config{MaxInline: 200}, want: [][]string{{strings.Repeat("x", 100), "y"}}, wantErr: "EOF"},
		{name: "long inline too long", in: strings.Repeat("x", 300), cfg: Config{MaxInline: 200}, wantErr: "too big inline request", bufSize: 16},
		{name: "too big count string", in: "*" + strings.Repeat("1", 40), wantErr: "too big mbulk count string", bufSize: 16},
		{name: "too big bulk count string", in: "*1\r\n$" + strings.Repeat("1", 40), wantErr: "too big bulk count string", bufSize: 16},
	}
	readers := []struct {
		name    string
		bufSize int
		wrap    func(io.Reader) io.Reader
	}{
		{"buffered", 4096, func(r io.Reader) io.Reader { return r }},
		{"small buffer", 16, func(r io.Reader) io.Reader { return r }},
		{"byte by byte", 16, iotest.OneByteReader},
		{"half reads", 4096, iotest.HalfReader},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			if tt.bufSize != 0 && tt.bufSize != rd.bufSize {
				continue
			}
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				got, err := parseAll(t, rd.wrap(strings.NewReader(tt.in)), rd.bufSize, tt.cfg)
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("commands = %q, want %q", got, tt.want)
				}
				if msg := errMsg(err); msg != tt.wantErr {
					t.Errorf("error = %q, want %q", msg, tt.wantErr)
				}
			})
		}
	}
}

// errMsg returns a ProtocolError's Msg, or another error's text.
func errMsg(err error) string {
	var perr *ProtocolError
	if errors.As(err, &perr) {
		return perr.Msg
	}
	return err.Error()
}

func TestParserArgsDoNotOverlap(t *testing.T) {
	for _, in := range []string{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", "SET k v\r\n"} {
		for _, bufSize := range []int{16, 4096} {
			p := NewParser(bufio.NewReaderSize(strings.NewReader(in), bufSize), Config{})
			args, err := p.Next()
			if err != nil {
				t.Fatal(err)
			}
			_ = append(args[0], "XXXX"...)
			_ = append(args[1], "YYYY"...)
			if got := string(args[0]) + string(args[1]) + string(args[2]); got != "SETkv" {
				t.Errorf("%q (buffer %d): appending to an argument changed the others: %q", in, bufSize, got)
			}
		}
	}
}

// TestParserBoundedAllocation: a declared length costs nothing before its
// data arrives (beyond one chunk), whether the frame is buffered or
// streamed.
func TestParserBoundedAllocation(t *testing.T) {
	for _, in := range []string{
		"*1\r\n$500000000\r\nabc",
		"*1048576\r\n$1\r\na\r\n",
		"*2\r\n$3\r\nSET\r\n$536870912\r\n" + strings.Repeat("x", 100000),
	} {
		for _, bufSize := range []int{16, 4096} {
			r := bufio.NewReaderSize(strings.NewReader(in), bufSize)
			p := NewParser(r, Config{})
			alloc := allocated(func() {
				if _, err := p.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("%.30q: err = %v, want unexpected EOF", in, err)
				}
			})
			if limit := uint64(2*bulkChunk + 8*len(in)); alloc > limit {
				t.Errorf("%.30q (buffer %d): allocated %d bytes, want at most %d", in, bufSize, alloc, limit)
			}
		}
	}
}

// allocated returns the bytes f allocates, roughly: the whole process is
// measured, and small objects are counted a span at a time (runtime/metrics
// is 40 times cheaper than runtime.ReadMemStats, which matters when fuzzing).
func allocated(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(sample)
	before := sample[0].Value.Uint64()
	f()
	metrics.Read(sample)
	return sample[0].Value.Uint64() - before
}

func TestParseLength(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0\r", 0, true}, {"7\r", 7, true}, {"-1\r", -1, true}, {"123456789012345678\r", 123456789012345678, true},
		{"1234567890123456789\r", 0, false}, {"\r", 0, false}, {"1", 0, false}, {"-\r", 0, false},
		{"-0\r", 0, false}, {"00\r", 0, false}, {"+1\r", 0, false}, {"1a\r", 0, false}, {"1\r\r", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseLength([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseLength(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
