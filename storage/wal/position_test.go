package wal

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
)

func TestPositionText(t *testing.T) {
	tests := []struct {
		text string
		pos  Position
		ok   bool
	}{
		{"1:0", Position{1, 0}, true},
		{"3:1024", Position{3, 1024}, true},
		{"0:0", Position{}, true},
		{"18446744073709551615:9223372036854775807", Position{math.MaxUint64, math.MaxInt64}, true},
		{"18446744073709551616:0", Position{}, false},
		{"1:9223372036854775808", Position{}, false},
		{"1:-1", Position{}, false},
		{"-1:0", Position{}, false},
		{"+1:0", Position{}, false},
		{"01:0", Position{}, false},
		{"1:00", Position{}, false},
		{"1:0:0", Position{}, false},
		{"1_0:0", Position{}, false},
		{"1", Position{}, false},
		{":", Position{}, false},
		{"", Position{}, false},
		{" 1:0", Position{}, false},
		{"0x1:0", Position{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			pos, err := ParsePosition(tt.text)
			if tt.ok != (err == nil) || pos != tt.pos {
				t.Fatalf("ParsePosition(%q) = %v, %v; want %v, ok=%v", tt.text, pos, err, tt.pos, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, ErrInvalidPosition) {
					t.Errorf("error %v does not wrap ErrInvalidPosition", err)
				}
				return
			}
			if s := pos.String(); s != tt.text {
				t.Errorf("String() = %q, want %q", s, tt.text)
			}
		})
	}
}

func TestPositionJSON(t *testing.T) {
	type cursor struct{ Pos Position }
	b, err := json.Marshal(cursor{Position{7, 42}})
	if err != nil || string(b) != `{"Pos":"7:42"}` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Pos != (Position{7, 42}) {
		t.Fatalf("json.Unmarshal = %v, %v", c.Pos, err)
	}
	if err := json.Unmarshal([]byte(`{"Pos":"7"}`), &c); !errors.Is(err, ErrInvalidPosition) {
		t.Errorf("json.Unmarshal of a bad position: %v", err)
	}
}

func TestPositionCompare(t *testing.T) {
	sorted := []Position{{}, {0, 5}, {1, 0}, {1, 1}, {1, math.MaxInt64}, {2, 0}, {math.MaxUint64, 0}}
	for i, p := range sorted {
		for j, q := range sorted {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := p.Compare(q); got != want {
				t.Errorf("%v.Compare(%v) = %d, want %d", p, q, got, want)
			}
		}
	}
	shuffled := slices.Clone(sorted)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, Position.Compare)
	if !slices.Equal(shuffled, sorted) {
		t.Errorf("sorted with Compare: %v", shuffled)
	}
}

// FuzzParsePosition: what parses prints back as the same text.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"1:0", "3:1024", "01:2", "1:-0", "18446744073709551615:9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := ParsePosition(s)
		if err != nil {
			return
		}
		if pos.String() != s || pos.Offset < 0 {
			t.Fatalf("ParsePosition(%q) = %v, which prints as %q", s, pos, pos.String())
		}
	})
}
