package repl

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"planet/internal/hlc"
)

// Command names, as the builders send them (receivers match any case).
const (
	Put    = "REPL.PUT"    // REPL.PUT key value version
	Del    = "REPL.DEL"    // REPL.DEL key version
	MPut   = "REPL.MPUT"   // REPL.MPUT key value version [key value version ...]
	MDel   = "REPL.MDEL"   // REPL.MDEL key version [key version ...]
	VGet   = "VGET"        // VGET key
	VVer   = "VVER"        // VVER key
	MVVer  = "MVVER"       // MVVER key [key ...]
	Digest = "REPL.DIGEST" // REPL.DIGEST
	Bucket = "REPL.BUCKET" // REPL.BUCKET bucket
)

// Op is a replicated write command.
type Op uint8

// The replicated writes.
const (
	OpPut  Op = iota + 1 // REPL.PUT
	OpDel                // REPL.DEL
	OpMPut               // REPL.MPUT
	OpMDel               // REPL.MDEL
)

var opNames = [...]string{OpPut: Put, OpDel: Del, OpMPut: MPut, OpMDel: MDel}

// ParseOp returns the replicated write named name, in any case.
func ParseOp(name []byte) (Op, bool) {
	for op := OpPut; op <= OpMDel; op++ {
		if equalFoldASCII(name, opNames[op]) {
			return op, true
		}
	}
	return 0, false
}

// equalFoldASCII reports whether b is s in any ASCII case.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if d := s[i]; c != d && !('a' <= d && d <= 'z' && c == d-('a'-'A')) {
			return false
		}
	}
	return true
}

// String returns the command's name ("REPL.PUT").
func (o Op) String() string {
	if o < OpPut || o > OpMDel {
		return fmt.Sprintf("Op(%d)", uint8(o))
	}
	return opNames[o]
}

// Merged reports whether o is a merged form (REPL.MPUT, REPL.MDEL).
func (o Op) Merged() bool { return o == OpMPut || o == OpMDel }

// Delete reports whether o deletes (REPL.DEL, REPL.MDEL).
func (o Op) Delete() bool { return o == OpDel || o == OpMDel }

// ItemArgs returns the number of arguments of one item: 3 for a put (key
// value version), 2 for a delete (key version).
func (o Op) ItemArgs() int {
	if o.Delete() {
		return 2
	}
	return 3
}

// Arity returns the command's arity in Redis's convention (the name
// included; negative: at least): 4, 3, -4, -3.
func (o Op) Arity() int {
	if o.Merged() {
		return -(1 + o.ItemArgs())
	}
	return 1 + o.ItemArgs()
}

// Item is one replicated write: a put of Value, or a delete (a tombstone),
// at Version.
type Item struct {
	Key     []byte
	Value   []byte // nil for a delete
	Version hlc.Version
	Delete  bool
	// Err, set by Parse, says why the item is invalid (its version does
	// not parse: it wraps hlc.ErrInvalidVersion). The receiver replies
	// "-ERR " + Err.Error() in the item's place and applies the others.
	Err error
}

// Errors of Parse and CheckSkew.
var (
	// ErrUnknownCommand: the name is not a replicated write.
	ErrUnknownCommand = errors.New("repl: not a replicated write")
	// ErrArity is wrapped by *ArityError.
	ErrArity = errors.New("repl: wrong number of arguments")
	// ErrClockSkew is wrapped by *SkewError.
	ErrClockSkew = errors.New("repl: version ahead of the clock")
)

// ArityError is a replicated write with the wrong number of arguments.
// Its text is Redis's, so that "-ERR " + Error() is the reply.
type ArityError struct {
	Name string // the command's name in lower case, as sent
}

func (e *ArityError) Error() string {
	return "wrong number of arguments for '" + e.Name + "' command"
}

// Unwrap returns ErrArity.
func (e *ArityError) Unwrap() error { return ErrArity }

// Parse parses a replicated write: args[0] names it (REPL.PUT, REPL.DEL,
// REPL.MPUT or REPL.MDEL, in any case), the other arguments are its items'.
// It appends the items to items (whose capacity it reuses) and returns the
// extended slice. Keys and values alias args.
//
// The command fails, with ErrUnknownCommand or an *ArityError, only if
// its name or its number of arguments is wrong; a version that does not
// parse fails only its item (Item.Err), so that the others of a merged
// command still apply.
func Parse(items []Item, args [][]byte) (Op, []Item, error) {
	if len(args) == 0 {
		return 0, items, ErrUnknownCommand
	}
	op, ok := ParseOp(args[0])
	if !ok {
		return 0, items, ErrUnknownCommand
	}
	per := op.ItemArgs()
	rest := args[1:]
	if len(rest) == 0 || len(rest)%per != 0 || !op.Merged() && len(rest) != per {
		return op, items, &ArityError{Name: strings.ToLower(string(args[0]))}
	}
	for ; len(rest) > 0; rest = rest[per:] {
		items = appendItem(items, rest[:per], op.Delete())
	}
	return op, items, nil
}

// appendItem appends the item of one item's arguments, reusing the slot
// beyond len(items) if there is one (its version's node string too).
func appendItem(items []Item, a [][]byte, del bool) []Item {
	var v hlc.Version
	if len(items) < cap(items) {
		v = items[:len(items)+1][len(items)].Version
	}
	it := Item{Key: a[0], Delete: del}
	if !del {
		it.Value = a[1]
	}
	if err := hlc.ParseVersionInto(a[len(a)-1], &v); err != nil {
		it.Err = err
		v = hlc.Version{}
	}
	it.Version = v
	return append(items, it)
}

// SkewError is a replicated version too far ahead of the receiver's clock.
// Its text, after "-ERR ", is the reply.
type SkewError struct {
	Version hlc.Version
	Ahead   time.Duration // of the receiver's clock
	Max     time.Duration // the receiver's bound
}

func (e *SkewError) Error() string {
	return fmt.Sprintf("version %s is %v ahead of this replica's clock (max skew %v)", e.Version, e.Ahead.Round(time.Millisecond), e.Max)
}

// Unwrap returns ErrClockSkew.
func (e *SkewError) Unwrap() error { return ErrClockSkew }

// CheckSkew returns a *SkewError if v's wall time is more than maxSkew
// after now: a receiver refuses such a version rather than drag its clock
// (and every version it mints after) into the future.
func CheckSkew(v hlc.Version, now time.Time, maxSkew time.Duration) error {
	if ahead := v.WallTime().Sub(now); ahead > maxSkew {
		return &SkewError{Version: v, Ahead: ahead, Max: maxSkew}
	}
	return nil
}

// Integer replies of REPL.PUT and REPL.DEL (and of each element of
// REPL.MPUT and REPL.MDEL).
const (
	// Applied: REPL.PUT applied the value; REPL.DEL removed a live value.
	Applied = 1
	// NotApplied: REPL.PUT found that version or a newer one; REPL.DEL
	// found no live value older than its version. Still an
	// acknowledgement: the replica holds the version or a newer one.
	NotApplied = 0
)

// PutReply returns REPL.PUT's reply: Applied if the replica applied the
// value, else NotApplied.
func PutReply(applied bool) int64 {
	if applied {
		return Applied
	}
	return NotApplied
}

// DelReply returns REPL.DEL's reply: Applied if the delete applied and the
// replica held a live value (wasLive), else NotApplied.
func DelReply(applied, wasLive bool) int64 { return PutReply(applied && wasLive) }

// Reply returns the integer reply to item it: PutReply or DelReply.
func (it *Item) Reply(applied, wasLive bool) int64 {
	if it.Delete {
		return DelReply(applied, wasLive)
	}
	return PutReply(applied)
}

// DeletedLive reports whether the reply n of a REPL.DEL (or an element of
// REPL.MDEL's) says that the replica removed a live value: what the
// coordinator of a DEL counts.
func DeletedLive(n int64) bool { return n == Applied }
