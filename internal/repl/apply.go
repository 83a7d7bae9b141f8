package repl

import (
	"errors"
	"fmt"

	"planet/internal/hlc"
)

// Apply is the region-apply command of the WAL tailer:
//
//	REPL.APPLY PUT key value version | DEL key version [...]
//
// It carries records of another region, each tagged PUT or DEL, to one
// storage replica, which applies each iff newer with its region's write
// quorum (the versions are kept, so the records are never shipped across
// regions again: their origin is not the receiver's region) and replies
// +OK once W replicas of the region hold every record (or a newer
// version) durably. Any other reply is an error and the sender retries
// the whole batch: applying is idempotent.
const Apply = "REPL.APPLY"

var (
	argApply = []byte(Apply)
	tagPut   = []byte("PUT")
	tagDel   = []byte("DEL")
)

// ErrApplySyntax is wrapped by the errors of ParseApply for a malformed
// command.
var ErrApplySyntax = errors.New("repl: REPL.APPLY syntax")

// AppendApply appends REPL.APPLY with items (it.Err is ignored).
func AppendApply(args [][]byte, items []Item) [][]byte {
	args = append(args, argApply)
	for _, it := range items {
		args = AppendApplyItem(args, it)
	}
	return args
}

// AppendApplyItem appends the arguments of one item of REPL.APPLY: PUT key
// value version, or DEL key version.
func AppendApplyItem(args [][]byte, it Item) [][]byte {
	if it.Delete {
		return append(args, tagDel, it.Key, versionArg(it.Version))
	}
	return append(args, tagPut, it.Key, it.Value, versionArg(it.Version))
}

// ParseApply parses REPL.APPLY (args[0] names it, in any case) and
// appends its items to items. Keys and values alias args. Unlike Parse,
// a version that does not parse fails the whole command: a batch applies
// whole or not at all, so that a bad batch changes nothing.
func ParseApply(items []Item, args [][]byte) ([]Item, error) {
	start := len(items)
	if len(args) < 2 || !equalFoldASCII(args[0], Apply) {
		return items, fmt.Errorf("%w: want REPL.APPLY PUT key value version | DEL key version ...", ErrApplySyntax)
	}
	for i, rest := 0, args[1:]; len(rest) > 0; i++ {
		var del bool
		switch {
		case equalFoldASCII(rest[0], "PUT"):
		case equalFoldASCII(rest[0], "DEL"):
			del = true
		default:
			return items[:start], fmt.Errorf("%w: record %d: want PUT or DEL, not %.16q", ErrApplySyntax, i, rest[0])
		}
		n := 4
		if del {
			n = 3
		}
		if len(rest) < n {
			return items[:start], fmt.Errorf("%w: record %d: %s needs %d arguments", ErrApplySyntax, i, rest[0], n-1)
		}
		it := Item{Key: rest[1], Delete: del}
		if !del {
			it.Value = rest[2]
		}
		v, err := hlc.ParseVersion(rest[n-1])
		if err != nil {
			return items[:start], fmt.Errorf("%w: record %d: %w", ErrApplySyntax, i, err)
		}
		it.Version = v
		items = append(items, it)
		rest = rest[n:]
	}
	return items, nil
}
