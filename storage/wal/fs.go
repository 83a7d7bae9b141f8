package wal

import (
	"io"
	"io/fs"
	"os"
)

// FS is the file system that Writer and WriteSnapshotWith write through:
// OSFS by default, a fault injector (package errorfs) in tests. It has what
// they need and no more.
type FS interface {
	// OpenFile opens the named file as os.OpenFile does. Logs are opened
	// O_WRONLY (with O_CREATE|O_EXCL to create one), snapshots
	// O_WRONLY|O_CREATE|O_TRUNC, and directories O_RDONLY to sync them.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Remove(name string) error
	Rename(oldpath, newpath string) error
}

// File is a file open in an FS.
type File interface {
	io.Writer   // snapshots are written in sequence
	io.WriterAt // logs are written at their end, over padding
	Truncate(size int64) error
	Sync() error     // fsync: data and metadata
	Datasync() error // fdatasync: data, and only the metadata needed to read it
	Stat() (fs.FileInfo, error)
	Close() error
}

// OSFS is the operating system's file system. File.Datasync is fdatasync(2)
// where there is one (Linux), fsync elsewhere.
type OSFS struct{}

var (
	_ FS   = OSFS{}
	_ File = osFile{}
)

// OpenFile calls os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove calls os.Remove.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename calls os.Rename.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// osFile is an *os.File with Datasync.
type osFile struct{ *os.File }

func (f osFile) Datasync() error { return fdatasync(f.File) }

// Options configure how the WAL's files are written (OpenWriterWith,
// WriteSnapshotWith). The zero value writes to the operating system.
type Options struct {
	// FS is what logs and snapshots are written through. Nil means OSFS{}.
	// Tests put an errorfs.FS here to fail chosen writes and syncs.
	FS FS
}

func (o Options) fs() FS {
	if o.FS == nil {
		return OSFS{}
	}
	return o.FS
}

// syncDir fsyncs the directory dir in fsys.
func syncDir(fsys FS, dir string) error {
	d, err := fsys.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
