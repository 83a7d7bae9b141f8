package wal

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	logPrefix      = "wal-"
	snapshotPrefix = "snapshot-"
	segmentSuffix  = ".log"
	tmpSuffix      = ".tmp"
)

// LogName returns the file name of WAL generation gen: "wal-%016d.log".
func LogName(gen uint64) string { return fmt.Sprintf(logPrefix+"%016d"+segmentSuffix, gen) }

// SnapshotName returns the file name of the snapshot that starts generation
// gen: "snapshot-%016d.log". It holds the complete state (tombstones
// included) as of the start of WAL generation gen, in the record format.
func SnapshotName(gen uint64) string {
	return fmt.Sprintf(snapshotPrefix+"%016d"+segmentSuffix, gen)
}

// Kind tells logs from snapshots.
type Kind int

// The kinds of segment file.
const (
	KindLog Kind = iota
	KindSnapshot
)

// Segment is a log or snapshot file in a directory.
type Segment struct {
	Kind Kind
	Gen  uint64
	Path string // directory joined with the file name
	Size int64  // bytes, when listed
}

// ParseName reports whether name is exactly LogName(gen) or
// SnapshotName(gen) for some generation gen >= 1, and which.
func ParseName(name string) (Kind, uint64, bool) {
	var kind Kind
	var digits string
	switch {
	case !strings.HasSuffix(name, segmentSuffix):
		return 0, 0, false
	case strings.HasPrefix(name, logPrefix):
		kind, digits = KindLog, name[len(logPrefix):len(name)-len(segmentSuffix)]
	case strings.HasPrefix(name, snapshotPrefix):
		kind, digits = KindSnapshot, name[len(snapshotPrefix):len(name)-len(segmentSuffix)]
	default:
		return 0, 0, false
	}
	gen, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || gen == 0 || name != segmentName(kind, gen) {
		return 0, 0, false
	}
	return kind, gen, true
}

func segmentName(kind Kind, gen uint64) string {
	if kind == KindSnapshot {
		return SnapshotName(gen)
	}
	return LogName(gen)
}

// List returns the logs and snapshots in dir, sorted by generation, a
// snapshot before the log of the same generation. It ignores every other
// file (such as "*.tmp" files of an unfinished snapshot) and files removed
// while it lists.
func List(dir string) ([]Segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	var segs []Segment
	for _, e := range entries {
		kind, gen, ok := ParseName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // compacted away since ReadDir
		}
		if err != nil {
			return nil, fmt.Errorf("wal: list %s: %w", dir, err)
		}
		segs = append(segs, Segment{Kind: kind, Gen: gen, Path: filepath.Join(dir, e.Name()), Size: info.Size()})
	}
	slices.SortFunc(segs, func(a, b Segment) int {
		if c := cmp.Compare(a.Gen, b.Gen); c != 0 {
			return c
		}
		return -cmp.Compare(a.Kind, b.Kind) // snapshot first
	})
	return segs, nil
}

// Writer appends to a log file, through the FS of OpenWriterWith (the
// operating system's for OpenWriter). It is not safe for concurrent use.
//
// After a failed Write or Sync the state of the file is unknown (a failed
// fsync may have dropped written pages), so the Writer returns that error
// from then on; the owner reopens the log and recovers it.
type Writer struct {
	// Prealloc, if positive, makes Write keep at least this many bytes of
	// padding (NUL bytes, see the package doc) ahead of the records,
	// written Prealloc bytes at a time: an fdatasync of records written
	// over padding syncs data only, not the size and blocks of a growing
	// file, which halves its cost (measured on ext4: 80 µs instead of
	// 160 µs, 30 µs of CPU instead of 60).
	Prealloc int64

	f      File
	size   int64 // end of the records
	padEnd int64 // end of the file: size plus padding
	err    error // sticky
}

// zeros is a block of padding.
var zeros = make([]byte, 64<<10)

// OpenWriter opens the log file path to append records at end, where its
// records end (0 for a new log), creating the file (mode 0644) if it does
// not exist, in which case it also fsyncs the directory so that the new file
// survives a crash. Whatever follows end in the file (a torn record,
// padding) is cut off first, and the cut is fsynced; a file shorter than end
// is an error.
func OpenWriter(path string, end int64) (*Writer, error) {
	return OpenWriterWith(path, end, Options{})
}

// OpenWriterWith is OpenWriter with options: the Writer does its file I/O
// (and the directory fsync that creating the log needs) through opts.FS.
func OpenWriterWith(path string, end int64, opts Options) (*Writer, error) {
	fsys := opts.fs()
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = fsys.OpenFile(path, os.O_WRONLY, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("wal: open writer: %w", err)
	}
	info, err := f.Stat()
	switch {
	case err != nil:
	case created:
		err = syncDir(fsys, filepath.Dir(path))
	case info.Size() < end:
		err = fmt.Errorf("file has %d bytes, its records end at %d", info.Size(), end)
	case info.Size() > end:
		if err = f.Truncate(end); err == nil {
			err = f.Datasync()
		}
	}
	if err == nil && end < 0 {
		err = fmt.Errorf("negative end %d", end)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("wal: open writer %s: %w", path, err)
	}
	return &Writer{f: f, size: end, padEnd: end}, nil
}

// Write appends p to the records. It does not sync.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.Prealloc > 0 && w.size+int64(len(p)) > w.padEnd {
		if err := w.pad(w.size + int64(len(p)) + w.Prealloc); err != nil {
			w.err = fmt.Errorf("wal: write padding: %w", err)
			return 0, w.err
		}
	}
	n, err := w.f.WriteAt(p, w.size)
	w.size += int64(n)
	w.padEnd = max(w.padEnd, w.size)
	if err != nil {
		w.err = fmt.Errorf("wal: write: %w", err)
		return n, w.err
	}
	return n, nil
}

// pad writes padding from the end of the file (never over records) to end.
func (w *Writer) pad(end int64) error {
	for off := max(w.padEnd, w.size); off < end; {
		n, err := w.f.WriteAt(zeros[:min(int64(len(zeros)), end-off)], off)
		off += int64(n)
		w.padEnd = off
		if err != nil {
			return err
		}
	}
	return nil
}

// Sync makes everything written so far durable (fdatasync).
func (w *Writer) Sync() error {
	if w.err != nil {
		return w.err
	}
	if err := w.f.Datasync(); err != nil {
		w.err = fmt.Errorf("wal: sync: %w", err)
		return w.err
	}
	return nil
}

// Size returns where the records end: end when opened plus the bytes
// written since (the file may be longer: padding).
func (w *Writer) Size() int64 { return w.size }

// Close cuts the padding off the file, so that a finished log holds only
// records, and closes it without syncing (a cut that a crash undoes leaves
// padding, which readers skip).
func (w *Writer) Close() error {
	if w.err == nil && w.padEnd > w.size {
		if err := w.f.Truncate(w.size); err != nil {
			w.f.Close()
			return fmt.Errorf("wal: close: %w", err)
		}
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("wal: close: %w", err)
	}
	return nil
}

// Truncate cuts the file at path to size bytes and fsyncs it; recovery uses
// it to cut a torn or corrupt tail at Reader.Offset(). It refuses to extend
// the file.
func Truncate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: truncate: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("wal: truncate: %w", err)
	}
	if size < 0 || size > info.Size() {
		return fmt.Errorf("wal: truncate %s to %d: file has %d bytes", path, size, info.Size())
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("wal: truncate: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: truncate: %w", err)
	}
	return f.Close()
}

// SyncDir fsyncs the directory dir, making file creations, renames and
// removals in it durable.
func SyncDir(dir string) error {
	if err := syncDir(OSFS{}, dir); err != nil {
		return fmt.Errorf("wal: sync dir: %w", err)
	}
	return nil
}

// WriteSnapshot writes SnapshotName(gen) in dir atomically. It writes to
// "<name>.tmp" the records that fill passes to emit, in any order, then
// fsyncs the file, renames it and fsyncs dir. emit fails on an invalid
// record (see AppendRecord) and once fill has returned. On error the tmp file
// is removed and no snapshot file appears. An existing snapshot of the same
// generation is replaced.
func WriteSnapshot(dir string, gen uint64, fill func(emit func(*Record) error) error) error {
	return WriteSnapshotWith(dir, gen, Options{}, fill)
}

// WriteSnapshotWith is WriteSnapshot with options: it does its file I/O
// through opts.FS.
func WriteSnapshotWith(dir string, gen uint64, opts Options, fill func(emit func(*Record) error) error) error {
	if gen == 0 {
		return errors.New("wal: write snapshot: generation 0")
	}
	fsys := opts.fs()
	name := filepath.Join(dir, SnapshotName(gen))
	tmp := name + tmpSuffix
	if err := writeSnapshotFile(fsys, tmp, fill); err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("wal: write snapshot %s: %w", name, err)
	}
	if err := fsys.Rename(tmp, name); err != nil {
		fsys.Remove(tmp)
		return fmt.Errorf("wal: write snapshot: %w", err)
	}
	if err := syncDir(fsys, dir); err != nil {
		fsys.Remove(name) // not known to be durable: do not let it count
		return fmt.Errorf("wal: write snapshot %s: sync dir: %w", name, err)
	}
	return nil
}

// writeSnapshotFile creates path, writes the records fill emits and fsyncs.
func writeSnapshotFile(fsys FS, path string, fill func(emit func(*Record) error) error) error {
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, readBufferSize)
	var line []byte
	done := false
	emit := func(r *Record) error {
		if done {
			return errors.New("emit called after fill returned")
		}
		if err := checkRecord(r); err != nil {
			return err
		}
		line = AppendRecord(line[:0], r)
		_, err := bw.Write(line)
		return err
	}
	err = fill(emit)
	done = true
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}
