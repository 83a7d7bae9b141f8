package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"planet/storage/wal"
)

// replayBatch is how many WAL records recovery applies per goleveldb batch.
const replayBatch = 4096

// recover loads the engine's metadata and replays the WAL past the last
// applied point (run by Open, before the committer starts).
func (e *Engine) recover() error {
	start := time.Now()
	if err := removeTemp(e.cfg.Dir); err != nil {
		return err
	}
	segs, err := wal.List(e.cfg.Dir)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	if err := e.loadMeta(); err != nil {
		return err
	}
	var logs []wal.Segment
	var snapshot *wal.Segment
	for i, s := range segs {
		if s.Kind == wal.KindLog {
			logs = append(logs, s)
		} else {
			snapshot = &segs[i]
		}
	}
	from, applied, err := e.replayStart()
	if err != nil {
		return err
	}
	st := newStager(e.db, e.cache)
	r := &replayer{e: e, st: st, started: start, lastReport: start}
	if !applied && len(segs) > 0 {
		// A new or rebuilt state database: start from the newest snapshot.
		e.log.Warn("storage: no applied point in the state database; rebuilding it from the WAL")
		from = wal.Position{Generation: 1}
		if snapshot != nil {
			if err := r.replaySnapshot(*snapshot); err != nil {
				return err
			}
			from = wal.Position{Generation: snapshot.Gen}
		} else if len(logs) > 0 {
			from = wal.Position{Generation: logs[0].Gen}
		}
	}
	e.gen = max(from.Generation, 1)
	end := int64(0) // where the records of the log of e.gen end
	for _, s := range logs {
		if s.Gen < from.Generation {
			continue
		}
		offset := int64(0)
		if s.Gen == from.Generation {
			offset = from.Offset
		}
		if ok, err := recordEnd(s, offset); err != nil {
			return err
		} else if !ok {
			// The state database was written ahead of an fsync that a
			// machine crash then lost (durability interval or never):
			// the applied point is past the records the log holds, in
			// its padding or beyond its end. Replaying the whole log is
			// safe: a version already applied is not applied again.
			e.log.Warn("storage: applied point is past the records of the WAL; replaying all of it",
				"path", s.Path, "applied", offset, "size", s.Size)
			offset = 0
		}
		var err error
		if end, err = r.replayLog(s, offset); err != nil {
			return err
		}
		e.gen = s.Gen
	}
	if len(logs) > 0 && from.Generation > logs[len(logs)-1].Gen {
		e.log.Warn("storage: applied point is past every WAL generation", "generation", from.Generation)
	}
	w, err := wal.OpenWriterWith(filepath.Join(e.cfg.Dir, wal.LogName(e.gen)), end, wal.Options{FS: e.cfg.FS})
	if err != nil {
		return fmt.Errorf("storage: open WAL: %w", err)
	}
	w.Prealloc = walPrealloc
	e.wal = w
	e.applied = wal.Position{Generation: e.gen, Offset: w.Size()}
	if err := r.flush(wal.Position{Generation: e.gen, Offset: w.Size()}); err != nil {
		return err
	}
	e.log.Info("storage: recovered", "generation", e.gen, "wal_bytes", w.Size(), "replayed", r.records,
		"keys", e.live, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func removeTemp(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	for _, d := range ents {
		if strings.HasSuffix(d.Name(), ".tmp") {
			if err := os.Remove(filepath.Join(dir, d.Name())); err != nil {
				return fmt.Errorf("storage: %w", err)
			}
		}
	}
	return nil
}

// loadMeta reads the counters, clock and digest from the state database.
func (e *Engine) loadMeta() error {
	get := func(k []byte) (uint64, bool, error) {
		b, err := e.db.Get(k, nil)
		if errors.Is(err, leveldb.ErrNotFound) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, fmt.Errorf("storage: read state: %w", err)
		}
		if len(b) != 8 {
			return 0, false, fmt.Errorf("storage: state database: malformed %s", k)
		}
		return binary.BigEndian.Uint64(b), true, nil
	}
	live, _, err := get(metaCount)
	if err != nil {
		return err
	}
	e.live = int64(live)
	if e.maxTime, _, err = get(metaClock); err != nil {
		return err
	}
	for b := range e.digest {
		if e.digest[b], _, err = get(digestKey(b)); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) replayStart() (wal.Position, bool, error) {
	b, err := e.db.Get(metaApplied, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return wal.Position{}, false, nil
	}
	if err != nil {
		return wal.Position{}, false, fmt.Errorf("storage: read state: %w", err)
	}
	p, ok := decodePosition(b)
	if !ok {
		return wal.Position{}, false, errors.New("storage: state database: malformed applied point")
	}
	return p, true, nil
}

type replayer struct {
	e          *Engine
	st         *stager
	n          int // records staged since the last flush
	records    int
	started    time.Time
	lastReport time.Time
}

// walPrealloc is how far the WAL writer keeps padding ahead of its records
// (see wal.Writer.Prealloc).
const walPrealloc = 1 << 20

// recordEnd reports whether offset is where a record of log s ends (or 0):
// the byte before it is a record's '\n', not padding or past the file.
func recordEnd(s wal.Segment, offset int64) (bool, error) {
	if offset == 0 {
		return true, nil
	}
	if offset > s.Size {
		return false, nil
	}
	f, err := os.Open(s.Path)
	if err != nil {
		return false, fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	var b [1]byte
	if _, err := f.ReadAt(b[:], offset-1); err != nil {
		return false, fmt.Errorf("storage: %w", err)
	}
	return b[0] == '\n', nil
}

// replaySnapshot applies the records of a snapshot, which is written
// atomically: any corruption is an error.
func (r *replayer) replaySnapshot(s wal.Segment) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	rd := wal.NewReader(f, 0)
	var rec wal.Record
	for {
		err := rd.Next(&rec)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storage: snapshot %s: %w", s.Path, err)
		}
		if err := r.stage(&rec, wal.Position{}); err != nil {
			return err
		}
	}
}

// replayLog applies the records of log s from offset on, read with a
// wal.Follower (the reader the WAL tailer uses), and returns where they
// end. A torn or corrupt tail is cut off at the last good record.
func (r *replayer) replayLog(s wal.Segment, offset int64) (int64, error) {
	f, err := wal.OpenAt(r.e.cfg.Dir, wal.Position{Generation: s.Gen, Offset: offset})
	if err != nil {
		return 0, fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	var rec wal.Record
	confirmed := false // an end of the records was read twice (see ErrNoMore below)
	for {
		pos := f.Position()
		err := f.Next(&rec)
		var corrupt *wal.CorruptError
		switch {
		case f.Position().Generation != s.Gen:
			// The follower moved on to the next generation (its first
			// record, or nothing yet): s ends at pos; the next log is
			// replayed on its own.
			return pos.Offset, r.endLog(s, pos.Offset)
		case err == nil:
			if err := r.stage(&rec, f.Position()); err != nil {
				return 0, err
			}
			confirmed = false
		case errors.Is(err, wal.ErrTorn):
			return pos.Offset, r.cut(s, pos.Offset, err)
		case errors.Is(err, wal.ErrNoMore) && !confirmed:
			// A line that looks corrupt at the end of a log still being
			// written is reported on the second read only (it may have
			// raced a write): read once more.
			confirmed = true
		case errors.Is(err, wal.ErrNoMore):
			return pos.Offset, r.endLog(s, pos.Offset)
		case errors.As(err, &corrupt):
			return corrupt.Offset, r.cut(s, corrupt.Offset, err)
		default:
			return 0, fmt.Errorf("storage: replay %s: %w", s.Path, err)
		}
	}
}

// stage applies one replayed record; pos, if not zero, is the applied
// point after it.
func (r *replayer) stage(rec *wal.Record, pos wal.Position) error {
	m := Mutation{Key: rec.Key, Value: rec.Value, Version: rec.Version, Origin: rec.Origin, Delete: rec.Op == wal.Del}
	if _, _, err := r.st.stage(&m); err != nil {
		return err
	}
	// The stager keeps the slices: the reader reuses its buffers.
	rec.Key, rec.Value = nil, nil
	r.n++
	r.records++
	if r.n >= replayBatch {
		return r.flush(pos)
	}
	return nil
}

// endLog records that the records of log s end at end, warning if anything
// but padding follows them.
func (r *replayer) endLog(s wal.Segment, end int64) error {
	f, err := os.Open(s.Path)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	defer f.Close()
	if err := r.checkPadding(s, f, end); err != nil {
		return err
	}
	return r.flush(wal.Position{Generation: s.Gen, Offset: end})
}

// checkPadding warns if the log s has anything but padding after its
// records end: a zeroed block in the middle of the log, which makes the
// records after it unreadable. The writer cuts them off like a corrupt tail.
func (r *replayer) checkPadding(s wal.Segment, f *os.File, end int64) error {
	buf := make([]byte, 64<<10)
	for off := end; ; {
		n, err := f.ReadAt(buf, off)
		for i, b := range buf[:n] {
			if b != 0 {
				r.e.log.Warn("storage: WAL has data after zero bytes; the records after them are lost",
					"path", s.Path, "records_end", end, "data_at", off+int64(i), "dropped_bytes", s.Size-end)
				return nil
			}
		}
		off += int64(n)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storage: %w", err)
		}
	}
}

// cut truncates a log at the end of its last good record.
func (r *replayer) cut(s wal.Segment, offset int64, cause error) error {
	r.e.log.Warn("storage: WAL tail is torn or corrupt; cutting it at the last good record",
		"path", s.Path, "offset", offset, "dropped_bytes", s.Size-offset, "err", cause)
	if err := r.flush(wal.Position{Generation: s.Gen, Offset: offset}); err != nil {
		return err
	}
	if err := wal.Truncate(s.Path, offset); err != nil {
		return fmt.Errorf("storage: cut WAL tail: %w", err)
	}
	return nil
}

// flush writes the staged records with the applied point pos (zero while
// replaying a snapshot: the point is set by the first log).
func (r *replayer) flush(pos wal.Position) error {
	st := r.st
	var applied *wal.Position // none while replaying a snapshot
	if pos != (wal.Position{}) {
		applied = &pos
	}
	if err := st.finish(r.e, applied); err != nil {
		return err
	}
	st.reset()
	r.n = 0
	if time.Since(r.lastReport) >= time.Second {
		r.lastReport = time.Now()
		r.e.log.Info("storage: recovering", "records", r.records, "elapsed", time.Since(r.started).Round(time.Millisecond))
	}
	return nil
}
