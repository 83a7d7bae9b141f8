package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"planet/discovery/api"
	"planet/internal/config"
)

// ErrBadMessage is wrapped by every error decoding a gossip message.
var ErrBadMessage = errors.New("discovery: bad gossip message")

// msgType is the first byte of every user message exchanged over gossip.
type msgType byte

const (
	msgDelta       msgType = 1 // one registration or deregistration
	msgDigest      msgType = 2 // a region's (count, hash) summary, every push/pull period
	msgSnapshot    msgType = 3 // a region's full state
	msgSyncRequest msgType = 4 // "send me your snapshot"
	msgLeave       msgType = 5 // "I am shutting down": drop my entries now
)

// wireEntry is an instance on the wire. TTL is in milliseconds.
type wireEntry struct {
	Name    string `json:"n"`
	Address string `json:"a"`
	TTLms   int64  `json:"t"`
	Version uint64 `json:"v"`
}

type deltaMsg struct {
	Region string    `json:"r"`
	Delete bool      `json:"d,omitempty"`
	Entry  wireEntry `json:"e"`
	SentAt int64     `json:"at"` // origin's wall clock, Unix ns, for the propagation delay metric
}

type digestMsg struct {
	Region  string `json:"r"`
	Version uint64 `json:"v"`
	Count   int    `json:"c"`
	Hash    uint64 `json:"h"`
}

type snapshotMsg struct {
	Region  string      `json:"r"`
	Version uint64      `json:"v"`
	Entries []wireEntry `json:"e"`
	Reply   bool        `json:"reply,omitempty"` // the receiver should answer with its own snapshot
}

type syncRequestMsg struct {
	Region string `json:"r"` // who asks
}

type leaveMsg struct {
	Region string `json:"r"` // who leaves
}

func encodeMessage(t msgType, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("discovery: encoding %T: %v", v, err)) // only our own plain structs get here
	}
	return append([]byte{byte(t)}, b...)
}

// decodeMessage decodes and validates one message; it returns one of
// *deltaMsg, *digestMsg, *snapshotMsg, *syncRequestMsg, *leaveMsg.
func decodeMessage(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadMessage)
	}
	var (
		msg      any
		validate func() error
	)
	switch msgType(b[0]) {
	case msgDelta:
		m := &deltaMsg{}
		msg, validate = m, func() error { return validateDelta(m) }
	case msgDigest:
		m := &digestMsg{}
		msg, validate = m, func() error { return validateRegion(m.Region) }
	case msgSnapshot:
		m := &snapshotMsg{}
		msg, validate = m, func() error { return validateSnapshot(m) }
	case msgSyncRequest:
		m := &syncRequestMsg{}
		msg, validate = m, func() error { return validateRegion(m.Region) }
	case msgLeave:
		m := &leaveMsg{}
		msg, validate = m, func() error { return validateRegion(m.Region) }
	default:
		return nil, fmt.Errorf("%w: unknown type %d", ErrBadMessage, b[0])
	}
	if err := json.Unmarshal(b[1:], msg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if err := validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return msg, nil
}

func validateRegion(r string) error {
	_, err := config.ParseRegion(r)
	return err
}

func validateEntry(e wireEntry, isDelete bool) error {
	if err := api.ValidateName(e.Name); err != nil {
		return err
	}
	if err := api.ValidateAddress(e.Address); err != nil {
		return err
	}
	if e.Version == 0 {
		return errors.New("zero version")
	}
	if isDelete {
		return nil
	}
	ttl := time.Duration(e.TTLms) * time.Millisecond
	if ttl < api.MinTTL || ttl > api.MaxTTL {
		return fmt.Errorf("ttl %v out of range", ttl)
	}
	return nil
}

func validateDelta(m *deltaMsg) error {
	if err := validateRegion(m.Region); err != nil {
		return err
	}
	return validateEntry(m.Entry, m.Delete)
}

func validateSnapshot(m *snapshotMsg) error {
	if err := validateRegion(m.Region); err != nil {
		return err
	}
	for _, e := range m.Entries {
		if err := validateEntry(e, false); err != nil {
			return err
		}
	}
	return nil
}

func (e wireEntry) remote(confirmed time.Time) remoteEntry {
	return remoteEntry{
		Name:      e.Name,
		Address:   e.Address,
		TTL:       time.Duration(e.TTLms) * time.Millisecond,
		Version:   e.Version,
		Confirmed: confirmed,
	}
}
