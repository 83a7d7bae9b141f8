package wal

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"

	"planet/internal/hlc"
)

// ErrCorrupt is wrapped by every error that reports a record that is not
// valid; see CorruptError.
var ErrCorrupt = errors.New("wal: corrupt record")

// CorruptError reports where and why; errors.Is(err, ErrCorrupt) is true.
type CorruptError struct {
	Offset int64  // file offset of the start of the bad line
	Reason string // what is wrong with it, for operators
}

func (e *CorruptError) Error() string {
	return "wal: corrupt record at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Op is the kind of a record.
type Op byte

// The record kinds.
const (
	Put Op = 'P' // "VPUT": set Key to Value
	Del Op = 'D' // "VDEL": delete Key (a tombstone)
)

// Record is one decoded line of a log or snapshot.
type Record struct {
	Op      Op
	Key     []byte
	Value   []byte      // nil for Del; non-nil (maybe empty) for a decoded Put
	Version hlc.Version // when, and by which replica, the write was made
	Origin  string      // region where the write was first accepted; see ValidOrigin
}

const (
	tagPut      = "VPUT "
	tagDel      = "VDEL "
	tagLen      = len(tagPut)
	crcFieldLen = len(" 0123abcd")
	minLine     = tagLen + len("@0.0.a a") + crcFieldLen
	crcDigits   = "0123456789abcdef"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// unhexLower maps a lowercase hex digit (the crc's alphabet) to its value and
// anything else to 0xFF.
var unhexLower = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := range 16 {
		t[crcDigits[i]] = byte(i)
	}
	return t
}()

// ValidOrigin returns nil if s is a valid origin region (hlc.ValidRegion:
// 1..32 bytes, a lowercase letter followed by lowercase letters and
// digits).
func ValidOrigin(s string) error {
	if err := hlc.ValidRegion(s); err != nil {
		return fmt.Errorf("wal: invalid origin %q: %w", s, err)
	}
	return nil
}

func validOrigin(s string) bool { return hlc.ValidRegion(s) == nil }

// checkRecord returns an error if r cannot be encoded into a line that
// decodes again.
func checkRecord(r *Record) error {
	if r.Op != Put && r.Op != Del {
		return fmt.Errorf("wal: invalid record op %#x", byte(r.Op))
	}
	if err := hlc.ValidNode(r.Version.Node); err != nil {
		return fmt.Errorf("wal: invalid record version: %w", err)
	}
	return ValidOrigin(r.Origin)
}

// AppendRecord appends the line for r, including its '\n', to dst and returns
// the extended slice. The Value of a Del is ignored.
//
// AppendRecord panics if r.Op is neither Put nor Del, r.Version.Node is not a
// valid node (hlc.ValidNode) or r.Origin not a valid origin (ValidOrigin):
// such a record would be written as a line that reads back as corrupt, which
// recovery would cut off together with everything after it. Callers validate
// versions and origins where they enter the process.
func AppendRecord(dst []byte, r *Record) []byte {
	if err := checkRecord(r); err != nil {
		panic(err)
	}
	value := r.Value
	if r.Op == Del {
		value = nil
	}
	// Enough unless the key or value has escapes.
	dst = slices.Grow(dst, len("VPUT =@281474976710655.65535.  01234567\n")+
		len(r.Key)+len(value)+len(r.Version.Node)+len(r.Origin))
	start := len(dst)
	if r.Op == Put {
		dst = append(dst, tagPut...)
	} else {
		dst = append(dst, tagDel...)
	}
	dst = appendEscaped(dst, r.Key)
	if r.Op == Put {
		dst = append(dst, '=')
		dst = appendEscaped(dst, value)
	}
	dst = append(dst, '@')
	dst = r.Version.AppendText(dst)
	dst = append(dst, ' ')
	dst = append(dst, r.Origin...)
	sum := crc32.Checksum(dst[start:], castagnoli)
	dst = append(dst, ' ')
	for shift := 28; shift >= 0; shift -= 4 {
		dst = append(dst, crcDigits[sum>>shift&0xF])
	}
	return append(dst, '\n')
}

// DecodeRecord decodes one line, with or without its trailing '\n', into r.
// It reuses the capacity of r.Key and r.Value, and keeps r.Origin and
// r.Version.Node when they are unchanged, so decoding a stream of records
// into one Record allocates little. On error it returns a *CorruptError with
// Offset 0, and leaves r in an unspecified state.
func DecodeRecord(line []byte, r *Record) error {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if len(line) < minLine {
		return corrupt("line too short")
	}
	body, crcField := line[:len(line)-crcFieldLen], line[len(line)-crcFieldLen:]
	want, ok := parseCRC(crcField)
	if !ok {
		return corrupt("want a space and 8 lowercase hex digits of checksum at the end of the line")
	}
	if got := crc32.Checksum(body, castagnoli); got != want {
		return corrupt(fmt.Sprintf("checksum mismatch: line has %08x, content has %08x", want, got))
	}
	switch string(body[:tagLen]) {
	case tagPut:
		r.Op = Put
	case tagDel:
		r.Op = Del
	default:
		return corrupt(fmt.Sprintf("unknown record tag %q", body[:tagLen]))
	}
	return decodeBody(body[tagLen:], r)
}

// decodeBody decodes what follows the tag: key, value, version and origin.
func decodeBody(b []byte, r *Record) error {
	keyEnd := byte('@')
	if r.Op == Put {
		keyEnd = '='
	}
	i := bytes.IndexByte(b, keyEnd)
	if i < 0 {
		if r.Op == Put {
			return corrupt("VPUT without '=' after the key")
		}
		return corrupt("missing '@' before the version")
	}
	var reason string
	if r.Key, reason = unescape(r.Key[:0], b[:i]); reason != "" {
		return corrupt("key: " + reason)
	}
	if r.Op == Del {
		r.Value = nil
	} else {
		b = b[i+1:]
		if i = bytes.IndexByte(b, '@'); i < 0 {
			return corrupt("missing '@' before the version")
		}
		if r.Value == nil {
			r.Value = []byte{}
		}
		if r.Value, reason = unescape(r.Value[:0], b[:i]); reason != "" {
			return corrupt("value: " + reason)
		}
	}
	b = b[i+1:]
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return corrupt("missing origin")
	}
	if !decodeVersion(b[:sp], &r.Version) {
		return corrupt(fmt.Sprintf("bad version %q", b[:sp]))
	}
	if origin := b[sp+1:]; string(origin) != r.Origin {
		r.Origin = string(origin)
	}
	if !validOrigin(r.Origin) {
		return corrupt(fmt.Sprintf("bad origin %q", r.Origin))
	}
	return nil
}

// decodeVersion parses the text of an hlc.Version into v, reusing v.Node
// when unchanged (see hlc.ParseVersionInto).
func decodeVersion(b []byte, v *hlc.Version) bool {
	return hlc.ParseVersionInto(b, v) == nil
}

// parseCRC parses the crc field: a space and 8 lowercase hex digits.
func parseCRC(b []byte) (uint32, bool) {
	if len(b) != crcFieldLen || b[0] != ' ' {
		return 0, false
	}
	var sum uint32
	for _, c := range b[1:] {
		d := unhexLower[c]
		if d > 0xF {
			return 0, false
		}
		sum = sum<<4 | uint32(d)
	}
	return sum, true
}

func corrupt(reason string) *CorruptError {
	return &CorruptError{Reason: reason}
}
