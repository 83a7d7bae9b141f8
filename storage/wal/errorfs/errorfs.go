// Package errorfs is a wal.FS that fails chosen operations, for tests of
// what the WAL writer and its users do when the disk fails them, as pebble's
// vfs/errorfs: "the third fsync fails", "every write from the tenth on
// fails", "the next write is torn".
//
// An FS passes every operation to the file system it wraps unless a Fault
// picks it; then the operation returns the fault's error (wrapped in an
// *fs.PathError, as the os package's are) without reaching the wrapped file
// system, except that a torn write writes the first half of its bytes
// first. A failed sync does nothing, and a later sync that the Fault does
// not pick succeeds: this is how Linux reports a lost write-back once and
// then forgets it ("fsyncgate"), which a writer must not take for success.
package errorfs

import (
	"errors"
	"io/fs"
	"sync"

	"planet/storage/wal"
)

// ErrInjected is the error a Fault returns when it has no Err of its own.
var ErrInjected = errors.New("errorfs: injected error")

// Op is a kind of operation.
type Op int

// The kinds of operation an FS counts and can fail.
const (
	OpOpen     Op = iota // FS.OpenFile
	OpWrite              // File.Write, File.WriteAt
	OpSync               // File.Sync, File.Datasync (of files and directories)
	OpTruncate           // File.Truncate
	OpStat               // File.Stat
	OpClose              // File.Close
	OpRemove             // FS.Remove
	OpRename             // FS.Rename
	numOps
)

var opNames = [numOps]string{"open", "write", "sync", "truncate", "stat", "close", "remove", "rename"}

func (op Op) String() string {
	if op < 0 || op >= numOps {
		return "Op(?)"
	}
	return opNames[op]
}

// Fault picks operations to fail.
type Fault struct {
	Op Op
	// Index picks the Index-th (from 0) operation of kind Op that matches
	// Path, counted from when the fault was injected: 0 is the next one.
	Index int
	// Path, if not empty, restricts the fault to the file of that name, as
	// passed to OpenFile (a directory's for the sync of a directory), or
	// to Remove or Rename (either name).
	Path string
	// Repeat makes every matching operation from the Index-th on fail: a
	// disk that is gone.
	Repeat bool
	// Torn makes a failing write write the first half of its bytes before
	// it returns the error: a write cut short.
	Torn bool
	// Lose makes a failing sync lose what was written (WriteAt) to the
	// file since its last successful sync: those bytes read back as NUL,
	// as the page cache's dropped pages would after a crash. Without it a
	// failed sync loses nothing, which cannot tell a writer that ignores
	// the failure from one that does not.
	Lose bool
	// Err is the error the operation returns (in an *fs.PathError). Nil
	// means ErrInjected.
	Err error
}

// FS is a wal.FS that fails the operations its Faults pick and passes the
// others to the file system it wraps. It is safe for concurrent use.
type FS struct {
	inner wal.FS

	mu     sync.Mutex // guards the fields below
	faults []*fault
	counts [numOps]int
}

type fault struct {
	Fault
	seen int // matching operations so far
}

var (
	_ wal.FS   = (*FS)(nil)
	_ wal.File = (*file)(nil)
)

// New returns an FS over inner (wal.OSFS{} if nil) with no faults.
func New(inner wal.FS) *FS {
	if inner == nil {
		inner = wal.OSFS{}
	}
	return &FS{inner: inner}
}

// Inject adds a fault.
func (e *FS) Inject(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &fault{Fault: f})
}

// Reset removes every fault; the counts stay.
func (e *FS) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// Count returns how many operations of kind op were attempted, failed ones
// included.
func (e *FS) Count(op Op) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[op]
}

// check counts an operation on path (and path2, for Rename) and returns the
// error of the first fault that picks it, if any, and whether that fault
// tears writes (or, for a sync, loses them).
func (e *FS) check(op Op, path, path2 string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[op]++
	var err error
	torn := false
	for _, f := range e.faults {
		if f.Op != op || f.Path != "" && f.Path != path && f.Path != path2 {
			continue
		}
		i := f.seen
		f.seen++
		if err == nil && (i == f.Index || f.Repeat && i > f.Index) {
			err, torn = f.Err, f.Torn || op == OpSync && f.Lose
			if err == nil {
				err = ErrInjected
			}
		}
	}
	if err == nil {
		return false, nil
	}
	return torn, &fs.PathError{Op: op.String(), Path: path, Err: err}
}

// OpenFile opens a file of the wrapped FS unless a fault picks it.
func (e *FS) OpenFile(name string, flag int, perm fs.FileMode) (wal.File, error) {
	if _, err := e.check(OpOpen, name, ""); err != nil {
		return nil, err
	}
	f, err := e.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &file{fs: e, name: name, f: f}, nil
}

// Remove removes a file of the wrapped FS unless a fault picks it.
func (e *FS) Remove(name string) error {
	if _, err := e.check(OpRemove, name, ""); err != nil {
		return err
	}
	return e.inner.Remove(name)
}

// Rename renames a file of the wrapped FS unless a fault picks it.
func (e *FS) Rename(oldpath, newpath string) error {
	if _, err := e.check(OpRename, oldpath, newpath); err != nil {
		return err
	}
	return e.inner.Rename(oldpath, newpath)
}

// file is a file of an FS.
type file struct {
	fs   *FS
	name string
	f    wal.File

	mu       sync.Mutex
	unsynced [][2]int64 // guarded by mu: (offset, length) written by WriteAt since the last sync
}

// synced ends a sync: forgets the unsynced writes, after overwriting them
// with NUL if the sync failed and loses them.
func (f *file) synced(lose bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if lose {
		for _, w := range f.unsynced {
			f.f.WriteAt(make([]byte, w[1]), w[0])
		}
	}
	f.unsynced = f.unsynced[:0]
}

func (f *file) Write(p []byte) (int, error) {
	if torn, err := f.fs.check(OpWrite, f.name, ""); err != nil {
		n := 0
		if torn {
			n, _ = f.f.Write(p[:len(p)/2])
		}
		return n, err
	}
	return f.f.Write(p)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if torn, err := f.fs.check(OpWrite, f.name, ""); err != nil {
		n := 0
		if torn {
			n, _ = f.f.WriteAt(p[:len(p)/2], off)
		}
		return n, err
	}
	n, err := f.f.WriteAt(p, off)
	f.mu.Lock()
	f.unsynced = append(f.unsynced, [2]int64{off, int64(n)})
	f.mu.Unlock()
	return n, err
}

func (f *file) Sync() error {
	if lose, err := f.fs.check(OpSync, f.name, ""); err != nil {
		f.synced(lose)
		return err
	}
	err := f.f.Sync()
	if err == nil {
		f.synced(false)
	}
	return err
}

func (f *file) Datasync() error {
	if lose, err := f.fs.check(OpSync, f.name, ""); err != nil {
		f.synced(lose)
		return err
	}
	err := f.f.Datasync()
	if err == nil {
		f.synced(false)
	}
	return err
}

func (f *file) Truncate(size int64) error {
	if _, err := f.fs.check(OpTruncate, f.name, ""); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *file) Stat() (fs.FileInfo, error) {
	if _, err := f.fs.check(OpStat, f.name, ""); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

// Close closes the wrapped file even when a fault picks it, so that a
// failed close leaks no descriptor; it returns the fault's error.
func (f *file) Close() error {
	_, ferr := f.fs.check(OpClose, f.name, "")
	err := f.f.Close()
	if ferr != nil {
		return ferr
	}
	return err
}
