package resp

import (
	"strings"
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"ok", AppendOK(nil), "+OK\r\n"},
		{"simple", AppendSimple(nil, "PONG"), "+PONG\r\n"},
		{"simple CRLF", AppendSimple(nil, "a\r\nb"), "+a  b\r\n"},
		{"error", AppendError(nil, "ERR boom"), "-ERR boom\r\n"},
		{"error LF", AppendError(nil, "ERR a\nb"), "-ERR a b\r\n"},
		{"int", AppendInt(nil, -42), ":-42\r\n"},
		{"bulk", AppendBulk(nil, []byte("a\r\nb")), "$4\r\na\r\nb\r\n"},
		{"bulk nil", AppendBulk(nil, nil), "$0\r\n\r\n"},
		{"bulk string", AppendBulkString(nil, "hello"), "$5\r\nhello\r\n"},
		{"null", AppendNull(nil), "$-1\r\n"},
		{"null array", AppendNullArray(nil), "*-1\r\n"},
		{"array", AppendBulk(AppendInt(AppendArray(nil, 2), 1), []byte("x")), "*2\r\n:1\r\n$1\r\nx\r\n"},
		{"appends", AppendOK([]byte("+PONG\r\n")), "+PONG\r\n+OK\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestRedisErrors compares with replies captured from redis-server 7.0.
func TestRedisErrors(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"unknown with args", ErrUnknownCommand(args("foo", "a", "b")),
			"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"},
		{"unknown without args", ErrUnknownCommand(args("foo")),
			"-ERR unknown command 'foo', with args beginning with: \r\n"},
		{"unknown long arg", ErrUnknownCommand(args("foo", strings.Repeat("x", 200), "b")),
			"-ERR unknown command 'foo', with args beginning with: '" + strings.Repeat("x", 128) + "' \r\n"},
		{"unknown args cut at 128", ErrUnknownCommand(args("foo", strings.Repeat("x", 100), strings.Repeat("y", 100), "z")),
			"-ERR unknown command 'foo', with args beginning with: '" + strings.Repeat("x", 100) + "' '" + strings.Repeat("y", 25) + "' \r\n"},
		{"unknown long name", ErrUnknownCommand(args(strings.Repeat("n", 200))),
			"-ERR unknown command '" + strings.Repeat("n", 128) + "', with args beginning with: \r\n"},
		{"unknown CRLF and NUL", ErrUnknownCommand(args("a\r\nb", "c\x00d")),
			"-ERR unknown command 'a  b', with args beginning with: 'c' \r\n"},
		{"unknown no args", ErrUnknownCommand(nil), "-ERR unknown command '', with args beginning with: \r\n"},
		{"arity", ErrWrongArity([]byte("GeT")), "-ERR wrong number of arguments for 'get' command\r\n"},
		{"arity CRLF", ErrWrongArity([]byte("X\r\n")), "-ERR wrong number of arguments for 'x  ' command\r\n"},
	}
	for _, tt := range tests {
		if string(tt.got) != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, tt.got, tt.want)
		}
	}
}

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}
