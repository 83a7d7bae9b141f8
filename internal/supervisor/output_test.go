package supervisor

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"hello\n"}, "p | hello\n"},
		{"lines in one write", []string{"a\nb\n"}, "p | a\np | b\n"},
		{"line across writes", []string{"hel", "lo\nwor", "ld\n"}, "p | hello\np | world\n"},
		{"empty lines", []string{"\n\n"}, "p | \np | \n"},
		{"crlf", []string{"dos\r\n"}, "p | dos\n"},
		{"unterminated flushed", []string{"a\ntail"}, "p | a\np | tail\n"},
		{"exactly max", []string{"abcdefgh\n"}, "p | abcdefgh\n"},
		{"over-long line split", []string{"abcdefghij\n"}, "p | abcdefgh\np | ij\n"},
		{"over-long across writes", []string{"abcde", "fghij", "klmnopqrs"}, "p | abcdefgh\np | ijklmnop\np | qrs\n"},
		{"nothing", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sb strings.Builder
			lw := newLineWriter(newOutput(&sb), "p")
			lw.max = 8
			for _, w := range tt.writes {
				if n, err := lw.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			lw.Flush()
			if got := sb.String(); got != tt.want {
				t.Errorf("output %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOutputLinesDoNotInterleave writes from several streams at once, in
// pieces that split lines, and checks every line comes out whole.
func TestOutputLinesDoNotInterleave(t *testing.T) {
	const streams, lines = 4, 200
	buf := &syncBuffer{}
	out := newOutput(buf)
	var wg sync.WaitGroup
	for i := range streams {
		lw := newLineWriter(out, fmt.Sprintf("s%d", i))
		wg.Go(func() {
			for j := range lines {
				line := fmt.Sprintf("line %d of stream %d\n", j, i)
				lw.Write([]byte(line[:5]))
				lw.Write([]byte(line[5:]))
			}
		})
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(got) != streams*lines {
		t.Fatalf("got %d lines, want %d", len(got), streams*lines)
	}
	for _, line := range got {
		var i, j, k int
		if _, err := fmt.Sscanf(line, "s%d | line %d of stream %d", &i, &j, &k); err != nil || i != k {
			t.Errorf("mangled line %q", line)
		}
	}
}
