// Package hlc implements hybrid logical clock (HLC) versions.
//
// A Version is a 64-bit HLC timestamp (wall-clock milliseconds since the Unix
// epoch in the high 48 bits, a logical counter in the low 16) plus the id of
// the replica that issued it. Versions are totally ordered: by timestamp, then
// by replica id, so last-writer-wins picks the same winner on every replica.
//
// A Clock issues versions for one replica. Each version it issues is greater
// than every version it issued or observed before, and it stays close to the
// wall clock: the timestamp is the wall clock unless the clock has already
// issued or observed that millisecond, in which case the logical counter
// advances instead.
//
// The text form, used in the WAL and on the wire, is
//
//	<wallms>.<logical>.<node>    e.g. 1763768229000.3.sfo-10600
//
// with both numbers in canonical decimal (no sign, no leading zeros), wallms
// below 2^48, logical at most 65535, and node 1..64 bytes of [a-z0-9-].
// ParseVersion accepts exactly the strings that String produces.
package hlc

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ErrInvalidVersion is wrapped by every error ParseVersion returns.
var ErrInvalidVersion = errors.New("hlc: invalid version")

const (
	logicalBits   = 16
	maxWallMillis = 1<<(64-logicalBits) - 1
	maxNodeLen    = 64
	maxQuoted     = 80 // bytes of a bad input quoted in an error
)

// Version is an HLC timestamp plus the replica that made it; totally ordered.
type Version struct {
	Time uint64 // wall-clock milliseconds since the Unix epoch << 16 | 16-bit logical counter
	Node string // origin replica id, tie-breaker: 1..64 bytes of [a-z0-9-], e.g. "sfo-10600"
}

// IsZero reports whether v is the zero Version, which orders before every
// version a Clock issues.
func (v Version) IsZero() bool { return v.Time == 0 && v.Node == "" }

// Compare returns -1, 0 or +1 as v orders before, equal to or after w: by
// Time, then by Node bytewise.
func (v Version) Compare(w Version) int {
	if c := cmp.Compare(v.Time, w.Time); c != 0 {
		return c
	}
	return strings.Compare(v.Node, w.Node)
}

// Newer reports whether v orders after w.
func (v Version) Newer(w Version) bool { return v.Compare(w) > 0 }

// WallTime returns the wall-clock part of v.
func (v Version) WallTime() time.Time { return time.UnixMilli(int64(v.Time >> logicalBits)) }

// Logical returns the logical counter of v.
func (v Version) Logical() uint16 { return uint16(v.Time) }

// String returns the text form "<wallms>.<logical>.<node>".
func (v Version) String() string {
	var buf [20 + 1 + 5 + 1 + maxNodeLen]byte
	return string(v.AppendText(buf[:0]))
}

// AppendText appends the text form of v (as String) to dst and returns the
// extended slice.
func (v Version) AppendText(dst []byte) []byte {
	dst = strconv.AppendUint(dst, v.Time>>logicalBits, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, uint64(v.Logical()), 10)
	dst = append(dst, '.')
	return append(dst, v.Node...)
}

// ParseVersion parses the text form produced by String. It is strict: it
// accepts only canonical decimal numbers in range and a valid node, so
// ParseVersion(b).String() == string(b) whenever it succeeds. Errors wrap
// ErrInvalidVersion.
func ParseVersion(b []byte) (Version, error) {
	var v Version
	err := ParseVersionInto(b, &v)
	return v, err
}

// ParseVersionInto is ParseVersion into *v, keeping v.Node's string when
// the node is unchanged: a stream of versions from one replica (a WAL) then
// allocates nothing. On error *v is unspecified.
func ParseVersionInto(b []byte, v *Version) error {
	i := bytes.IndexByte(b, '.')
	if i < 0 {
		return invalid(b, "want <wallms>.<logical>.<node>")
	}
	j := bytes.IndexByte(b[i+1:], '.')
	if j < 0 {
		return invalid(b, "want <wallms>.<logical>.<node>")
	}
	j += i + 1
	wall, ok := parseDecimal(b[:i], maxWallMillis)
	if !ok {
		return invalid(b, "wall time: want decimal milliseconds below 2^48")
	}
	logical, ok := parseDecimal(b[i+1:j], math.MaxUint16)
	if !ok {
		return invalid(b, "logical: want decimal at most 65535")
	}
	node := b[j+1:]
	if !validNode(node) {
		return invalid(b, "node: want 1..64 bytes of [a-z0-9-]")
	}
	if string(node) != v.Node {
		v.Node = string(node)
	}
	v.Time = wall<<logicalBits | logical
	return nil
}

func invalid(b []byte, reason string) error {
	if len(b) > maxQuoted {
		b = b[:maxQuoted]
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidVersion, b, reason)
}

// parseDecimal parses a canonical unsigned decimal (digits only, no leading
// zeros except "0") that is at most max.
func parseDecimal(b []byte, max uint64) (uint64, bool) {
	if len(b) == 0 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 || n > (max-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// ValidNode returns nil if node is a valid replica id: 1..64 bytes of
// [a-z0-9-].
func ValidNode(node string) error {
	if !validNode(node) {
		return fmt.Errorf("hlc: invalid node %q: want 1..64 bytes of [a-z0-9-]", node)
	}
	return nil
}

func validNode[T string | []byte](node T) bool {
	if len(node) == 0 || len(node) > maxNodeLen {
		return false
	}
	for i := 0; i < len(node); i++ {
		c := node[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Next is the HLC step: the smallest timestamp that is greater than last and
// not below the wall clock, i.e. max(last+1, wallms<<16). A wall time before
// the epoch counts as 0 and one past 2^48 ms as 2^48-1 ms. At the very top of
// the range (last == MaxUint64) Next saturates and returns last.
func Next(last uint64, wall time.Time) uint64 {
	ms := wall.UnixMilli()
	switch {
	case ms < 0:
		ms = 0
	case ms > maxWallMillis:
		ms = maxWallMillis
	}
	if t := uint64(ms) << logicalBits; t > last {
		return t
	}
	if last == math.MaxUint64 {
		return last
	}
	return last + 1
}

// Clock issues versions for one replica; safe for concurrent use.
type Clock struct {
	node string
	now  func() time.Time
	last atomic.Uint64 // greatest timestamp issued or observed
}

// NewClock returns a Clock for the replica node that reads the wall clock
// from now (time.Now if nil). It fails if node is not a valid replica id.
func NewClock(node string, now func() time.Time) (*Clock, error) {
	if err := ValidNode(node); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Clock{node: node, now: now}, nil
}

// Now returns a new version whose Time is greater than the Time of every
// version this clock returned or observed before, whatever the wall clock
// does. (The only exception is a clock pushed to the top of the range by
// Observe: it then returns math.MaxUint64 again.)
func (c *Clock) Now() Version {
	wall := c.now()
	for {
		last := c.last.Load()
		t := Next(last, wall)
		if c.last.CompareAndSwap(last, t) {
			return Version{Time: t, Node: c.node}
		}
	}
}

// Observe moves the clock past v, so that later calls to Now return versions
// newer than v. It trusts v: a remote version far in the future drags the
// clock with it.
func (c *Clock) Observe(v Version) {
	for {
		last := c.last.Load()
		if v.Time <= last || c.last.CompareAndSwap(last, v.Time) {
			return
		}
	}
}

// Node returns the replica id the clock stamps on its versions.
func (c *Clock) Node() string { return c.node }
