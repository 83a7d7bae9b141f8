package resp

import (
	"bytes"
	"strconv"
)

// AppendOK appends "+OK".
func AppendOK(dst []byte) []byte { return append(dst, "+OK\r\n"...) }

// AppendSimple appends the simple string s; CR and LF in s become spaces.
func AppendSimple(dst []byte, s string) []byte {
	dst = append(dst, '+')
	return appendLine(dst, s)
}

// AppendError appends the error msg, which starts with its code
// ("ERR unknown command 'FOO'"); CR and LF in msg become spaces.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, '-')
	return appendLine(dst, msg)
}

// appendLine appends s with CR and LF replaced by spaces, then CRLF.
func appendLine(dst []byte, s string) []byte {
	start := len(dst)
	dst = append(dst, s...)
	for i := start; i < len(dst); i++ {
		if dst[i] == '\r' || dst[i] == '\n' {
			dst[i] = ' '
		}
	}
	return append(dst, '\r', '\n')
}

// AppendInt appends the integer n.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string (a nil b is the empty string; see
// AppendNull).
func AppendBulk(dst []byte, b []byte) []byte {
	dst = appendHeader(dst, '$', len(b))
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = appendHeader(dst, '$', len(s))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendNull appends the null bulk string "$-1".
func AppendNull(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

// AppendNullArray appends the null array "*-1".
func AppendNullArray(dst []byte) []byte { return append(dst, "*-1\r\n"...) }

// AppendArray appends the header of an array of n elements, which the
// caller appends next.
func AppendArray(dst []byte, n int) []byte { return appendHeader(dst, '*', n) }

func appendHeader(dst []byte, kind byte, n int) []byte {
	dst = append(dst, kind)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// maxQuoted is how much of a name or of the arguments Redis quotes in an
// error.
const maxQuoted = 128

// ErrUnknownCommand is Redis 7's reply to an unknown command:
// "-ERR unknown command 'foo', with args beginning with: 'a' 'b' ", with
// the name and the quoted arguments each cut to 128 bytes.
func ErrUnknownCommand(args [][]byte) []byte {
	var name []byte
	if len(args) > 0 {
		name = args[0]
	}
	out := make([]byte, 0, 80+len(name))
	out = append(out, "-ERR unknown command '"...)
	out = append(out, cString(name, maxQuoted)...)
	out = append(out, "', with args beginning with: "...)
	quoted := 0
	for i := 1; i < len(args) && quoted < maxQuoted; i++ {
		arg := cString(args[i], maxQuoted-quoted)
		out = append(out, '\'')
		out = append(out, arg...)
		out = append(out, '\'', ' ')
		quoted += len(arg) + 3
	}
	return endError(out)
}

// ErrWrongArity is Redis' reply to a command with the wrong number of
// arguments: "-ERR wrong number of arguments for 'get' command".
func ErrWrongArity(name []byte) []byte {
	out := make([]byte, 0, 64+len(name))
	out = append(out, "-ERR wrong number of arguments for '"...)
	start := len(out)
	out = append(out, name...)
	lowerASCII(out[start:])
	out = append(out, "' command"...)
	return endError(out)
}

// endError replaces CR and LF in the error line out by spaces and ends it.
func endError(out []byte) []byte {
	for i, c := range out {
		if c == '\r' || c == '\n' {
			out[i] = ' '
		}
	}
	return append(out, '\r', '\n')
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// cString is what C's "%.*s" prints of b: up to its first NUL, at most max
// bytes.
func cString(b []byte, max int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	return b
}
