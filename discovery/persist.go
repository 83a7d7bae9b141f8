package discovery

// The registrations file.
//
// With a Config.DataDir, a discovery instance keeps its local registrations
// in DataDir/discovery/registrations.json, so that after a restart (a crash
// included) list and list_local answer at once with every registration
// whose deadline has not passed, instead of waiting a heartbeat period for
// each service to come back. Federated entries are not kept: gossip brings
// them back within one push/pull.
//
// The file is one JSON object (shown indented; it is written on one line):
//
//	{
//	  "format": 1,                          // this layout; any other is ignored
//	  "region": "sfo",                      // the region that wrote it
//	  "addr": "10.0.0.1:10200",             // its advertised gossip address
//	  "saved": "2026-11-21T12:00:00.1Z",    // wall clock when written
//	  "entries": [
//	    {"name": "web", "address": "127.0.0.1:8080", "ttl_ms": 15000,
//	     "version": 1795353600000000000, "expires": "2026-11-21T12:00:15.1Z"}
//	  ]
//	}
//
// Invariants:
//
//   - The file is replaced whole: written to a temporary file in the same
//     directory, fsynced, renamed over the old one, and the directory
//     fsynced. A reader sees the old file or the new one, never a mix.
//   - expires is absolute (RFC 3339, UTC): the last heartbeat plus the TTL.
//     An entry is live until then, as in the registry.
//   - Every entry is one the API would accept (api.ValidateName,
//     api.ValidateAddress, a TTL in [api.MinTTL, api.MaxTTL] in whole
//     milliseconds), with a version above zero; (name, address) pairs are
//     unique.
//
// Loading is all or nothing: a file that cannot be read or decoded, breaks
// an invariant, has another format, or was written by another region or
// address (a copied DATA_DIR) is logged and ignored, and the instance
// starts empty; the next write replaces it. Entries already expired are
// dropped. A failed write is logged and counted, never fatal: the
// registrations stay in memory and heartbeats bring them back after a
// restart, as they would without a DataDir.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"planet/discovery/api"
	"planet/internal/atomicfile"
)

// registrationsFormat is the "format" of the file this code writes.
const registrationsFormat = 1

// maxRegistrationsFile bounds what loading reads: 100,000 entries of the
// longest names and addresses fit.
const maxRegistrationsFile = 64 << 20

// ErrBadRegistrations is wrapped by every error decoding a registrations
// file.
var ErrBadRegistrations = errors.New("discovery: bad registrations file")

// RegistrationsPath returns where an instance with dataDir keeps its local
// registrations.
func RegistrationsPath(dataDir string) string {
	return filepath.Join(dataDir, "discovery", "registrations.json")
}

type registrationsFile struct {
	Format  int                 `json:"format"`
	Region  string              `json:"region"`
	Addr    string              `json:"addr"`
	Saved   time.Time           `json:"saved"`
	Entries []registrationEntry `json:"entries"`
}

type registrationEntry struct {
	Name    string    `json:"name"`
	Address string    `json:"address"`
	TTLms   int64     `json:"ttl_ms"`
	Version uint64    `json:"version"`
	Expires time.Time `json:"expires"`
}

// encodeRegistrations returns the file's content for entries, sorted by
// name and address.
func encodeRegistrations(region, addr string, entries []Entry, now time.Time) []byte {
	f := registrationsFile{Format: registrationsFormat, Region: region, Addr: addr, Saved: now.UTC(),
		Entries: make([]registrationEntry, len(entries))}
	for i, e := range entries {
		f.Entries[i] = registrationEntry{Name: e.Name, Address: e.Address, TTLms: e.TTL.Milliseconds(),
			Version: e.Version, Expires: e.LastSeen.Add(e.TTL).UTC()}
	}
	slices.SortFunc(f.Entries, func(a, b registrationEntry) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Address, b.Address)
	})
	b, err := json.Marshal(&f)
	if err != nil {
		panic(err) // only strings, numbers and times in range
	}
	return append(b, '\n')
}

// decodeRegistrations checks a registrations file written by region at
// addr and returns its entries live at now (LastSeen is expires minus the
// TTL) and how many had expired.
func decodeRegistrations(data []byte, region, addr string, now time.Time) (live []Entry, expired int, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRegistrations, fmt.Sprintf(format, args...))
	}
	if len(data) > maxRegistrationsFile {
		return nil, 0, bad("larger than %d bytes", maxRegistrationsFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f registrationsFile
	if err := dec.Decode(&f); err != nil {
		return nil, 0, bad("%v", err)
	}
	if err := dec.Decode(&json.RawMessage{}); err != io.EOF {
		return nil, 0, bad("data after the JSON object")
	}
	switch {
	case f.Format != registrationsFormat:
		return nil, 0, bad("format %d, want %d", f.Format, registrationsFormat)
	case f.Region != region || f.Addr != addr:
		return nil, 0, bad("written by region %q at %q, this is %q at %q", f.Region, f.Addr, region, addr)
	}
	seen := make(map[entryKey]bool, len(f.Entries))
	for i, re := range f.Entries {
		e, err := re.entry()
		if err != nil {
			return nil, 0, bad("entry %d: %v", i+1, err)
		}
		k := entryKey{e.Name, e.Address}
		if seen[k] {
			return nil, 0, bad("entry %d: %s at %s listed twice", i+1, e.Name, e.Address)
		}
		seen[k] = true
		if e.expired(now) {
			expired++
			continue
		}
		live = append(live, e)
	}
	return live, expired, nil
}

func (re registrationEntry) entry() (Entry, error) {
	if err := api.ValidateName(re.Name); err != nil {
		return Entry{}, err
	}
	if err := api.ValidateAddress(re.Address); err != nil {
		return Entry{}, err
	}
	ttl := time.Duration(re.TTLms) * time.Millisecond
	if re.TTLms < api.MinTTL.Milliseconds() || re.TTLms > api.MaxTTL.Milliseconds() {
		return Entry{}, fmt.Errorf("ttl_ms %d out of range [%v, %v]", re.TTLms, api.MinTTL, api.MaxTTL)
	}
	if re.Version == 0 {
		return Entry{}, errors.New("version 0")
	}
	if re.Expires.IsZero() {
		return Entry{}, errors.New("expires missing")
	}
	return Entry{Name: re.Name, Address: re.Address, TTL: ttl, Version: re.Version, LastSeen: re.Expires.Add(-ttl)}, nil
}

// saver writes the registrations file from one goroutine (run): soon after
// a registration or deregistration, whose reply waits for it (concurrent
// changes share one write), and every interval when only heartbeats have
// moved deadlines since the last write. A nil *saver persists nothing.
type saver struct {
	path     string
	interval time.Duration
	content  func() []byte // the file's content now
	log      *slog.Logger
	writes   func(result string)

	kick  chan struct{} // capacity 1: a write is wanted soon
	dirty atomic.Bool   // deadlines moved since the last write

	mu   sync.Mutex
	next chan struct{} // guarded by mu; closed when a write that starts after it was handed out ends
}

func newSaver(path string, interval time.Duration, content func() []byte, log *slog.Logger, writes func(string)) *saver {
	return &saver{path: path, interval: interval, content: content, log: log, writes: writes,
		kick: make(chan struct{}, 1), next: make(chan struct{})}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// saveSoon asks for a write of the state as it is now, and returns a
// channel closed when that write has ended (succeeded or failed).
func (p *saver) saveSoon() <-chan struct{} {
	if p == nil {
		return closedChan
	}
	p.mu.Lock()
	done := p.next
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return done
}

// touch notes that deadlines moved (a heartbeat, an expiry): written within
// an interval.
func (p *saver) touch() {
	if p != nil {
		p.dirty.Store(true)
	}
}

// run writes on demand and every interval until ctx ends, then writes once
// more if anything changed.
func (p *saver) run(ctx context.Context) {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			select {
			case <-p.kick:
				p.dirty.Store(true)
			default:
			}
			if p.dirty.Load() {
				p.write(&failing)
			}
			return
		case <-p.kick:
		case <-tick.C:
			if !p.dirty.Load() {
				continue
			}
		}
		p.write(&failing)
	}
}

func (p *saver) write(failing *bool) {
	p.mu.Lock()
	done := p.next
	p.next = make(chan struct{})
	p.mu.Unlock()
	defer close(done)
	p.dirty.Store(false)
	err := atomicfile.Write(p.path, p.content(), 0o600)
	switch {
	case err != nil:
		p.writes("error")
		if !*failing {
			p.log.Warn("cannot persist registrations; they will not survive a restart until this works (will keep trying)",
				"path", p.path, "err", err)
		}
		*failing = true
		p.dirty.Store(true) // try again at the next tick
	case *failing:
		p.writes("ok")
		p.log.Info("persisting registrations works again", "path", p.path)
		*failing = false
	default:
		p.writes("ok")
	}
}

// restoreRegistrations loads the registrations file into the registry; a
// missing file is a first start, anything wrong with it is logged and
// ignored.
func (s *Server) restoreRegistrations(path, addr string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		s.log.Warn("cannot create the data directory; registrations will not survive a restart", "err", err)
		return
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		s.log.Warn("cannot read the registrations file; starting empty", "path", path, "err", err)
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRegistrationsFile+1))
	if err != nil {
		s.log.Warn("cannot read the registrations file; starting empty", "path", path, "err", err)
		return
	}
	live, expired, err := decodeRegistrations(data, s.cfg.Region, addr, s.cfg.Now())
	if err != nil {
		s.log.Warn("ignoring the registrations file; starting empty", "path", path, "err", err)
		return
	}
	restored := s.registry.Restore(live)
	s.log.Info("restored registrations", "path", path, "restored", restored, "expired", expired,
		"over_capacity", len(live)-restored)
}
