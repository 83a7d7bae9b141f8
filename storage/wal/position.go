package wal

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidPosition is wrapped by the errors of ParsePosition and of
// OpenAt given a position that cannot be one.
var ErrInvalidPosition = errors.New("wal: invalid position")

// Position is a point in a storage directory's WAL: the log of a generation
// (LogName(Generation)) and the byte offset in it of the next record to
// read, which is the end of the last record read or applied (0 at the start
// of the log). Positions order by generation, then offset (Compare).
//
// A position that a Follower or the engine reports is always at the end of a
// whole record. The zero Position orders before every real one (generations
// start at 1).
type Position struct {
	Generation uint64 // the log file: LogName(Generation)
	Offset     int64  // bytes into it: where the next record starts
}

// Compare returns -1, 0 or +1 as p is before, equal to or after q in the
// WAL: by Generation, then by Offset.
func (p Position) Compare(q Position) int {
	if c := cmp.Compare(p.Generation, q.Generation); c != 0 {
		return c
	}
	return cmp.Compare(p.Offset, q.Offset)
}

// String returns the text form "<generation>:<offset>" in decimal, such as
// "3:1024"; ParsePosition reads it back.
func (p Position) String() string {
	var buf [20 + 1 + 19]byte
	return string(p.appendText(buf[:0]))
}

func (p Position) appendText(dst []byte) []byte {
	dst = strconv.AppendUint(dst, p.Generation, 10)
	dst = append(dst, ':')
	return strconv.AppendInt(dst, p.Offset, 10)
}

// MarshalText returns the text form of p (see String).
func (p Position) MarshalText() ([]byte, error) { return p.appendText(nil), nil }

// UnmarshalText sets *p from its text form (see ParsePosition).
func (p *Position) UnmarshalText(b []byte) error {
	q, err := ParsePosition(string(b))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ParsePosition parses the text form that String returns. It is strict:
// both numbers are canonical decimals (no sign, no leading zeros) and the
// offset is not negative, so ParsePosition(s).String() == s whenever it
// succeeds. Errors wrap ErrInvalidPosition.
func ParsePosition(s string) (Position, error) {
	gen, off, ok := strings.Cut(s, ":")
	g, gok := parseDecimal(gen, 64)
	o, ook := parseDecimal(off, 63)
	if !ok || !gok || !ook {
		if len(s) > 64 {
			s = s[:64]
		}
		return Position{}, fmt.Errorf("%w %q: want <generation>:<offset> in decimal", ErrInvalidPosition, s)
	}
	return Position{Generation: g, Offset: int64(o)}, nil
}

// parseDecimal parses a canonical unsigned decimal of at most bits bits.
func parseDecimal(s string, bits int) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, bits) // digits only with base 10
	return v, err == nil
}
