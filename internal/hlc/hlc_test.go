package hlc

import (
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		v, w Version
		want int
	}{
		{Version{}, Version{}, 0},
		{Version{1, "a"}, Version{1, "a"}, 0},
		{Version{1, "a"}, Version{2, "a"}, -1},
		{Version{2, "a"}, Version{1, "z"}, +1},
		{Version{1, "a"}, Version{1, "b"}, -1},
		{Version{1, "b"}, Version{1, "a"}, +1},
		{Version{1, "a"}, Version{1, "a-"}, -1},
		{Version{1, "nyc-1"}, Version{1, "nyc-10"}, -1},
		{Version{}, Version{0, "a"}, -1},
		{Version{math.MaxUint64, "a"}, Version{0, "z"}, +1},
	}
	for _, tt := range tests {
		if got := tt.v.Compare(tt.w); got != tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.v, tt.w, got, tt.want)
		}
		if got := tt.w.Compare(tt.v); got != -tt.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", tt.w, tt.v, got, -tt.want)
		}
		if got := tt.v.Newer(tt.w); got != (tt.want > 0) {
			t.Errorf("%v.Newer(%v) = %v", tt.v, tt.w, got)
		}
	}
}

func TestAccessors(t *testing.T) {
	v := Version{Time: 1763768229000<<16 | 3, Node: "sfo-10600"}
	if got, want := v.WallTime(), time.UnixMilli(1763768229000); !got.Equal(want) {
		t.Errorf("WallTime() = %v, want %v", got, want)
	}
	if got := v.Logical(); got != 3 {
		t.Errorf("Logical() = %d, want 3", got)
	}
	if v.IsZero() || (Version{Node: "a"}).IsZero() || (Version{Time: 1}).IsZero() {
		t.Error("IsZero() = true for a non-zero version")
	}
	if !(Version{}).IsZero() {
		t.Error("Version{}.IsZero() = false")
	}
}

func TestStringParseRoundTrip(t *testing.T) {
	tests := []struct {
		v    Version
		text string
	}{
		{Version{1763768229000<<16 | 3, "sfo-10600"}, "1763768229000.3.sfo-10600"},
		{Version{0, "a"}, "0.0.a"},
		{Version{1, "0"}, "0.1.0"},
		{Version{1 << 16, "-"}, "1.0.-"},
		{Version{math.MaxUint64, strings.Repeat("z", 64)}, "281474976710655.65535." + strings.Repeat("z", 64)},
		{Version{10<<16 | 65535, "ams-1"}, "10.65535.ams-1"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.text {
			t.Errorf("String() = %q, want %q", got, tt.text)
		}
		if got := string(tt.v.AppendText([]byte("x"))); got != "x"+tt.text {
			t.Errorf("AppendText() = %q, want %q", got, "x"+tt.text)
		}
		got, err := ParseVersion([]byte(tt.text))
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", tt.text, err)
			continue
		}
		if got != tt.v {
			t.Errorf("ParseVersion(%q) = %#v, want %#v", tt.text, got, tt.v)
		}
	}
}

func TestParseVersionRejects(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "want <wallms>.<logical>.<node>"},
		{"one dot", "1.2", "want <wallms>.<logical>.<node>"},
		{"no dot", "12", "want <wallms>.<logical>.<node>"},
		{"leading zero wall", "01.2.a", "wall time"},
		{"leading zero logical", "1.02.a", "logical"},
		{"empty wall", ".2.a", "wall time"},
		{"empty logical", "1..a", "logical"},
		{"sign", "+1.2.a", "wall time"},
		{"negative", "-1.2.a", "wall time"},
		{"hex", "0x1.2.a", "wall time"},
		{"logical too big", "1.65536.a", "logical"},
		{"wall 2^48", "281474976710656.0.a", "wall time"},
		{"wall overflows uint64", "99999999999999999999999.0.a", "wall time"},
		{"uppercase node", "1.2.A", "node"},
		{"empty node", "1.2.", "node"},
		{"dot in node", "1.2.a.b", "node"},
		{"underscore in node", "1.2.a_b", "node"},
		{"node too long", "1.2." + strings.Repeat("a", 65), "node"},
		{"trailing space", "1.2.a ", "node"},
		{"leading space", " 1.2.a", "wall time"},
		{"newline", "1.2.a\n", "node"},
		{"non-ascii node", "1.2.é", "node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseVersion([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseVersion(%q) = %v, want error", tt.in, v)
			}
			if !errors.Is(err, ErrInvalidVersion) {
				t.Errorf("error %v does not wrap ErrInvalidVersion", err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not mention %q", err, tt.reason)
			}
		})
	}
}

func TestParseVersionErrorText(t *testing.T) {
	_, err := ParseVersion([]byte("x"))
	const want = `hlc: invalid version "x": want <wallms>.<logical>.<node>`
	if err == nil || err.Error() != want {
		t.Errorf("ParseVersion(x) error = %v, want %s", err, want)
	}
}

func TestValidNode(t *testing.T) {
	for _, ok := range []string{"a", "sfo-10600", "0", "-", strings.Repeat("9", 64)} {
		if err := ValidNode(ok); err != nil {
			t.Errorf("ValidNode(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "A", "a b", "a.b", "a_b", "ü", strings.Repeat("a", 65)} {
		if ValidNode(bad) == nil {
			t.Errorf("ValidNode(%q) = nil, want error", bad)
		}
	}
}

func TestNext(t *testing.T) {
	ms := func(n int64) time.Time { return time.UnixMilli(n) }
	tests := []struct {
		name string
		last uint64
		wall time.Time
		want uint64
	}{
		{"wall ahead", 5<<16 | 7, ms(6), 6 << 16},
		{"same millisecond", 6<<16 | 7, ms(6), 6<<16 | 8},
		{"wall behind", 9 << 16, ms(6), 9<<16 | 1},
		{"logical carries into wall", 6<<16 | 0xFFFF, ms(6), 7 << 16},
		{"zero", 0, ms(0), 1},
		{"before epoch", 0, ms(-5), 1},
		{"beyond 2^48 ms", 0, ms(1 << 50), maxWallMillis << 16},
		{"saturates", math.MaxUint64, ms(6), math.MaxUint64},
	}
	for _, tt := range tests {
		if got := Next(tt.last, tt.wall); got != tt.want {
			t.Errorf("%s: Next(%#x, %v) = %#x, want %#x", tt.name, tt.last, tt.wall, got, tt.want)
		}
	}
}

// fakeWall is a wall clock the test moves by hand.
type fakeWall struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeWall) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeWall) set(ms int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = time.UnixMilli(ms)
}

func newTestClock(tb testing.TB, node string, wall *fakeWall) *Clock {
	tb.Helper()
	c, err := NewClock(node, wall.now)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestNewClockRejectsInvalidNode(t *testing.T) {
	if c, err := NewClock("SFO", nil); err == nil {
		t.Fatalf("NewClock(SFO) = %v, want error", c)
	}
	c, err := NewClock("sfo-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Node() != "sfo-1" {
		t.Errorf("Node() = %q", c.Node())
	}
	if v := c.Now(); v.Node != "sfo-1" || time.Since(v.WallTime()) > time.Hour {
		t.Errorf("Now() with time.Now = %v", v)
	}
}

func TestClockMonotonicWhenWallGoesBackwards(t *testing.T) {
	wall := &fakeWall{}
	c := newTestClock(t, "sfo-1", wall)
	steps := []int64{1000, 1000, 1000, 999, 500, 1001, 1001, 2000, 10, 0, -100, 3000}
	var prev Version
	for i, ms := range steps {
		wall.set(ms)
		v := c.Now()
		if !v.Newer(prev) || v.Time <= prev.Time {
			t.Fatalf("step %d (wall %d): Now() = %v, not after %v", i, ms, v, prev)
		}
		if v.WallTime().UnixMilli() < ms {
			t.Fatalf("step %d: Now() = %v is behind the wall clock %d", i, v, ms)
		}
		if v.Node != "sfo-1" {
			t.Fatalf("Now().Node = %q", v.Node)
		}
		prev = v
	}
	if got := prev.String(); got != "3000.0.sfo-1" {
		t.Errorf("last version = %s, want 3000.0.sfo-1 (back on the wall clock)", got)
	}
}

func TestClockObserve(t *testing.T) {
	wall := &fakeWall{}
	wall.set(1000)
	c := newTestClock(t, "sfo-1", wall)
	remote := Version{Time: 5000<<16 | 42, Node: "nyc-1"}
	c.Observe(remote)
	v := c.Now()
	if !v.Newer(remote) || v.Time <= remote.Time {
		t.Fatalf("Now() = %v after Observe(%v), want newer", v, remote)
	}
	c.Observe(Version{Time: 10, Node: "ams-1"}) // older: no effect
	if w := c.Now(); w.Time != v.Time+1 {
		t.Errorf("Now() = %v after observing an old version, want Time %d", w, v.Time+1)
	}
	wall.set(6000)
	if w := c.Now(); w.String() != "6000.0.sfo-1" {
		t.Errorf("Now() = %v once the wall clock passes, want 6000.0.sfo-1", w)
	}
}

func TestClockConcurrentNow(t *testing.T) {
	wall := &fakeWall{}
	wall.set(1000)
	c := newTestClock(t, "sfo-1", wall)
	const goroutines, perGoroutine = 8, 2000
	results := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			got := make([]uint64, 0, perGoroutine)
			for i := range perGoroutine {
				if g == 0 && i%100 == 0 {
					wall.set(1000 + int64(i%300) - 150) // wobble, sometimes backwards
				}
				if g == 1 && i%50 == 0 {
					c.Observe(Version{Time: uint64(1000+i)<<16 | 5, Node: "nyc-1"})
				}
				got = append(got, c.Now().Time)
			}
			results[g] = got
		})
	}
	wg.Wait()
	seen := make(map[uint64]bool, goroutines*perGoroutine)
	for g, got := range results {
		for i, ts := range got {
			if i > 0 && ts <= got[i-1] {
				t.Fatalf("goroutine %d: Now() #%d = %#x, not after %#x", g, i, ts, got[i-1])
			}
			if seen[ts] {
				t.Fatalf("timestamp %#x issued twice", ts)
			}
			seen[ts] = true
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{
		"1763768229000.3.sfo-10600", "0.0.a", "1.2", "01.2.a", "1.65536.a",
		"281474976710655.65535.z", "281474976710656.0.a", "1.2.A", "", "..", "1.2.-",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 256 {
			return // longer than any version: slow to minimize, nothing new
		}
		v, err := ParseVersion(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidVersion) {
				t.Fatalf("error %v does not wrap ErrInvalidVersion", err)
			}
			return
		}
		if got := v.String(); got != string(b) {
			t.Fatalf("ParseVersion(%q).String() = %q", b, got)
		}
	})
}

func BenchmarkClockNow(b *testing.B) {
	c, err := NewClock("sfo-10600", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Now()
	}
}

func BenchmarkParseVersion(b *testing.B) {
	text := []byte("1763768229000.3.sfo-10600")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseVersion(text); err != nil {
			b.Fatal(err)
		}
	}
}
