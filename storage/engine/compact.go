package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"planet/internal/hlc"
	"planet/storage/wal"
)

// rotate starts WAL generation gen+1 and, in the background, writes the
// snapshot of the state as of its start (runs in the committer).
func (e *Engine) rotate() error {
	next := e.gen + 1
	if e.dirty {
		if err := e.sync(); err != nil {
			return err
		}
	}
	// The snapshot below is of goleveldb: it must hold every commit.
	if err := e.flush(); err != nil {
		return err
	}
	// Everything in the old generation is applied: this is the state as
	// of the start of the new one. Taken before the new log exists, so
	// that a failure leaves generation gen as it was.
	snap, err := e.db.GetSnapshot()
	if err != nil {
		return fmt.Errorf("storage: snapshot state: %w", err)
	}
	// Once wal-<next>.log exists, a reader following the WAL (the
	// tailer) takes generation gen as finished: nothing may be written to
	// it any more. If the new log or the state database's record of the
	// switch fails, the engine refuses writes until a restart recovers.
	refuse := func(err error) error {
		snap.Release()
		e.failedErr.Store(&err)
		e.log.Error("storage: refusing writes until restart", "err", err)
		return err
	}
	w, err := wal.OpenWriterWith(filepath.Join(e.cfg.Dir, wal.LogName(next)), 0, wal.Options{FS: e.cfg.FS})
	if err != nil {
		return refuse(fmt.Errorf("storage: start WAL generation %d: %w", next, err))
	}
	w.Prealloc = walPrealloc
	if err := e.db.Put(metaApplied, encodePosition(wal.Position{Generation: next, Offset: 0}), nil); err != nil {
		w.Close()
		return refuse(fmt.Errorf("storage: write state: %w", err))
	}
	old := e.wal
	e.wal, e.gen = w, next
	e.applied, e.appliedChanged = wal.Position{Generation: next, Offset: 0}, false
	if err := old.Close(); err != nil {
		e.log.Warn("storage: close WAL", "err", err)
	}
	e.stats.compacting.Store(true)
	e.publish()
	e.log.Info("storage: new WAL generation", "generation", next)
	e.bg.Add(1)
	go e.compact(next, snap)
	return nil
}

// compact writes snapshot gen from snap, then removes the generations
// before the previous one and purges tombstones past their grace period.
func (e *Engine) compact(gen uint64, snap *leveldb.Snapshot) {
	defer e.bg.Done()
	defer e.stats.compacting.Store(false)
	start := time.Now()
	cutoff := graceCutoff(e.cfg.Now(), e.cfg.TombstoneGrace)
	var purge []Mutation
	n := 0
	err := wal.WriteSnapshotWith(e.cfg.Dir, gen, wal.Options{FS: e.cfg.FS}, func(emit func(*wal.Record) error) error {
		defer snap.Release()
		it := snap.NewIterator(e.iterRange(0, numLayout), nil)
		defer it.Release()
		var rec wal.Record
		for it.Next() {
			key, _ := userKey(it.Key())
			ent, err := decodeEntry(it.Value())
			if err != nil {
				return fmt.Errorf("key %q: %w", key, err)
			}
			if ent.Deleted && ent.Version.Time < cutoff {
				purge = append(purge, Mutation{Key: append([]byte(nil), key...), Version: ent.Version, Delete: true})
				continue
			}
			rec = wal.Record{Op: wal.Put, Key: key, Value: ent.Value, Version: ent.Version, Origin: ent.Origin}
			if ent.Deleted {
				rec.Op, rec.Value = wal.Del, nil
			}
			if err := emit(&rec); err != nil {
				return err
			}
			n++
		}
		return it.Error()
	})
	if err != nil {
		e.log.Error("storage: snapshot failed; older generations are kept", "generation", gen, "err", err)
		return
	}
	e.removeBefore(gen)
	e.log.Info("storage: compacted", "generation", gen, "records", n, "purged_tombstones", len(purge), "took", time.Since(start).Round(time.Millisecond))
	for _, m := range purge {
		o := &op{m: m, purge: true, done: make(chan Result, 1)}
		select {
		case e.queue <- o:
		case <-e.quit:
			return
		}
		select {
		case r := <-o.done:
			if r.Applied {
				e.stats.purged.Add(1)
			}
		case <-e.done:
			return
		}
	}
}

// graceCutoff is the version time before which tombstones may be purged.
func graceCutoff(now time.Time, grace time.Duration) uint64 {
	ms := now.Add(-grace).UnixMilli()
	if ms <= 0 {
		return 0
	}
	return uint64(ms) << 16
}

// removeBefore deletes the snapshots before gen and the logs before gen-1:
// the previous generation's log stays until the next compaction, so that a
// reader that is behind can finish it.
func (e *Engine) removeBefore(gen uint64) {
	segs, err := wal.List(e.cfg.Dir)
	if err != nil {
		e.log.Warn("storage: list WAL", "err", err)
		return
	}
	for _, s := range segs {
		if s.Kind == wal.KindSnapshot && s.Gen < gen || s.Kind == wal.KindLog && s.Gen+1 < gen {
			if err := os.Remove(s.Path); err != nil {
				e.log.Warn("storage: remove old WAL segment", "path", s.Path, "err", err)
			}
		}
	}
}

// TombstoneExpired reports whether a tombstone of version v may be purged.
func TombstoneExpired(v hlc.Version, now time.Time, grace time.Duration) bool {
	return v.Time < graceCutoff(now, grace)
}
