package waltailer

import (
	"hash/maphash"
	"strconv"
	"time"

	"planet/internal/hlc"
	"planet/internal/repl"
	"planet/storage/wal"
)

// batch is the records gathered for one REPL.APPLY to a remote region:
// each (key, version) once, whichever local WALs hold it.
type batch struct {
	maxRecords int
	maxBytes   int

	items   []repl.Item
	bytes   int                   // of the command, as sent (RESP)
	walSize int                   // of the records, as in the WAL
	seen    map[recordID]struct{} // in this batch
	recent  *recentSet            // acknowledged lately
	oldest  time.Time             // wall time of the oldest version
	resent  int                   // records from snapshots
	dups    int                   // copies skipped
	buf     []byte
}

// recordID identifies a (key, version): two seeded 64-bit hashes, so
// that telling two records apart fails with probability 2^-128.
type recordID [2]uint64

var idSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func idOf(key []byte, v hlc.Version, buf []byte) (recordID, []byte) {
	buf = v.AppendText(append(buf[:0], key...))
	buf = append(buf, byte(len(key)), byte(len(key)>>8), byte(len(key)>>16))
	return recordID{maphash.Bytes(idSeeds[0], buf), maphash.Bytes(idSeeds[1], buf)}, buf
}

func newBatch(maxRecords, maxBytes int, recent *recentSet) *batch {
	return &batch{maxRecords: maxRecords, maxBytes: maxBytes, recent: recent, seen: make(map[recordID]struct{})}
}

func (b *batch) reset() {
	b.items = b.items[:0]
	b.bytes, b.walSize, b.resent, b.dups = 0, 0, 0, 0
	b.oldest = time.Time{}
	clear(b.seen)
}

func (b *batch) empty() bool { return len(b.items) == 0 }

func (b *batch) full() bool { return len(b.items) >= b.maxRecords || b.bytes >= b.maxBytes }

// add adds a copy of rec, of size bytes in the WAL, unless it is a copy
// of a record in the batch or acknowledged lately.
func (b *batch) add(rec *wal.Record, size int, resend bool) {
	var id recordID
	id, b.buf = idOf(rec.Key, rec.Version, b.buf)
	if _, ok := b.seen[id]; ok || b.recent.has(id) {
		b.dups++
		return
	}
	b.seen[id] = struct{}{}
	it := repl.Item{Key: append([]byte(nil), rec.Key...), Version: rec.Version, Delete: rec.Op == wal.Del}
	if rec.Op != wal.Del {
		it.Value = append([]byte{}, rec.Value...)
	}
	b.items = append(b.items, it)
	b.bytes += applyItemSize(&it)
	b.walSize += size
	if w := rec.Version.WallTime(); b.oldest.IsZero() || w.Before(b.oldest) {
		b.oldest = w
	}
	if resend {
		b.resent++
	}
}

// committed remembers the batch's records as acknowledged.
func (b *batch) committed() {
	for id := range b.seen {
		b.recent.add(id)
	}
}

// commandSize is the size in bytes of the REPL.APPLY of the batch on the
// wire (RESP), the bytes that cross the WAN.
func (b *batch) commandSize() int {
	n := 1 + len(strconv.Itoa(1+b.args())) + 2 + bulkSize(len(repl.Apply))
	return n + b.bytes
}

func (b *batch) args() int {
	n := 0
	for _, it := range b.items {
		n += 3
		if !it.Delete {
			n++
		}
	}
	return n
}

// bulkSize is the RESP size of a bulk string of n bytes: $n\r\n...\r\n.
func bulkSize(n int) int { return 1 + len(strconv.Itoa(n)) + 2 + n + 2 }

// applyItemSize is the RESP size of the arguments of one item.
func applyItemSize(it *repl.Item) int {
	n := bulkSize(3) + bulkSize(len(it.Key)) + bulkSize(versionLen(it.Version))
	if !it.Delete {
		n += bulkSize(len(it.Value))
	}
	return n
}

func versionLen(v hlc.Version) int {
	var buf [96]byte
	return len(v.AppendText(buf[:0]))
}

// recentSet remembers the ids of records acknowledged lately, so that the
// copies of a record in the other local WALs are not sent again: two
// generations of at most half its capacity each, the older dropped when
// the newer fills. Its memory is bounded; a copy read after its record
// fell out is sent again, which applying tolerates.
type recentSet struct {
	half     int
	cur, old map[recordID]struct{}
}

func newRecentSet(capacity int) *recentSet {
	h := max(capacity/2, 1)
	return &recentSet{half: h, cur: make(map[recordID]struct{}, h), old: make(map[recordID]struct{})}
}

func (r *recentSet) has(id recordID) bool {
	if _, ok := r.cur[id]; ok {
		return true
	}
	_, ok := r.old[id]
	return ok
}

func (r *recentSet) add(id recordID) {
	if len(r.cur) >= r.half {
		r.old, r.cur = r.cur, make(map[recordID]struct{}, r.half)
	}
	r.cur[id] = struct{}{}
}
