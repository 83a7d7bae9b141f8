package discovery

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrRegistryFull is returned when a new registration would exceed the
// registry's capacity.
var ErrRegistryFull = errors.New("discovery: registry full")

// Entry is one instance in the local registry.
type Entry struct {
	Name     string
	Address  string // as registered (not rewritten)
	TTL      time.Duration
	Version  uint64    // changes when the entry is created or its TTL changes
	LastSeen time.Time // last registration or heartbeat
}

func (e Entry) expired(now time.Time) bool { return now.Sub(e.LastSeen) > e.TTL }

// Registry is this region's local registry: registrations with a TTL that
// heartbeats refresh. It is safe for concurrent use. Every mutation that
// other regions must learn about (create, TTL change, delete, expiry) gets
// a new version from a clock that never goes backwards, seeded from the wall
// clock so that versions keep growing across restarts.
type Registry struct {
	maxEntries int

	mu      sync.RWMutex
	entries map[string]map[string]Entry // guarded by mu; name -> address -> entry
	count   int                         // guarded by mu; number of entries
	version uint64                      // guarded by mu; the last version handed out
}

// NewRegistry returns an empty registry that holds at most maxEntries
// instances (zero means 100,000).
func NewRegistry(maxEntries int) *Registry {
	if maxEntries <= 0 {
		maxEntries = 100_000
	}
	return &Registry{maxEntries: maxEntries, entries: make(map[string]map[string]Entry)}
}

// nextVersionLocked returns a version greater than every earlier one and at
// least now in Unix nanoseconds.
func (r *Registry) nextVersionLocked(now time.Time) uint64 {
	r.version = max(r.version+1, uint64(now.UnixNano()))
	return r.version
}

// Put registers or refreshes an instance. changed reports whether other
// regions must be told (new entry or new TTL); a plain heartbeat is not a
// change.
func (r *Registry) Put(name, address string, ttl time.Duration, now time.Time) (e Entry, changed bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byAddr := r.entries[name]
	e, ok := byAddr[address]
	if !ok {
		if r.count >= r.maxEntries {
			return Entry{}, false, ErrRegistryFull
		}
		if byAddr == nil {
			byAddr = make(map[string]Entry)
			r.entries[name] = byAddr
		}
		r.count++
	}
	if !ok || e.TTL != ttl {
		e = Entry{Name: name, Address: address, TTL: ttl, Version: r.nextVersionLocked(now)}
		changed = true
	}
	e.LastSeen = now
	byAddr[address] = e
	return e, changed, nil
}

// Restore adds entries as they are (version and last heartbeat kept), for
// a restart: it skips instances already registered and stops at capacity,
// and returns how many it added. Later versions stay above the restored
// ones.
func (r *Registry) Restore(entries []Entry) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range entries {
		if _, ok := r.entries[e.Name][e.Address]; ok {
			continue
		}
		if r.count >= r.maxEntries {
			break
		}
		byAddr := r.entries[e.Name]
		if byAddr == nil {
			byAddr = make(map[string]Entry)
			r.entries[e.Name] = byAddr
		}
		byAddr[e.Address] = e
		r.count++
		r.version = max(r.version, e.Version)
		n++
	}
	return n
}

// Delete removes an instance. It returns the removed entry with the version
// of the deletion, and false if there was no such instance.
func (r *Registry) Delete(name, address string, now time.Time) (Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name][address]
	if !ok {
		return Entry{}, false
	}
	r.removeLocked(name, address)
	e.Version = r.nextVersionLocked(now)
	return e, true
}

// Expire removes the instances not refreshed within their TTL and returns
// them, each with the version of its deletion.
func (r *Registry) Expire(now time.Time) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gone []Entry
	for name, byAddr := range r.entries {
		for addr, e := range byAddr {
			if e.expired(now) {
				r.removeLocked(name, addr)
				e.Version = r.nextVersionLocked(now)
				gone = append(gone, e)
			}
		}
	}
	return gone
}

func (r *Registry) removeLocked(name, address string) {
	byAddr := r.entries[name]
	delete(byAddr, address)
	if len(byAddr) == 0 {
		delete(r.entries, name)
	}
	r.count--
}

// List returns the live instances of a service, sorted by address.
func (r *Registry) List(name string) []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Entry, 0, len(r.entries[name]))
	for _, e := range r.entries[name] {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Address, b.Address) })
	return out
}

// Snapshot returns every instance and the registry's current version: no
// mutation with a version at or below it is missing from the snapshot.
func (r *Registry) Snapshot() (entries []Entry, version uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	entries = make([]Entry, 0, r.count)
	for _, byAddr := range r.entries {
		for _, e := range byAddr {
			entries = append(entries, e)
		}
	}
	return entries, r.version
}

// Len returns the number of instances.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}
