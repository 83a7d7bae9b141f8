package discovery

import (
	"hash/fnv"
	"slices"
	"strings"
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
	entries     map[string]map[string]remoteEntry // name -> address -> entry
	count       int                               // number of entries
	tombstones  map[entryKey]tombstone            // deletions newer than snapVersion
	snapVersion uint64                            // version of the newest snapshot applied
}

func (v *regionView) get(k entryKey) (remoteEntry, bool) {
	e, ok := v.entries[k.name][k.address]
	return e, ok
}

func (v *regionView) set(k entryKey, e remoteEntry) {
	byAddr, ok := v.entries[k.name]
	if !ok {
		byAddr = make(map[string]remoteEntry)
		v.entries[k.name] = byAddr
	}
	if _, ok := byAddr[k.address]; !ok {
		v.count++
	}
	byAddr[k.address] = e
}

func (v *regionView) remove(k entryKey) bool {
	byAddr, ok := v.entries[k.name]
	if !ok {
		return false
	}
	if _, ok := byAddr[k.address]; !ok {
		return false
	}
	delete(byAddr, k.address)
	if len(byAddr) == 0 {
		delete(v.entries, k.name)
	}
	v.count--
	return true
}

// each calls f for every entry; f may remove the entry it is given.
func (v *regionView) each(f func(k entryKey, e remoteEntry)) {
	for name, byAddr := range v.entries {
		for addr, e := range byAddr {
			f(entryKey{name, addr}, e)
		}
	}
}

type tombstone struct {
	version uint64
	at      time.Time
}

func newRegionView() *regionView {
	return &regionView{entries: make(map[string]map[string]remoteEntry), tombstones: make(map[entryKey]tombstone)}
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
	if cur, ok := v.get(k); ok {
		if e.Version < cur.Version {
			return false
		}
		if e.Version == cur.Version {
			cur.Confirmed = maxTime(cur.Confirmed, e.Confirmed)
			v.set(k, cur)
			return false
		}
	} else if t, ok := v.tombstones[k]; (ok && t.version >= e.Version) || e.Version <= v.snapVersion {
		return false
	}
	delete(v.tombstones, k)
	v.set(k, e)
	return true
}

// applyDelete applies a deletion from region and reports whether an entry
// was removed.
func (f *federation) applyDelete(region, name, address string, version uint64, now time.Time) bool {
	v := f.view(region)
	k := entryKey{name, address}
	cur, had := v.get(k)
	switch {
	case had && cur.Version >= version:
		return false // the entry was re-registered after this deletion
	case !had && version <= v.snapVersion:
		return false // a snapshot already reflected this deletion
	}
	if t, ok := v.tombstones[k]; ok && t.version >= version {
		return false
	}
	v.remove(k)
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
		cur, ok := v.get(k)
		switch {
		case ok && e.Version < cur.Version:
			continue
		case ok && e.Version == cur.Version:
			cur.Confirmed = maxTime(cur.Confirmed, e.Confirmed)
			v.set(k, cur)
			continue
		case !ok:
			if t, dead := v.tombstones[k]; dead && t.version >= e.Version {
				continue
			}
		}
		v.set(k, e)
		upserted++
	}
	v.each(func(k entryKey, cur remoteEntry) {
		if !in[k] && cur.Version <= version {
			v.remove(k)
			removed++
		}
	})
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
	return v.count
}

// digest summarises a region's entries: their count and an order-independent
// hash of (name, address, version). The origin computes the same over what
// it exports, so equal digests mean equal views.
func (f *federation) digest(region string) (count int, hash uint64) {
	v, ok := f.regions[region]
	if !ok {
		return 0, 0
	}
	v.each(func(_ entryKey, e remoteEntry) { hash ^= entryHash(e.Name, e.Address, e.Version) })
	return v.count, hash
}

// confirm marks every entry of region as vouched for at now.
func (f *federation) confirm(region string, now time.Time) {
	v, ok := f.regions[region]
	if !ok {
		return
	}
	for _, byAddr := range v.entries {
		for addr, e := range byAddr {
			e.Confirmed = now
			byAddr[addr] = e
		}
	}
}

// expire removes entries not confirmed within max(TTL, minStale) and
// tombstones older than tombstoneTTL; it returns the number of entries
// removed.
func (f *federation) expire(now time.Time, tombstoneTTL time.Duration) int {
	removed := 0
	for _, v := range f.regions {
		v.each(func(k entryKey, e remoteEntry) {
			if now.Sub(e.Confirmed) > max(e.TTL, f.minStale) {
				v.remove(k)
				removed++
			}
		})
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
		for _, e := range v.entries[name] {
			out = append(out, remoteInstance{region, e})
		}
	}
	slices.SortFunc(out, func(a, b remoteInstance) int {
		if c := strings.Compare(a.region, b.region); c != 0 {
			return c
		}
		return strings.Compare(a.entry.Address, b.entry.Address)
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
		out[r] = v.count
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
