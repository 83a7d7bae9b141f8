package wal_test

// Fault injection below the Writer (package errorfs): a failed write or
// sync reaches the caller, the Writer stops after it, and what was synced
// before it reads back.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"planet/internal/hlc"
	"planet/storage/wal"
	"planet/storage/wal/errorfs"
)

// faultRecords returns n records of assorted sizes.
func faultRecords(n int) []wal.Record {
	recs := make([]wal.Record, n)
	for i := range recs {
		recs[i] = wal.Record{
			Op:      wal.Put,
			Key:     fmt.Appendf(nil, "key-%d", i),
			Value:   bytes.Repeat([]byte{'v'}, 10+i*37%200),
			Version: hlc.Version{Time: uint64(1763768229000+i) << 16, Node: "sfo-10600"},
			Origin:  "sfo",
		}
	}
	return recs
}

// readLog returns the records of the log at path up to where they end.
func readLog(tb testing.TB, path string) ([]wal.Record, int64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := wal.NewReader(f, 0)
	var recs []wal.Record
	for {
		var rec wal.Record
		err := r.Next(&rec)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return recs, r.Offset()
		}
		if err != nil {
			tb.Fatalf("read %s: %v", path, err)
		}
		recs = append(recs, rec)
	}
}

func sameRecord(a, b *wal.Record) bool {
	return a.Op == b.Op && bytes.Equal(a.Key, b.Key) && bytes.Equal(a.Value, b.Value) &&
		a.Version == b.Version && a.Origin == b.Origin
}

// run is what a writer of a log does: open it, then append each record
// and sync it. It returns how many records were acknowledged (their Sync
// returned nil) and the first error, and leaves the Writer open (nil if
// opening failed).
func run(path string, opts wal.Options, prealloc int64, recs []wal.Record) (*wal.Writer, int, error) {
	w, err := wal.OpenWriterWith(path, 0, opts)
	if err != nil {
		return nil, 0, err
	}
	w.Prealloc = prealloc
	for i := range recs {
		line := wal.AppendRecord(nil, &recs[i])
		n, err := w.Write(line)
		if err == nil && n != len(line) {
			err = fmt.Errorf("short write without an error: %d of %d bytes", n, len(line))
		}
		if err == nil {
			err = w.Sync()
		}
		if err != nil {
			return w, i, err
		}
	}
	return w, len(recs), nil
}

// TestWriterFaults fails each write and each sync of a writer's run in
// turn (pebble's errorfs sweep), with and without padding, whole and torn:
// the failure reaches the caller, the Writer refuses to go on (it cannot
// know what is on disk), and the log, reopened, holds every acknowledged
// record, then takes new ones.
func TestWriterFaults(t *testing.T) {
	recs := faultRecords(12)
	for _, prealloc := range []int64{0, 300} {
		// A run without faults counts the operations to fail.
		clean := errorfs.New(nil)
		w, acked, err := run(filepath.Join(t.TempDir(), wal.LogName(1)), wal.Options{FS: clean}, prealloc, recs)
		if err != nil || acked != len(recs) {
			t.Fatalf("run without faults: %d acknowledged, %v", acked, err)
		}
		w.Close()
		for _, op := range []errorfs.Op{errorfs.OpWrite, errorfs.OpSync} {
			for _, torn := range []bool{false, true} {
				if torn && op != errorfs.OpWrite {
					continue
				}
				for i := range clean.Count(op) {
					name := fmt.Sprintf("prealloc=%d/%v#%d", prealloc, op, i)
					if torn {
						name += "/torn"
					}
					t.Run(name, func(t *testing.T) {
						testWriterFault(t, recs, prealloc, errorfs.Fault{Op: op, Index: i, Torn: torn})
					})
				}
			}
		}
	}
}

func testWriterFault(t *testing.T, recs []wal.Record, prealloc int64, fault errorfs.Fault) {
	path := filepath.Join(t.TempDir(), wal.LogName(1))
	efs := errorfs.New(nil)
	efs.Inject(fault)
	w, acked, err := run(path, wal.Options{FS: efs}, prealloc, recs)
	if !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("run with a fault: %d acknowledged, then %v; want the injected error", acked, err)
	}
	if w != nil {
		writes, syncs := efs.Count(errorfs.OpWrite), efs.Count(errorfs.OpSync)
		line := wal.AppendRecord(nil, &recs[0])
		if n, err := w.Write(line); err == nil || n != 0 {
			t.Errorf("Write() after a failure = %d, %v; want an error", n, err)
		}
		if err := w.Sync(); err == nil {
			t.Error("Sync() after a failure succeeded")
		}
		if efs.Count(errorfs.OpWrite) != writes || efs.Count(errorfs.OpSync) != syncs {
			t.Error("the Writer wrote or synced after a failure")
		}
		w.Close()
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && acked == 0 {
		return // failed to create it
	}

	// Recovery: read to where the records end, reopen there, append.
	got, end := readLog(t, path)
	if len(got) < acked {
		t.Fatalf("log holds %d records, %d were acknowledged", len(got), acked)
	}
	for i := range got {
		if !sameRecord(&got[i], &recs[i]) {
			t.Fatalf("record %d reads back as %+v, want %+v", i, got[i], recs[i])
		}
	}
	w, err = wal.OpenWriter(path, end)
	if err != nil {
		t.Fatal(err)
	}
	more := wal.AppendRecord(nil, &recs[len(recs)-1])
	if _, err := w.Write(more); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if again, _ := readLog(t, path); len(again) != len(got)+1 || !sameRecord(&again[len(got)], &recs[len(recs)-1]) {
		t.Errorf("after recovery and one more append the log holds %d records, want %d", len(again), len(got)+1)
	}
}

// TestWriterSyncFailureIsFinal is fsyncgate: after a failed sync the file
// system reports the next sync as a success, although the pages it failed
// to write may be gone. The Writer must not.
func TestWriterSyncFailureIsFinal(t *testing.T) {
	path := filepath.Join(t.TempDir(), wal.LogName(1))
	efs := errorfs.New(nil)
	w, err := wal.OpenWriterWith(path, 0, wal.Options{FS: efs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	recs := faultRecords(2)
	line := wal.AppendRecord(nil, &recs[0])
	if _, err := w.Write(line); err != nil {
		t.Fatal(err)
	}
	efs.Inject(errorfs.Fault{Op: errorfs.OpSync, Err: errors.New("EIO")})
	if err := w.Sync(); err == nil || err.Error() != "wal: sync: sync "+path+": EIO" {
		t.Fatalf("Sync() = %v, want the injected EIO", err)
	}
	for range 2 {
		if err := w.Sync(); err == nil {
			t.Fatal("Sync() after a failed Sync succeeded")
		}
		if _, err := w.Write(wal.AppendRecord(nil, &recs[1])); err == nil {
			t.Fatal("Write() after a failed Sync succeeded")
		}
	}
	if n := efs.Count(errorfs.OpSync); n != 2 { // the directory's and the failed one
		t.Errorf("%d syncs reached the file system, want 2", n)
	}
}

// TestOpenWriterFaults: opening a log fails, and says so, when creating
// it, syncing its directory, or cutting its tail fails.
func TestOpenWriterFaults(t *testing.T) {
	recs := faultRecords(3)
	var log []byte
	for i := range recs {
		log = wal.AppendRecord(log, &recs[i])
	}
	tests := []struct {
		name   string
		exists bool // the log exists, with a torn tail to cut
		fault  errorfs.Fault
	}{
		{"create", false, errorfs.Fault{Op: errorfs.OpOpen}},
		{"stat", false, errorfs.Fault{Op: errorfs.OpStat}},
		{"sync dir", false, errorfs.Fault{Op: errorfs.OpSync}},
		{"open", true, errorfs.Fault{Op: errorfs.OpOpen, Index: 1}},
		{"cut tail", true, errorfs.Fault{Op: errorfs.OpTruncate}},
		{"sync cut", true, errorfs.Fault{Op: errorfs.OpSync}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), wal.LogName(1))
			end := int64(0)
			if tt.exists {
				end = int64(len(log)) - 10
				if err := os.WriteFile(path, log, 0o644); err != nil {
					t.Fatal(err)
				}
				end = int64(bytes.LastIndexByte(log[:end], '\n') + 1)
			}
			efs := errorfs.New(nil)
			efs.Inject(tt.fault)
			w, err := wal.OpenWriterWith(path, end, wal.Options{FS: efs})
			if !errors.Is(err, errorfs.ErrInjected) {
				if w != nil {
					w.Close()
				}
				t.Fatalf("OpenWriterWith() = %v, want the injected error", err)
			}
			// Opens that failed: the injected one, and O_EXCL on an
			// existing log.
			failed := boolInt(tt.fault.Op == errorfs.OpOpen) + boolInt(tt.exists)
			if opened, closed := efs.Count(errorfs.OpOpen)-failed, efs.Count(errorfs.OpClose); opened != closed {
				t.Errorf("%d files opened, %d closed: a file was left open", opened, closed)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestWriteSnapshotFaults fails each operation of writing a snapshot in
// turn: WriteSnapshotWith reports it and leaves no snapshot file, or
// succeeds with a complete one.
func TestWriteSnapshotFaults(t *testing.T) {
	recs := faultRecords(20)
	fill := func(emit func(*wal.Record) error) error {
		for i := range recs {
			if err := emit(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	clean := errorfs.New(nil)
	if err := wal.WriteSnapshotWith(t.TempDir(), 1, wal.Options{FS: clean}, fill); err != nil {
		t.Fatal(err)
	}
	for _, op := range []errorfs.Op{errorfs.OpOpen, errorfs.OpWrite, errorfs.OpSync, errorfs.OpClose, errorfs.OpRename} {
		for i := range clean.Count(op) {
			t.Run(fmt.Sprintf("%v#%d", op, i), func(t *testing.T) {
				dir := t.TempDir()
				efs := errorfs.New(nil)
				efs.Inject(errorfs.Fault{Op: op, Index: i})
				err := wal.WriteSnapshotWith(dir, 1, wal.Options{FS: efs}, fill)
				names, derr := os.ReadDir(dir)
				if derr != nil {
					t.Fatal(derr)
				}
				switch {
				case err == nil && op == errorfs.OpClose:
					// The deferred second close of the file fails
					// after the snapshot was complete.
				case !errors.Is(err, errorfs.ErrInjected):
					t.Fatalf("WriteSnapshotWith() = %v, want the injected error", err)
				case len(names) != 0:
					t.Fatalf("failed snapshot left %v", names)
				}
				if err == nil {
					got, _ := readLog(t, filepath.Join(dir, wal.SnapshotName(1)))
					if len(got) != len(recs) {
						t.Errorf("snapshot holds %d records, want %d", len(got), len(recs))
					}
				}
			})
		}
	}
}
