package waltailer

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"planet/internal/hlc"
	"planet/internal/peer"
	"planet/internal/repl"
	"planet/internal/resp"
	"planet/storage/wal"
)

func rec(key, value, origin string, ms uint64) *wal.Record {
	r := &wal.Record{Op: wal.Put, Key: []byte(key), Value: []byte(value), Origin: origin,
		Version: hlc.Version{Time: ms << 16, Node: origin + "-1"}}
	if value == "" {
		r.Op, r.Value = wal.Del, nil
	}
	return r
}

// writeLog appends records to dir's log of gen and returns the position
// after each.
func writeLog(t *testing.T, dir string, gen uint64, recs ...*wal.Record) []wal.Position {
	t.Helper()
	path := filepath.Join(dir, wal.LogName(gen))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	off := info.Size()
	var out []wal.Position
	for _, r := range recs {
		b := wal.AppendRecord(nil, r)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		off += int64(len(b))
		out = append(out, wal.Position{Generation: gen, Offset: off})
	}
	return out
}

func newTestSource(dir string) *source {
	return &source{name: "storage-1", dir: dir, self: "sfo", region: "nyc", log: slog.New(slog.DiscardHandler),
		m: newMetrics(), fresh: true}
}

// TestSourceShipsOwnRecordsOnly: a source gathers the records of its own
// region, skips the others', and moves its cursor only when acknowledged.
func TestSourceShipsOwnRecordsOnly(t *testing.T) {
	dir := t.TempDir()
	pos := writeLog(t, dir, 1, rec("a", "1", "sfo", 1), rec("b", "2", "nyc", 2), rec("c", "", "sfo", 3))
	s := newTestSource(dir)
	b := newBatch(100, 1<<20, newRecentSet(16))
	if _, err := s.gather(b, 1000); err != nil {
		t.Fatal(err)
	}
	if len(b.items) != 2 || string(b.items[0].Key) != "a" || !b.items[1].Delete || string(b.items[1].Key) != "c" {
		t.Fatalf("gathered %+v, want a and the tombstone of c", b.items)
	}
	if want := int(pos[0].Offset + pos[2].Offset - pos[1].Offset); b.walSize != want {
		t.Fatalf("WAL size of the batch %d, want %d", b.walSize, want)
	}
	if s.acked != (wal.Position{}) {
		t.Fatalf("cursor moved before the acknowledgement: %v", s.acked)
	}
	s.acknowledged()
	if s.acked != pos[2] {
		t.Fatalf("cursor %v, want %v", s.acked, pos[2])
	}
	b.committed()
	b.reset()
	// A copy of an acknowledged record (another WAL's) is skipped.
	writeLog(t, dir, 1, rec("a", "1", "sfo", 1), rec("d", "4", "sfo", 5))
	if _, err := s.gather(b, 1000); err != nil {
		t.Fatal(err)
	}
	if len(b.items) != 1 || string(b.items[0].Key) != "d" || b.dups != 1 {
		t.Fatalf("gathered %+v (dups %d), want d alone", b.items, b.dups)
	}
}

// TestSourceResendsSnapshot: when compaction removed the log a cursor
// needs, the source resends the newest snapshot's records of its region,
// then follows that generation from its start; the cursor moves there
// only once the batch is acknowledged.
func TestSourceResendsSnapshot(t *testing.T) {
	dir := t.TempDir()
	err := wal.WriteSnapshot(dir, 3, func(emit func(*wal.Record) error) error {
		for _, r := range []*wal.Record{rec("a", "1", "sfo", 1), rec("b", "2", "ams", 2), rec("c", "", "sfo", 3)} {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pos := writeLog(t, dir, 3, rec("e", "5", "sfo", 9))
	s := newTestSource(dir)
	s.fresh, s.acked, s.read = false, wal.Position{Generation: 1, Offset: 100}, wal.Position{Generation: 1, Offset: 100}
	b := newBatch(100, 1<<20, newRecentSet(16))
	if _, err := s.gather(b, 1000); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, it := range b.items {
		keys = append(keys, string(it.Key))
	}
	if fmt.Sprint(keys) != "[a c e]" || b.resent != 2 {
		t.Fatalf("gathered %v (resent %d), want the snapshot's a, c then the log's e", keys, b.resent)
	}
	if got := s.m.generationsGone.Value("nyc"); got != 1 {
		t.Errorf("generations gone counted %v, want 1", got)
	}
	s.acknowledged()
	if s.acked != pos[0] {
		t.Fatalf("cursor %v after the acknowledgement, want %v", s.acked, pos[0])
	}
}

// TestSourceFreshAfterCompaction: a source without a cursor ships the
// WAL from its oldest log, through that log's snapshot if older logs are
// gone.
func TestSourceFreshAfterCompaction(t *testing.T) {
	dir := t.TempDir()
	wal.WriteSnapshot(dir, 2, func(emit func(*wal.Record) error) error { return emit(rec("a", "1", "sfo", 1)) })
	writeLog(t, dir, 2, rec("b", "1", "sfo", 2))
	s := newTestSource(dir)
	b := newBatch(100, 1<<20, newRecentSet(16))
	if _, err := s.gather(b, 1000); err != nil {
		t.Fatal(err)
	}
	if len(b.items) != 2 {
		t.Fatalf("gathered %d records, want the snapshot's and the log's", len(b.items))
	}
}

// TestBatchCommandSize: the size the tailer counts as sent is the RESP
// encoding of the REPL.APPLY it sends.
func TestBatchCommandSize(t *testing.T) {
	b := newBatch(100, 1<<20, newRecentSet(16))
	b.add(rec("key", "some value", "sfo", 1), 40, false)
	b.add(rec("gone", "", "sfo", 2), 30, false)
	b.add(rec("key", "some value", "sfo", 1), 40, false) // a copy
	args := repl.AppendApply(nil, b.items)
	enc := resp.AppendArray(nil, len(args))
	for _, a := range args {
		enc = resp.AppendBulk(enc, a)
	}
	if got := b.commandSize(); got != len(enc) {
		t.Fatalf("commandSize %d, encoded %d", got, len(enc))
	}
	if len(b.items) != 2 || b.dups != 1 {
		t.Fatalf("items %d dups %d", len(b.items), b.dups)
	}
}

// TestRecentSetBounded: the set keeps at most its capacity (two halves)
// and forgets the oldest half first.
func TestRecentSetBounded(t *testing.T) {
	r := newRecentSet(4)
	for i := range 10 {
		r.add(recordID{uint64(i), 0})
	}
	if len(r.cur)+len(r.old) > 4 {
		t.Fatalf("holds %d ids, capacity 4", len(r.cur)+len(r.old))
	}
	if !r.has(recordID{9, 0}) || r.has(recordID{0, 0}) {
		t.Fatal("keeps the oldest instead of the newest")
	}
}

// TestHeadLag: the head counts the region's records past a cursor, also
// after thinning its marks.
func TestHeadLag(t *testing.T) {
	dir := t.TempDir()
	var recs []*wal.Record
	for i := range 100 {
		origin := "sfo"
		if i%4 == 3 {
			origin = "ams"
		}
		recs = append(recs, rec(fmt.Sprintf("k%03d", i), "v", origin, uint64(i+1)))
	}
	pos := writeLog(t, dir, 1, recs...)
	h := newWALHead("storage-1", dir, "sfo", wal.Position{})
	h.poll(1000)
	if h.position() != pos[99] {
		t.Fatalf("head at %v, want %v", h.position(), pos[99])
	}
	n, by := h.behind(pos[49]) // records 50..99: 50 of which 13 are ams's
	var want uint64
	for _, r := range recs[50:] {
		if r.Origin == "sfo" {
			want += uint64(recordSize(r))
		}
	}
	if n != 37 || by != want {
		t.Fatalf("behind %d records %d bytes, want 37 records %d bytes", n, by, want)
	}
	if n, _ := h.behind(wal.Position{}); n != 75 {
		t.Fatalf("behind the start: %d, want 75", n)
	}
	if n, _ := h.behind(pos[99]); n != 0 {
		t.Fatalf("behind the head: %d", n)
	}
	h.prune(pos[49])
	if n, _ := h.behind(pos[49]); n != 37 {
		t.Fatalf("after pruning: behind %d, want 37", n)
	}
	h.thinLocked()
	if n, _ := h.behind(pos[98]); n > 2 {
		t.Fatalf("after thinning, behind %d near the head", n)
	}
}

// TestRejected: a batch counts as rejected only when every replica
// answered an ERR; NOQUORUM or a failed connection is transient.
func TestRejected(t *testing.T) {
	errNo := &peer.ReplyError{Msg: "NOQUORUM region apply: ..."}
	errBad := &peer.ReplyError{Msg: "ERR record 0: version is 1h ahead"}
	for _, tc := range []struct {
		errs []error
		want bool
	}{
		{[]error{errBad, errBad}, true},
		{[]error{errBad, errNo}, false},
		{[]error{errBad, peer.ErrUnavailable}, false},
		{[]error{errNoReplicas}, false},
	} {
		var cs []error
		for _, e := range tc.errs {
			cs = append(cs, fmt.Errorf("addr: %w", classify(e)))
		}
		if got := rejected(joinErrors(cs)); got != tc.want {
			t.Errorf("%v: rejected %v, want %v", tc.errs, got, tc.want)
		}
	}
}
