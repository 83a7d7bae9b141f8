package waltailer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"planet/storage/wal"
)

// walPort returns the port of a WAL named "storage-<port>".
func walPort(name string) (int, error) {
	p, ok := strings.CutPrefix(name, "storage-")
	n, err := strconv.Atoi(p)
	if !ok || err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
		return 0, fmt.Errorf("WAL name %q: want storage-<port>", name)
	}
	return n, nil
}

// walName is the name of the WAL of the storage replica on port: its
// directory under DATA_DIR.
func walName(port int) string { return "storage-" + strconv.Itoa(port) }

// source reads one local WAL for one remote region: from its cursor, the
// records of this region, into batches. It is used by its shipper's
// goroutine only.
type source struct {
	name   string // "storage-<port>"
	dir    string
	self   string // this region: the origin of the records shipped
	region string // the remote region
	log    *slog.Logger
	m      *tailerMetrics

	f     *wal.Follower // nil while closed
	acked wal.Position  // the cursor: acknowledged by the region
	read  wal.Position  // after the records gathered into the pending batch
	snap  *snapshotRead // non-nil while a snapshot is resent
	// fresh: no cursor yet; the WAL is shipped from its oldest
	// generation (a snapshot first if compaction removed older logs).
	fresh bool
	err   error // why the source cannot read (reported in status); retried
	rec   wal.Record
}

// snapshotRead is a snapshot being resent: the records of this region in
// snapshot-<gen>.log, then the log of gen from its start.
type snapshotRead struct {
	gen  uint64
	file *os.File
	rd   *wal.Reader
	done bool // read to its end: the follower of gen takes over
}

// open opens the follower at the cursor, or starts a snapshot resend when
// compaction removed the logs the cursor needs.
func (s *source) open() error {
	if s.f != nil || s.snap != nil {
		return nil
	}
	segs, err := wal.List(s.dir)
	if err != nil {
		return err
	}
	var oldest, newest uint64
	for _, sg := range segs {
		if sg.Kind == wal.KindLog {
			if oldest == 0 {
				oldest = sg.Gen
			}
			newest = sg.Gen
		}
	}
	if oldest == 0 {
		return fmt.Errorf("no WAL in %s yet", s.dir)
	}
	pos := s.acked
	if s.fresh {
		if oldest > 1 {
			s.log.Info("waltailer: no cursor yet, and compaction removed the first logs: resending the snapshot",
				"wal", s.name, "remote", s.region, "generation", oldest)
			return s.startSnapshot(segs, oldest)
		}
		pos = wal.Position{Generation: oldest}
	}
	if pos.Generation > newest {
		// The replica's data was wiped and it started over: its WAL is
		// another one. Ship it from the start.
		s.log.Warn("waltailer: the WAL is older than the cursor (the replica's data was replaced): shipping it from its start",
			"wal", s.name, "remote", s.region, "cursor", pos, "newest_generation", newest)
		s.m.resets.Inc(s.region)
		s.fresh = true
		return s.open()
	}
	f, err := wal.OpenAt(s.dir, pos)
	switch {
	case errors.Is(err, wal.ErrGenerationGone):
		return s.fellBehind(segs, pos)
	case errors.Is(err, wal.ErrPositionLost):
		return s.positionLost(pos, err)
	case err != nil:
		return err
	}
	s.f, s.read, s.fresh = f, pos, false
	return nil
}

// fellBehind starts the resend of the newest snapshot after compaction
// removed a log that the region still needed.
func (s *source) fellBehind(segs []wal.Segment, pos wal.Position) error {
	var gen uint64
	for _, sg := range segs {
		if sg.Kind == wal.KindSnapshot && sg.Gen > pos.Generation && hasLog(segs, sg.Gen) {
			gen = sg.Gen
		}
	}
	if gen == 0 {
		return fmt.Errorf("the log after %v was removed and no snapshot after it exists", pos)
	}
	s.log.Warn("waltailer: compaction removed a WAL generation this region had not shipped yet: resending the snapshot",
		"wal", s.name, "remote", s.region, "cursor", pos, "snapshot", gen)
	s.m.generationsGone.Inc(s.region)
	return s.startSnapshot(segs, gen)
}

func hasLog(segs []wal.Segment, gen uint64) bool {
	for _, sg := range segs {
		if sg.Kind == wal.KindLog && sg.Gen == gen {
			return true
		}
	}
	return false
}

// positionLost restarts the cursor's log from its start: the log no
// longer holds the records before the cursor (a machine crash lost
// unsynced writes and others took their place).
func (s *source) positionLost(pos wal.Position, err error) error {
	s.log.Warn("waltailer: the cursor is not at a record's end any more: resending its log from the start",
		"wal", s.name, "remote", s.region, "cursor", pos, "err", err)
	s.m.resets.Inc(s.region)
	s.acked = wal.Position{Generation: pos.Generation}
	return s.open()
}

func (s *source) startSnapshot(segs []wal.Segment, gen uint64) error {
	file, err := os.Open(filepath.Join(s.dir, wal.SnapshotName(gen)))
	if err != nil {
		return err
	}
	s.snap = &snapshotRead{gen: gen, file: file, rd: wal.NewReader(file, 0)}
	s.read = s.acked
	return nil
}

// close releases the files.
func (s *source) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if s.snap != nil {
		s.snap.file.Close()
		s.snap = nil
	}
}

// gather reads records into b until it read quota of them, b is full or
// none is left for now.
// It reports whether it read anything (records of other regions
// included).
func (s *source) gather(b *batch, quota int) (bool, error) {
	if err := s.open(); err != nil {
		return false, err
	}
	progress := false
	for read := 0; read < quota && !b.full(); {
		if s.snap != nil && !s.snap.done {
			start := s.snap.rd.Offset()
			err := s.snap.rd.Next(&s.rec)
			if err == io.EOF {
				s.snap.done = true
				s.snap.file.Close()
				// The log of the snapshot's generation follows; the
				// cursor moves there once the batch is acknowledged.
				f, err := wal.OpenAt(s.dir, wal.Position{Generation: s.snap.gen})
				if err != nil {
					// Compacted again meanwhile: start over from a
					// newer snapshot with the next batch.
					s.snap = nil
					return progress, err
				}
				s.f, s.read = f, wal.Position{Generation: s.snap.gen}
				continue
			}
			if err != nil {
				return progress, fmt.Errorf("snapshot %d: %w", s.snap.gen, err)
			}
			progress = true
			read++
			if s.rec.Origin == s.self {
				b.add(&s.rec, int(s.snap.rd.Offset()-start), true)
			}
			continue
		}
		start := s.f.Position()
		err := s.f.Next(&s.rec)
		if errors.Is(err, wal.ErrNoMore) {
			if s.f.Position() != s.read {
				s.read = s.f.Position() // moved on to a new generation
				progress = true
			}
			return progress, nil
		}
		if err != nil {
			f := s.f
			s.f = nil
			f.Close()
			if s.snap != nil {
				// The log after a resent snapshot is gone too: what
				// was gathered still goes, the cursor stays.
				s.snap, s.read = nil, s.acked
			}
			switch {
			case errors.Is(err, wal.ErrGenerationGone):
				// Reopening at the cursor finds out what is left.
				return progress, nil
			case errors.Is(err, wal.ErrPositionLost):
				return progress, s.positionLost(s.read, err)
			}
			return progress, err
		}
		progress = true
		read++
		s.read = s.f.Position()
		if s.rec.Origin == s.self {
			size := s.read.Offset // the record starts a new generation's log
			if s.read.Generation == start.Generation {
				size -= start.Offset
			}
			b.add(&s.rec, int(size), false)
		}
	}
	return progress, nil
}

// acknowledged moves the cursor to what the acknowledged batch held.
func (s *source) acknowledged() {
	if s.snap != nil && s.snap.done {
		s.snap = nil
	}
	if s.snap == nil {
		s.acked = s.read
	}
}
