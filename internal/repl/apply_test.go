package repl

import (
	"bytes"
	"errors"
	"testing"
)

// TestParseApply: REPL.APPLY's tagged items round-trip; a bad item fails
// the whole command with ErrApplySyntax and no items.
func TestParseApply(t *testing.T) {
	items := []Item{
		{Key: []byte("a"), Value: []byte("1"), Version: v1},
		{Key: []byte("b"), Version: v2, Delete: true},
		{Key: []byte(""), Value: []byte(""), Version: v2},
	}
	got, err := ParseApply(nil, AppendApply(nil, items))
	if err != nil || len(got) != 3 {
		t.Fatalf("%v, %d items", err, len(got))
	}
	for i := range items {
		if !bytes.Equal(got[i].Key, items[i].Key) || !bytes.Equal(got[i].Value, items[i].Value) ||
			got[i].Version != items[i].Version || got[i].Delete != items[i].Delete {
			t.Fatalf("item %d: %+v, want %+v", i, got[i], items[i])
		}
	}
	for _, bad := range [][]string{
		{"REPL.APPLY"},
		{"REPL.APPLY", "PUT", "a", "1"},
		{"REPL.APPLY", "DEL", "a"},
		{"REPL.APPLY", "SET", "a", "1", v1Text},
		{"REPL.APPLY", "PUT", "a", "1", "x.0.n"},
		{"REPL.APPLY", "PUT", "a", "1", v1Text, "DEL"},
		{"REPL.PUT", "a", "1", v1Text},
	} {
		a := make([][]byte, len(bad))
		for i, s := range bad {
			a[i] = []byte(s)
		}
		if items, err := ParseApply(nil, a); !errors.Is(err, ErrApplySyntax) || len(items) != 0 {
			t.Errorf("%q: %v with %d items", bad, err, len(items))
		}
	}
}

// FuzzParseApply: ParseApply never panics, fails whole or not at all, and
// what it accepts rebuilds (AppendApply) to a command that parses to the
// same items.
func FuzzParseApply(f *testing.F) {
	f.Add([]byte("PUT\nk\nv\n" + v1Text + "\nDEL\nk\n" + v2Text))
	f.Add([]byte("del\nk\n" + v2Text))
	f.Add([]byte("PUT\nk\nv"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a := append([][]byte{[]byte(Apply)}, bytes.Split(data, []byte("\n"))...)
		items, err := ParseApply(nil, a)
		if err != nil {
			if len(items) != 0 || !errors.Is(err, ErrApplySyntax) {
				t.Fatalf("%v with %d items", err, len(items))
			}
			return
		}
		again, err := ParseApply(nil, AppendApply(nil, items))
		if err != nil || len(again) != len(items) {
			t.Fatalf("rebuilt: %v, %d items of %d", err, len(again), len(items))
		}
		for i := range items {
			if !bytes.Equal(again[i].Key, items[i].Key) || !bytes.Equal(again[i].Value, items[i].Value) ||
				again[i].Version != items[i].Version || again[i].Delete != items[i].Delete {
				t.Fatalf("item %d: %+v, was %+v", i, again[i], items[i])
			}
		}
	})
}
