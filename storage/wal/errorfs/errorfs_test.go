package errorfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// writeN opens name in e and writes "ab" n times with WriteAt, returning the
// result of each write.
func writeN(tb testing.TB, e *FS, name string, n int) []error {
	tb.Helper()
	f, err := e.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	errs := make([]error, n)
	for i := range errs {
		_, errs[i] = f.WriteAt([]byte("ab"), int64(2*i))
	}
	return errs
}

func failed(errs []error) []int {
	var idx []int
	for i, err := range errs {
		if err != nil {
			idx = append(idx, i)
		}
	}
	return idx
}

func TestFaultPicks(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	tests := []struct {
		name   string
		faults []Fault
		path   string
		want   []int // failing writes of five
	}{
		{"none", nil, a, nil},
		{"first", []Fault{{Op: OpWrite}}, a, []int{0}},
		{"third", []Fault{{Op: OpWrite, Index: 2}}, a, []int{2}},
		{"other op", []Fault{{Op: OpSync}}, a, nil},
		{"from the fourth on", []Fault{{Op: OpWrite, Index: 3, Repeat: true}}, a, []int{3, 4}},
		{"this file", []Fault{{Op: OpWrite, Index: 1, Path: a}}, a, []int{1}},
		{"another file", []Fault{{Op: OpWrite, Path: b}}, a, nil},
		{"two faults", []Fault{{Op: OpWrite, Index: 1}, {Op: OpWrite, Index: 4}}, a, []int{1, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := New(nil)
			for _, f := range tt.faults {
				e.Inject(f)
			}
			got := failed(writeN(t, e, tt.path, 5))
			if len(got) != len(tt.want) {
				t.Fatalf("writes %v failed, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("writes %v failed, want %v", got, tt.want)
				}
			}
			if n := e.Count(OpWrite); n != 5 {
				t.Errorf("Count(OpWrite) = %d, want 5", n)
			}
		})
	}
}

// TestFaultIndexFromInjection: Index counts from when the fault is added.
func TestFaultIndexFromInjection(t *testing.T) {
	e := New(nil)
	name := filepath.Join(t.TempDir(), "log")
	writeN(t, e, name, 3)
	e.Inject(Fault{Op: OpWrite, Index: 1})
	if got := failed(writeN(t, e, name, 3)); len(got) != 1 || got[0] != 1 {
		t.Errorf("writes %v failed, want [1]", got)
	}
	e.Reset()
	e.Inject(Fault{Op: OpWrite, Repeat: true})
	e.Reset()
	if got := failed(writeN(t, e, name, 3)); len(got) != 0 {
		t.Errorf("writes %v failed after Reset", got)
	}
}

func TestFaultErrors(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	eio := errors.New("EIO")
	e := New(nil)
	e.Inject(Fault{Op: OpSync, Err: eio})
	e.Inject(Fault{Op: OpTruncate})
	e.Inject(Fault{Op: OpClose})
	f, err := e.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Datasync()
	var pe *fs.PathError
	if !errors.Is(err, eio) || !errors.As(err, &pe) || pe.Path != name || pe.Op != "sync" {
		t.Errorf("Datasync() = %v, want EIO in a *fs.PathError for %s", err, name)
	}
	if err := f.Sync(); err != nil {
		t.Errorf("Sync() after the fault = %v", err)
	}
	if err := f.Truncate(0); !errors.Is(err, ErrInjected) {
		t.Errorf("Truncate() = %v, want ErrInjected", err)
	}
	if err := f.Close(); !errors.Is(err, ErrInjected) {
		t.Errorf("Close() = %v, want ErrInjected", err)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("Write() after a failed Close succeeded: the file was left open")
	}

	e.Inject(Fault{Op: OpRename, Path: filepath.Join(dir, "g")})
	e.Inject(Fault{Op: OpRemove})
	if err := e.Rename(name, filepath.Join(dir, "g")); !errors.Is(err, ErrInjected) {
		t.Errorf("Rename() to a picked name = %v", err)
	}
	if err := e.Remove(name); !errors.Is(err, ErrInjected) {
		t.Errorf("Remove() = %v", err)
	}
	if _, err := os.Stat(name); err != nil {
		t.Errorf("a failed Remove removed the file: %v", err)
	}
	e.Inject(Fault{Op: OpOpen})
	if _, err := e.OpenFile(name, os.O_RDONLY, 0); !errors.Is(err, ErrInjected) {
		t.Errorf("OpenFile() = %v", err)
	}
}

// TestTornWrite: a torn write writes half its bytes, then fails.
func TestTornWrite(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	e := New(nil)
	e.Inject(Fault{Op: OpWrite, Index: 1, Torn: true})
	f, err := e.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("whole\n")); err != nil {
		t.Fatal(err)
	}
	if n, err := f.Write([]byte("torn record\n")); n != 6 || !errors.Is(err, ErrInjected) {
		t.Fatalf("torn Write() = %d, %v; want 6 bytes and ErrInjected", n, err)
	}
	if got, _ := os.ReadFile(name); string(got) != "whole\ntorn r" {
		t.Errorf("file holds %q", got)
	}
}

func TestOpString(t *testing.T) {
	for op := range numOps {
		if s := op.String(); s == "" || s == "Op(?)" {
			t.Errorf("Op(%d).String() = %q", op, s)
		}
	}
	if s := numOps.String(); s != "Op(?)" {
		t.Errorf("numOps.String() = %q", s)
	}
}
