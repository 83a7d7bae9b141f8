// Package decode decodes the peer client's replies to the replica commands
// of package repl (REPL.BUCKET, VGET). It is apart from repl, which the
// storage engine imports, so that the engine does not import the peer
// client (and go-redis).
package decode

import (
	"errors"
	"fmt"

	"planet/internal/hlc"
	"planet/internal/peer"
	"planet/internal/repl"
)

// Bucket decodes REPL.BUCKET's reply: [key, version, ...].
// Keys alias the reply.
func Bucket(r peer.Reply) ([]repl.KeyVersion, error) {
	if r.Kind != peer.KindArray || len(r.Array)%2 != 0 {
		return nil, errors.New("REPL.BUCKET: want [key, version, ...]")
	}
	out := make([]repl.KeyVersion, 0, len(r.Array)/2)
	for i := 0; i < len(r.Array); i += 2 {
		v, err := hlc.ParseVersion(r.Array[i+1].Str)
		if err != nil {
			return nil, fmt.Errorf("REPL.BUCKET: %w", err)
		}
		out = append(out, repl.KeyVersion{Key: r.Array[i].Str, Version: v})
	}
	return out, nil
}

// VGet decodes VGET's reply for key: nil (found is false), or
// [value, version] (a put) or [nil, version] (a tombstone). The value
// aliases the reply.
func VGet(key []byte, r peer.Reply) (it repl.Item, found bool, err error) {
	if r.Kind == peer.KindNil {
		return repl.Item{}, false, nil
	}
	if r.Kind != peer.KindArray || len(r.Array) != 2 || r.Array[1].Kind != peer.KindBulk {
		return repl.Item{}, false, errors.New("VGET: want [value, version]")
	}
	v, err := hlc.ParseVersion(r.Array[1].Str)
	if err != nil {
		return repl.Item{}, false, fmt.Errorf("VGET: %w", err)
	}
	it = repl.Item{Key: key, Version: v}
	switch r.Array[0].Kind {
	case peer.KindNil:
		it.Delete = true
	case peer.KindBulk:
		it.Value = r.Array[0].Str
	default:
		return repl.Item{}, false, errors.New("VGET: want a value or nil")
	}
	return it, true, nil
}
