package waltailer

import (
	"errors"
	"sort"
	"sync"

	"planet/storage/wal"
)

// walHead reads one local WAL to its end, ahead of every shipper, and
// counts the records of this region in it: the lag of a remote region is
// what the head counted past that region's cursor. It keeps a mark (the
// position after a record and the counts up to there) per record of this
// region past the lowest cursor, at most maxMarks of them: past that it
// keeps every other one, and lags are then rounded down to a mark.
type walHead struct {
	name, dir, self string

	mu     sync.Mutex
	f      *wal.Follower
	pos    wal.Position // end of what was read
	count  uint64       // records of this region read
	bytes  uint64       // their size in the WAL
	marks  []headMark   // ascending
	step   uint64       // a mark every step records
	err    error
	rec    wal.Record
	opened bool
}

type headMark struct {
	pos          wal.Position
	count, bytes uint64
}

const maxMarks = 1 << 16

func newWALHead(name, dir, self string, start wal.Position) *walHead {
	return &walHead{name: name, dir: dir, self: self, pos: start, step: 1}
}

// poll reads what was appended since the last poll, at most limit records.
func (h *walHead) poll(limit int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f == nil {
		if err := h.openLocked(); err != nil {
			h.err = err
			return
		}
	}
	for range limit {
		err := h.f.Next(&h.rec)
		if errors.Is(err, wal.ErrNoMore) {
			h.pos = h.f.Position()
			h.err = nil
			return
		}
		if err != nil {
			h.f.Close()
			h.f, h.err = nil, err
			if errors.Is(err, wal.ErrPositionLost) {
				h.pos.Offset = 0
			}
			return
		}
		h.pos = h.f.Position()
		if h.rec.Origin != h.self {
			continue
		}
		h.count++
		h.bytes += uint64(recordSize(&h.rec))
		if h.count%h.step == 0 {
			h.marks = append(h.marks, headMark{h.pos, h.count, h.bytes})
			if len(h.marks) >= maxMarks {
				h.thinLocked()
			}
		}
	}
}

// openLocked opens the follower at h.pos, or at the oldest log that is
// left if compaction removed it.
func (h *walHead) openLocked() error {
	pos := h.pos
	if pos.Generation == 0 || !h.opened {
		segs, err := wal.List(h.dir)
		if err != nil {
			return err
		}
		oldest := uint64(0)
		for _, s := range segs {
			if s.Kind == wal.KindLog && (oldest == 0 || s.Gen < oldest) {
				oldest = s.Gen
			}
		}
		if oldest == 0 {
			return errors.New("no WAL yet")
		}
		if pos.Generation < oldest {
			pos = wal.Position{Generation: oldest}
		}
	}
	f, err := wal.OpenAt(h.dir, pos)
	if errors.Is(err, wal.ErrGenerationGone) {
		h.pos, h.opened = wal.Position{}, false
		return err
	}
	if err != nil {
		return err
	}
	h.f, h.pos, h.opened = f, pos, true
	return nil
}

func (h *walHead) thinLocked() {
	kept := h.marks[:0]
	for i, m := range h.marks {
		if i%2 == 1 {
			kept = append(kept, m)
		}
	}
	h.marks = kept
	h.step *= 2
}

// behind returns the records of this region, and their bytes, that the
// head read past pos.
func (h *walHead) behind(pos wal.Position) (records, bytes uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos.Compare(h.pos) >= 0 {
		return 0, 0
	}
	i := sort.Search(len(h.marks), func(i int) bool { return h.marks[i].pos.Compare(pos) > 0 })
	var c, b uint64
	if i > 0 {
		c, b = h.marks[i-1].count, h.marks[i-1].bytes
	}
	return h.count - c, h.bytes - b
}

// prune drops the marks before pos, the lowest cursor of every region.
func (h *walHead) prune(pos wal.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := sort.Search(len(h.marks), func(i int) bool { return h.marks[i].pos.Compare(pos) > 0 })
	if i > 1 {
		// Keep the mark at or before pos: behind(pos) needs it.
		h.marks = append(h.marks[:0], h.marks[i-1:]...)
	}
}

// position returns the end of what the head read.
func (h *walHead) position() wal.Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

func (h *walHead) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.f != nil {
		h.f.Close()
		h.f = nil
	}
}

// recordSize is the size of rec in the WAL.
func recordSize(rec *wal.Record) int {
	var buf [512]byte
	return len(wal.AppendRecord(buf[:0], rec))
}
