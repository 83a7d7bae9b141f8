package discovery

import (
	"hash/fnv"
	"sort"
	"time"
)

// remoteEntry is an instance registered in another region, as this region
// knows it. Its address was rewritten by its own region before it left.
type remoteEntry struct {
	Name      string
	Address   string
	TTL       time.Duration
	Version   uint64
	Confirmed time.Time // last time its region vouched for it (this region's clock)
}

type entryKey struct{ name, address string }

// regionView is what this region knows of one other region's registry.
type regionView struct {
	entries     map[entryKey]remoteEntry
	tombstones  map[entryKey]tombstone // deletions newer than snapVersion
	snapVersion uint64                 // version of the newest snapshot applied
}

type tombstone struct {
	version uint64
	at      time.Time
}

func newRegionView() *regionView {
	return &regionView{entries: make(map[entryKey]remoteEntry), tombstones: make(map[entryKey]tombstone)}
}

// federation holds the views of all other regions. It is pure state with
// no locking and no I/O; the Server guards it with a mutex. The merge rules
// make deltas and snapshots commute: whatever order they arrive in, a view
// ends up holding exactly the entries whose latest mutation is a put.
//
//   - a put applies if its version is newer than the entry's, than any
//     tombstone for the key, and (for a key the view lacks) than the newest
//     snapshot, which already reflected every older mutation;
//   - a delete removes an entry older than it and leaves a tombstone until
//     a snapshot at least as new arrives;
//   - a snapshot older than the newest one applied is ignored; otherwise it
//     adds or updates its entries and removes every entry it lacks whose
//     version it covers.
type federation struct {
	minStale time.Duration // a federated entry expires after max(its TTL, minStale) without confirmation
	regions  map[string]*regionView
}

func newFederation(minStale time.Duration) *federation {
	return &federation{minStale: minStale, regions: make(map[string]*regionView)}
}

func (f *federation) view(region string) *regionView {
	v, ok := f.regions[region]
	if !ok {
		v = newRegionView()
		f.regions[region] = v
	}
	return v
}

// applyPut applies a put from region and reports whether the view changed.
func (f *federation) applyPut(region string, e remoteEntry) bool {
	v := f.view(region)
	k := entryKey{e.Name, e.Address}
	if cur, ok := v.entries[k]; ok {
		if e.Version < cur.Version {
			return false
		}
		if e.Version == cur.Version {
			cur.Confirmed = maxTime(cur.Confirmed, e.Confirmed)
			v.entries[k] = cur
			return false
		}
	} else if t, ok := v.tombstones[k]; (ok && t.version >= e.Version) || e.Version <= v.snapVersion {
		return false
	}
	delete(v.tombstones, k)
	v.entries[k] = e
	return true
}

// applyDelete applies a deletion from region and reports whether an entry
// was removed.
func (f *federation) applyDelete(region, name, address string, version uint64, now time.Time) bool {
	v := f.view(region)
	k := entryKey{name, address}
	cur, had := v.entries[k]
	switch {
	case had && cur.Version >= version:
		return false // the entry was re-registered after this deletion
	case !had && version <= v.snapVersion:
		return false // a snapshot already reflected this deletion
	}
	if t, ok := v.tombstones[k]; ok && t.version >= version {
		return false
	}
	delete(v.entries, k)
	v.tombstones[k] = tombstone{version: version, at: now}
	return had
}

// applySnapshot applies region's full state at version and returns how many
// entries were added or updated and how many were removed.
func (f *federation) applySnapshot(region string, version uint64, entries []remoteEntry) (upserted, removed int) {
	v := f.view(region)
	if version < v.snapVersion {
		return 0, 0
	}
	in := make(map[entryKey]bool, len(entries))
	for _, e := range entries {
		k := entryKey{e.Name, e.Address}
		in[k] = true
		cur, ok := v.entries[k]
		switch {
		case ok && e.Version < cur.Version:
			continue
		case ok && e.Version == cur.Version:
			cur.Confirmed = maxTime(cur.Confirmed, e.Confirmed)
			v.entries[k] = cur
			continue
		case !ok:
			if t, dead := v.tombstones[k]; dead && t.version >= e.Version {
				continue
			}
		}
		v.entries[k] = e
		upserted++
	}
	for k, cur := range v.entries {
		if !in[k] && cur.Version <= version {
			delete(v.entries, k)
			removed++
		}
	}
	v.snapVersion = version
	for k, t := range v.tombstones {
		if t.version <= version {
			delete(v.tombstones, k)
		}
	}
	return upserted, removed
}

// dropRegion forgets everything about region (it died or left) and returns
// how many entries were removed.
func (f *federation) dropRegion(region string) int {
	v, ok := f.regions[region]
	if !ok {
		return 0
	}
	delete(f.regions, region)
	return len(v.entries)
}

// digest summarises a region's entries: their count and an order-independent
// hash of (name, address, version). The origin computes the same over what
// it exports, so equal digests mean equal views.
func (f *federation) digest(region string) (count int, hash uint64) {
	v, ok := f.regions[region]
	if !ok {
		return 0, 0
	}
	for _, e := range v.entries {
		hash ^= entryHash(e.Name, e.Address, e.Version)
	}
	return len(v.entries), hash
}

// confirm marks every entry of region as vouched for at now.
func (f *federation) confirm(region string, now time.Time) {
	v, ok := f.regions[region]
	if !ok {
		return
	}
	for k, e := range v.entries {
		e.Confirmed = now
		v.entries[k] = e
	}
}

// expire removes entries not confirmed within max(TTL, minStale) and
// tombstones older than tombstoneTTL; it returns the number of entries
// removed.
func (f *federation) expire(now time.Time, tombstoneTTL time.Duration) int {
	removed := 0
	for _, v := range f.regions {
		for k, e := range v.entries {
			if now.Sub(e.Confirmed) > max(e.TTL, f.minStale) {
				delete(v.entries, k)
				removed++
			}
		}
		for k, t := range v.tombstones {
			if now.Sub(t.at) > tombstoneTTL {
				delete(v.tombstones, k)
			}
		}
	}
	return removed
}

// list returns the instances of a service in every known region, sorted
// by region and address.
func (f *federation) list(name string) []remoteInstance {
	var out []remoteInstance
	for region, v := range f.regions {
		for k, e := range v.entries {
			if k.name == name {
				out = append(out, remoteInstance{region, e})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].region != out[j].region {
			return out[i].region < out[j].region
		}
		return out[i].entry.Address < out[j].entry.Address
	})
	return out
}

type remoteInstance struct {
	region string
	entry  remoteEntry
}

// counts returns the number of entries per region.
func (f *federation) counts() map[string]int {
	out := make(map[string]int, len(f.regions))
	for r, v := range f.regions {
		out[r] = len(v.entries)
	}
	return out
}

func entryHash(name, address string, version uint64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(address))
	var b [8]byte
	for i := range b {
		b[i] = byte(version >> (8 * i))
	}
	h.Write(b[:])
	return h.Sum64()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
