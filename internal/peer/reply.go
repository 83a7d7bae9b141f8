package peer

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Kind says which field of a Reply is meaningful.
type Kind int

// The kinds of RESP2 reply. Error replies are not a Kind: Do returns them
// as *ReplyError.
const (
	KindNil    Kind = iota // nil bulk string or nil array; no field
	KindStatus             // simple string ("+OK"); Str
	KindInt                // integer; Int
	KindBulk               // bulk string, possibly empty; Str
	KindArray              // array, possibly empty; Array
)

func (k Kind) String() string {
	switch k {
	case KindNil:
		return "nil"
	case KindStatus:
		return "status"
	case KindInt:
		return "int"
	case KindBulk:
		return "bulk"
	case KindArray:
		return "array"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Reply is one decoded RESP reply. Exactly one of the fields is meaningful,
// per Kind. The Str of all the parts of one reply share one buffer.
type Reply struct {
	Kind  Kind
	Str   []byte  // KindStatus, KindBulk; non-nil (maybe empty) for those kinds
	Int   int64   // KindInt
	Array []Reply // KindArray; non-nil (maybe empty); elements may be KindNil
}

// errProtocol means a reply was not valid RESP2.
var errProtocol = errors.New("protocol error")

// parseReply decodes raw, which must hold exactly one RESP2 reply. An error
// reply, at the top level or inside an array, is returned as *ReplyError;
// malformed input as an error wrapping errProtocol. Str fields alias raw.
func parseReply(raw []byte) (Reply, error) {
	r, rest, err := decode(raw)
	if err != nil {
		return Reply{}, err
	}
	if len(rest) != 0 {
		return Reply{}, fmt.Errorf("%w: %d trailing bytes", errProtocol, len(rest))
	}
	if r.err != nil {
		return Reply{}, r.err
	}
	return r.Reply, nil
}

// decoded is a Reply, or the first error reply found inside it.
type decoded struct {
	Reply
	err *ReplyError
}

// decode decodes the reply at the start of b and returns the bytes after it.
func decode(b []byte) (decoded, []byte, error) {
	line, rest, err := readLine(b)
	if err != nil {
		return decoded{}, nil, err
	}
	body := line[1:len(line):len(line)]
	switch line[0] {
	case '+':
		return decoded{Reply: Reply{Kind: KindStatus, Str: body}}, rest, nil
	case '-':
		return decoded{err: &ReplyError{Msg: string(body)}}, rest, nil
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return decoded{}, nil, fmt.Errorf("%w: integer %q", errProtocol, body)
		}
		return decoded{Reply: Reply{Kind: KindInt, Int: n}}, rest, nil
	case '$':
		return decodeBulk(body, rest)
	case '*':
		return decodeArray(body, rest)
	}
	return decoded{}, nil, fmt.Errorf("%w: unexpected type byte %q", errProtocol, line[0])
}

func decodeBulk(header, b []byte) (decoded, []byte, error) {
	n, err := parseLen(header)
	if err != nil || n < 0 {
		return decoded{Reply: Reply{Kind: KindNil}}, b, err
	}
	if len(b) < n+2 || b[n] != '\r' || b[n+1] != '\n' {
		return decoded{}, nil, fmt.Errorf("%w: short bulk string", errProtocol)
	}
	return decoded{Reply: Reply{Kind: KindBulk, Str: b[:n:n]}}, b[n+2:], nil
}

func decodeArray(header, b []byte) (decoded, []byte, error) {
	n, err := parseLen(header)
	if err != nil || n < 0 {
		return decoded{Reply: Reply{Kind: KindNil}}, b, err
	}
	if n > len(b)/3 { // every element takes at least 3 bytes ("+\r\n")
		return decoded{}, nil, fmt.Errorf("%w: array of %d in %d bytes", errProtocol, n, len(b))
	}
	out := decoded{Reply: Reply{Kind: KindArray, Array: make([]Reply, n)}}
	for i := range out.Array {
		var el decoded
		el, b, err = decode(b)
		if err != nil {
			return decoded{}, nil, err
		}
		if out.err == nil {
			out.err = el.err
		}
		out.Array[i] = el.Reply
	}
	return out, b, nil
}

// parseLen parses the length of a bulk string or array; -1 means nil.
func parseLen(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < -1 {
		return 0, fmt.Errorf("%w: length %q", errProtocol, b)
	}
	return n, nil
}

// readLine splits b after its first CRLF, returning the line without the
// CRLF. The line is never empty.
func readLine(b []byte) (line, rest []byte, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 2 || b[i-1] != '\r' {
		return nil, nil, fmt.Errorf("%w: bad line", errProtocol)
	}
	return b[: i-1 : i-1], b[i+1:], nil
}
