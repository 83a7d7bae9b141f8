package wal

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestNames(t *testing.T) {
	if got := LogName(1); got != "wal-0000000000000001.log" {
		t.Errorf("LogName(1) = %q", got)
	}
	if got := SnapshotName(42); got != "snapshot-0000000000000042.log" {
		t.Errorf("SnapshotName(42) = %q", got)
	}
	tests := []struct {
		name string
		kind Kind
		gen  uint64
		ok   bool
	}{
		{"wal-0000000000000001.log", KindLog, 1, true},
		{"snapshot-0000000000000001.log", KindSnapshot, 1, true},
		{"wal-1234567890123456.log", KindLog, 1234567890123456, true},
		{"wal-18446744073709551615.log", KindLog, math.MaxUint64, true},
		{"wal-0000000000000000.log", 0, 0, false}, // generations start at 1
		{"wal-1.log", 0, 0, false},
		{"wal-00000000000000001.log", 0, 0, false},
		{"wal-18446744073709551616.log", 0, 0, false},
		{"wal-+000000000000001.log", 0, 0, false},
		{"wal-000000000000000a.log", 0, 0, false},
		{"wal-.log", 0, 0, false},
		{"wal-0000000000000001.log.tmp", 0, 0, false},
		{"snapshot-0000000000000001.log.tmp", 0, 0, false},
		{"WAL-0000000000000001.log", 0, 0, false},
		{"wal-0000000000000001.LOG", 0, 0, false},
		{"log-0000000000000001.log", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		kind, gen, ok := ParseName(tt.name)
		if kind != tt.kind || gen != tt.gen || ok != tt.ok {
			t.Errorf("ParseName(%q) = %v, %d, %v; want %v, %d, %v", tt.name, kind, gen, ok, tt.kind, tt.gen, tt.ok)
		}
	}
	for _, gen := range []uint64{1, 9, 10, 1 << 53, math.MaxUint64} {
		if kind, got, ok := ParseName(LogName(gen)); !ok || got != gen || kind != KindLog {
			t.Errorf("ParseName(LogName(%d)) = %v, %d, %v", gen, kind, got, ok)
		}
		if kind, got, ok := ParseName(SnapshotName(gen)); !ok || got != gen || kind != KindSnapshot {
			t.Errorf("ParseName(SnapshotName(%d)) = %v, %d, %v", gen, kind, got, ok)
		}
	}
}

func writeFile(tb testing.TB, path string, data string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, LogName(2)), "22")
	writeFile(t, filepath.Join(dir, SnapshotName(2)), "s2")
	writeFile(t, filepath.Join(dir, LogName(10)), "10")
	writeFile(t, filepath.Join(dir, LogName(1)), "1")
	writeFile(t, filepath.Join(dir, SnapshotName(3)+".tmp"), "partial")
	writeFile(t, filepath.Join(dir, "LOCK"), "")
	writeFile(t, filepath.Join(dir, "wal-1.log"), "")
	if err := os.Mkdir(filepath.Join(dir, LogName(5)), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Segment{
		{KindLog, 1, filepath.Join(dir, LogName(1)), 1},
		{KindSnapshot, 2, filepath.Join(dir, SnapshotName(2)), 2},
		{KindLog, 2, filepath.Join(dir, LogName(2)), 2},
		{KindLog, 10, filepath.Join(dir, LogName(10)), 2},
	}
	if !slices.Equal(got, want) {
		t.Errorf("List() =\n%v\nwant\n%v", got, want)
	}

	if segs, err := List(t.TempDir()); err != nil || len(segs) != 0 {
		t.Errorf("List(empty dir) = %v, %v", segs, err)
	}
	if _, err := List(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("List(missing dir) error = %v, want ErrNotExist", err)
	}
}

func openWriter(tb testing.TB, path string, end int64) *Writer {
	tb.Helper()
	w, err := OpenWriter(path, end)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func TestWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogName(1))
	w := openWriter(t, path, 0)
	if w.Size() != 0 {
		t.Errorf("Size() of a new log = %d", w.Size())
	}
	recs := testRecords(10)
	log, _ := encodeLog(recs)
	mustWrite(t, w, log[:100])
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if w.Size() != 100 {
		t.Errorf("Size() = %d, want 100", w.Size())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&^0o644 != 0 || perm&0o600 != 0o600 {
		t.Errorf("log file mode %v, want 0644 (less umask)", perm)
	}

	w = openWriter(t, path, 100) // reopen: appends
	defer w.Close()
	if w.Size() != 100 {
		t.Errorf("Size() after reopening = %d, want 100", w.Size())
	}
	mustWrite(t, w, log[100:])
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(len(log)) {
		t.Errorf("Size() = %d, want %d", w.Size(), len(log))
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, log) {
		t.Fatalf("file holds %d bytes (%v), want the %d bytes written", len(got), err, len(log))
	}
}

// TestWriterPadding: a preallocating writer keeps padding ahead of its
// records; readers stop at the padding; reopening at the end of the records
// cuts the padding and a torn record after them, and appends.
func TestWriterPadding(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogName(1))
	w := openWriter(t, path, 0)
	w.Prealloc = 1000
	recs := testRecords(50)
	log, offsets := encodeLog(recs)
	half := offsets[25]
	for _, r := range recs[:25] {
		mustWrite(t, w, AppendRecord(nil, &r))
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() < w.Size()+1 || info.Size() > w.Size()+1000+int64(len(log)) {
			t.Fatalf("file has %d bytes for %d of records, want padding ahead", info.Size(), w.Size())
		}
	}
	if w.Size() != half {
		t.Fatalf("Size() = %d, want %d", w.Size(), half)
	}
	readLog := func() ([]Record, int64, error) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := NewReader(f, 0)
		got, err := readAll(t, r)
		return got, r.Offset(), err
	}
	got, end, err := readLog()
	if err != io.EOF || len(got) != 25 || end != half {
		t.Fatalf("read %d records to %d (%v), want 25 to %d and io.EOF at the padding", len(got), end, err, half)
	}

	// A torn record over the padding, then a crash.
	mustWrite(t, w, log[half:half+7])
	w.Close()
	if _, end, err := readLog(); err != io.ErrUnexpectedEOF || end != half {
		t.Fatalf("torn record over padding: stopped at %d with %v, want %d and io.ErrUnexpectedEOF", end, err, half)
	}
	w = openWriter(t, path, half)
	defer w.Close()
	if info, err := os.Stat(path); err != nil || info.Size() != half {
		t.Fatalf("reopened at %d: file has %v bytes (%v), want the tail cut", half, info.Size(), err)
	}
	w.Prealloc = 1000
	mustWrite(t, w, log[half:])
	got, end, err = readLog()
	if err != io.EOF || len(got) != len(recs) || end != int64(len(log)) {
		t.Fatalf("read %d records to %d (%v), want %d to %d", len(got), end, err, len(recs), len(log))
	}
	assertRecords(t, got, recs)
	if _, err := OpenWriter(path, int64(len(log))+1e6); err == nil {
		t.Error("OpenWriter past the end of the file succeeded")
	}
}

func TestWriterErrorsAreSticky(t *testing.T) {
	w := openWriter(t, filepath.Join(t.TempDir(), LogName(1)), 0)
	w.f.Close() // make the next write fail
	if _, err := w.Write([]byte("x\n")); err == nil {
		t.Fatal("Write() to a closed file succeeded")
	}
	if err := w.Sync(); err == nil {
		t.Error("Sync() after a failed Write succeeded")
	}
	if _, err := w.Write(nil); err == nil {
		t.Error("Write() after a failed Write succeeded")
	}
}

func TestOpenWriterMissingDir(t *testing.T) {
	if w, err := OpenWriter(filepath.Join(t.TempDir(), "missing", LogName(1)), 0); err == nil {
		w.Close()
		t.Fatal("OpenWriter in a missing directory succeeded")
	}
}

// TestTruncateTornTail is recovery: read up to the torn tail, cut it, and
// append again.
func TestTruncateTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogName(1))
	recs := testRecords(10)
	log, offsets := encodeLog(recs)
	writeFile(t, path, string(log[:offsets[9]+3]))

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(f, 0)
	_, err = readAll(t, r)
	f.Close()
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("Next() = %v, want io.ErrUnexpectedEOF", err)
	}
	if err := Truncate(path, r.Offset()); err != nil {
		t.Fatal(err)
	}
	w := openWriter(t, path, r.Offset())
	defer w.Close()
	if w.Size() != offsets[9] {
		t.Fatalf("Size() after Truncate = %d, want %d", w.Size(), offsets[9])
	}
	mustWrite(t, w, log[offsets[9]:])

	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := readAll(t, NewReader(f, 0))
	if err != io.EOF {
		t.Fatalf("Next() = %v, want io.EOF", err)
	}
	assertRecords(t, got, recs)
}

func TestTruncateRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogName(1))
	writeFile(t, path, "0123456789")
	if err := Truncate(path, 11); err == nil {
		t.Error("Truncate beyond the end succeeded")
	}
	if err := Truncate(path, -1); err == nil {
		t.Error("Truncate to -1 succeeded")
	}
	if err := Truncate(filepath.Join(dir, "missing"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Truncate(missing) = %v, want ErrNotExist", err)
	}
	if info, err := os.Stat(path); err != nil || info.Size() != 10 {
		t.Errorf("file changed by failed truncates: %v, %v", info, err)
	}
	if err := Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Error(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("SyncDir(missing) succeeded")
	}
}

// dirNames returns the names of the files in dir.
func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteSnapshot(t *testing.T) {
	dir := t.TempDir()
	recs := testRecords(100)
	writeFile(t, filepath.Join(dir, SnapshotName(7)+".tmp"), "left over from a crash")
	err := WriteSnapshot(dir, 7, func(emit func(*Record) error) error {
		for i := range recs {
			if err := emit(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{SnapshotName(7)}) {
		t.Fatalf("directory holds %v, want only %s", names, SnapshotName(7))
	}
	segs, err := List(dir)
	if err != nil || len(segs) != 1 || segs[0].Kind != KindSnapshot || segs[0].Gen != 7 {
		t.Fatalf("List() = %v, %v", segs, err)
	}
	f, err := os.Open(segs[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := readAll(t, NewReader(f, 0))
	if err != io.EOF {
		t.Fatalf("Next() = %v, want io.EOF", err)
	}
	assertRecords(t, got, recs)
}

func TestWriteSnapshotFails(t *testing.T) {
	fillErr := errors.New("fill failed")
	good := testRecords(1)[0]
	bad := good
	bad.Origin = "SFO"
	tests := []struct {
		name string
		gen  uint64
		fill func(emit func(*Record) error) error
		want error
	}{
		{"fill fails", 1, func(emit func(*Record) error) error {
			if err := emit(&good); err != nil {
				return err
			}
			return fillErr
		}, fillErr},
		{"invalid record", 1, func(emit func(*Record) error) error { return emit(&bad) }, nil},
		{"generation 0", 0, func(emit func(*Record) error) error { return nil }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			err := WriteSnapshot(dir, tt.gen, tt.fill)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("WriteSnapshot() = %v, want %v", err, tt.want)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("directory holds %v after a failed snapshot, want nothing", names)
			}
		})
	}
	if err := WriteSnapshot(filepath.Join(t.TempDir(), "missing"), 1, func(func(*Record) error) error { return nil }); err == nil {
		t.Error("WriteSnapshot in a missing directory succeeded")
	}
}

func TestWriteSnapshotEmitAfterFill(t *testing.T) {
	var saved func(*Record) error
	err := WriteSnapshot(t.TempDir(), 1, func(emit func(*Record) error) error {
		saved = emit
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecords(1)[0]
	if err := saved(&rec); err == nil {
		t.Error("emit after fill returned succeeded")
	}
}
