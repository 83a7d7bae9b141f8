package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// writeLogs writes the log of each generation in logs to dir.
func writeLogs(tb testing.TB, dir string, logs map[uint64][]byte) {
	tb.Helper()
	for gen, data := range logs {
		if err := os.WriteFile(filepath.Join(dir, LogName(gen)), data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func openAt(tb testing.TB, dir string, pos Position) *Follower {
	tb.Helper()
	f, err := OpenAt(dir, pos)
	if err != nil {
		tb.Fatalf("OpenAt(%v) = %v", pos, err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// errKind names the kind of a Follower's error, for comparisons.
func errKind(err error) string {
	var ce *CorruptError
	switch {
	case err == nil:
		return "nil"
	case err == ErrTorn:
		return "torn"
	case err == ErrNoMore:
		return "nomore"
	case errors.As(err, &ce):
		return fmt.Sprintf("corrupt@%d", ce.Offset)
	case errors.Is(err, ErrGenerationGone):
		return "gone"
	case errors.Is(err, ErrPositionLost):
		return "lost"
	case errors.Is(err, ErrInvalidPosition):
		return "invalid"
	}
	return "other: " + err.Error()
}

func nuls(n int) string { return strings.Repeat("\x00", n) }

// TestFollowerEnds reads logs to where a Follower stops: the records it
// returns, its error and its position, which the next call repeats.
func TestFollowerEnds(t *testing.T) {
	recs := testRecords(6)
	log, offs := encodeLog(recs)
	s := func(from, to int64) string { return string(log[from:to]) }
	end := int64(len(log))
	bad := bytes.Clone(log)
	bad[offs[2]+6] ^= 1 // inside the key of record 2
	tests := []struct {
		name  string
		logs  map[uint64]string
		start Position
		want  []Record // records returned
		err   string   // errKind of the error that ends them
		pos   Position // Position() then
	}{
		{"empty log", map[uint64]string{1: ""}, Position{1, 0}, nil, "nomore", Position{1, 0}},
		{"clean end", map[uint64]string{1: s(0, end)}, Position{1, 0}, recs, "nomore", Position{1, end}},
		{"from the middle", map[uint64]string{1: s(0, end)}, Position{1, offs[3]}, recs[3:], "nomore", Position{1, end}},
		{"at the end", map[uint64]string{1: s(0, end)}, Position{1, end}, nil, "nomore", Position{1, end}},
		{"padding", map[uint64]string{1: s(0, end) + nuls(100)}, Position{1, 0}, recs, "nomore", Position{1, end}},
		{"torn tail", map[uint64]string{1: s(0, offs[5]+3)}, Position{1, 0}, recs[:5], "torn", Position{1, offs[5]}},
		{"torn over padding", map[uint64]string{1: s(0, offs[5]+3) + nuls(50)}, Position{1, 0}, recs[:5], "torn", Position{1, offs[5]}},
		{"corrupt", map[uint64]string{1: string(bad)}, Position{1, 0}, recs[:2], fmt.Sprintf("corrupt@%d", offs[2]), Position{1, offs[2]}},
		{"data after padding, live", map[uint64]string{1: s(0, offs[3]) + nuls(10) + s(offs[3], end)}, Position{1, 0}, recs[:3], "nomore", Position{1, offs[3]}},
		{"next generation",
			map[uint64]string{1: s(0, offs[3]), 2: s(offs[3], end)}, Position{1, 0}, recs, "nomore", Position{2, end - offs[3]}},
		{"next generation empty", map[uint64]string{1: s(0, end), 2: ""}, Position{1, 0}, recs, "nomore", Position{2, 0}},
		{"empty generations", map[uint64]string{1: "", 2: "", 3: s(0, end)}, Position{1, 0}, recs, "nomore", Position{3, end}},
		{"padding in a finished log",
			map[uint64]string{1: s(0, offs[3]) + nuls(1000), 2: s(offs[3], end)}, Position{1, 0}, recs, "nomore", Position{2, end - offs[3]}},
		{"torn in a finished log",
			map[uint64]string{1: s(0, offs[3]+4), 2: s(offs[3], end)}, Position{1, 0}, recs[:3], fmt.Sprintf("corrupt@%d", offs[3]), Position{1, offs[3]}},
		{"data after padding in a finished log",
			map[uint64]string{1: s(0, offs[3]) + nuls(10) + s(offs[3], offs[4]), 2: ""}, Position{1, 0}, recs[:3], fmt.Sprintf("corrupt@%d", offs[3]), Position{1, offs[3]}},
		{"corrupt in a finished log", map[uint64]string{1: string(bad), 2: ""}, Position{1, 0}, recs[:2], fmt.Sprintf("corrupt@%d", offs[2]), Position{1, offs[2]}},
		{"next generation gone", map[uint64]string{1: s(0, end), 3: ""}, Position{1, 0}, recs, "gone", Position{1, end}},
		{"later generation", map[uint64]string{1: s(0, offs[3]), 2: s(offs[3], end)}, Position{2, offs[4] - offs[3]}, recs[4:], "nomore", Position{2, end - offs[3]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			logs := map[uint64][]byte{}
			for gen, data := range tt.logs {
				logs[gen] = []byte(data)
			}
			writeLogs(t, dir, logs)
			f := openAt(t, dir, tt.start)
			f.MaxRecord = 4096
			got, err := readAll(t, f)
			if errKind(err) != tt.err || f.Position() != tt.pos {
				t.Fatalf("stopped with %v at %v, want %s at %v", err, f.Position(), tt.err, tt.pos)
			}
			assertRecords(t, got, tt.want)
			var rec Record
			if again := f.Next(&rec); errKind(again) != tt.err || f.Position() != tt.pos {
				t.Errorf("Next() again = %v at %v, want %s at %v", again, f.Position(), tt.err, tt.pos)
			}
		})
	}
}

func TestOpenAt(t *testing.T) {
	recs := testRecords(3)
	log, offs := encodeLog(recs)
	dir := t.TempDir()
	writeLogs(t, dir, map[uint64][]byte{1: log, 2: append(bytes.Clone(log[:offs[1]]), make([]byte, 100)...)})
	tests := []struct {
		pos Position
		err string
	}{
		{Position{1, 0}, "nil"},
		{Position{1, offs[1]}, "nil"},
		{Position{1, int64(len(log))}, "nil"},
		{Position{1, offs[1] - 1}, "lost"},         // inside a record
		{Position{1, int64(len(log)) + 1}, "lost"}, // past the end
		{Position{2, offs[1] + 10}, "lost"},        // in the padding
		{Position{3, 0}, "gone"},
		{Position{0, 0}, "invalid"},
		{Position{1, -1}, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.pos.String(), func(t *testing.T) {
			f, err := OpenAt(dir, tt.pos)
			if errKind(err) != tt.err {
				t.Fatalf("OpenAt(%v) = %v, want %s", tt.pos, err, tt.err)
			}
			if err == nil {
				if f.Position() != tt.pos {
					t.Errorf("Position() = %v, want %v", f.Position(), tt.pos)
				}
				if err := f.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestFollowerWriter follows a preallocating Writer step by step: a record
// written in two parts over the padding, records appended in place, a new
// generation started before the old log is closed (with its padding).
func TestFollowerWriter(t *testing.T) {
	dir := t.TempDir()
	recs := testRecords(40)
	log, offs := encodeLog(recs)
	w := openWriter(t, filepath.Join(dir, LogName(1)), 0)
	w.Prealloc = 256
	f := openAt(t, dir, Position{1, 0})
	expect := func(want []Record, wantErr error, pos Position) {
		t.Helper()
		got, err := readAll(t, f)
		if err != wantErr || f.Position() != pos {
			t.Fatalf("stopped with %v at %v, want %v at %v", err, f.Position(), wantErr, pos)
		}
		assertRecords(t, got, want)
	}

	expect(nil, ErrNoMore, Position{1, 0})
	mustWrite(t, w, log[:offs[10]+7])
	expect(recs[:10], ErrTorn, Position{1, offs[10]})
	mustWrite(t, w, log[offs[10]+7:offs[20]])
	expect(recs[10:20], ErrNoMore, Position{1, offs[20]})
	for i := 20; i < 30; i++ {
		mustWrite(t, w, log[offs[i]:offs[i+1]])
	}
	expect(recs[20:30], ErrNoMore, Position{1, offs[30]})

	// Rotate as the engine does: the new log exists before the old one is
	// closed, so the old one still ends in padding.
	w2 := openWriter(t, filepath.Join(dir, LogName(2)), 0)
	w2.Prealloc = 256
	defer w2.Close()
	expect(nil, ErrNoMore, Position{2, 0})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, w2, log[offs[30]:])
	expect(recs[30:], ErrNoMore, Position{2, int64(len(log)) - offs[30]})
}

// TestFollowerConcurrentWriter follows a log while another goroutine
// appends to it, with padding, in batches and in parts of records, across
// generations: every record arrives once, in order, at its position.
func TestFollowerConcurrentWriter(t *testing.T) {
	const perGen, gens = 400, 4
	recs := testRecords(perGen * gens)
	type genLog struct {
		data []byte
		offs []int64
	}
	var logs []genLog
	var data [][]byte
	for g := range gens {
		d, offs := encodeLog(recs[g*perGen : (g+1)*perGen])
		logs = append(logs, genLog{d, append(offs, int64(len(d)))})
		data = append(data, d)
	}
	dir := t.TempDir()
	writeLogs(t, dir, map[uint64][]byte{1: nil}) // so that the follower can open it first
	// The writer waits, now and then, until the follower has caught up, so
	// that the follower often reads right behind it: records in parts,
	// padding being overwritten, a generation starting.
	caughtUp := make(chan struct{}, 1)
	stop := make(chan struct{})
	pause := func() bool {
		select {
		case <-caughtUp:
			return true
		case <-stop:
			return false
		}
	}
	var writerErr error
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		writerErr = writeGenerations(dir, data, pause)
	}()
	t.Cleanup(func() {
		close(stop)
		<-writerDone
	})

	f := openAt(t, dir, Position{1, 0})
	deadline := time.Now().Add(time.Minute)
	polls, torn := 0, 0
	for i := 0; i < len(recs); {
		var rec Record
		err := f.Next(&rec)
		if errors.Is(err, ErrNoMore) {
			if time.Now().After(deadline) {
				t.Fatalf("record %d did not arrive; at %v", i, f.Position())
			}
			polls++
			if err == ErrTorn {
				torn++
			}
			select {
			case caughtUp <- struct{}{}:
			default:
			}
			runtime.Gosched()
			continue
		}
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		assertRecord(t, &rec, &recs[i])
		g := i / perGen
		if want := (Position{uint64(g + 1), logs[g].offs[i%perGen+1]}); f.Position() != want {
			t.Fatalf("record %d: Position() = %v, want %v", i, f.Position(), want)
		}
		i++
	}
	<-writerDone
	if writerErr != nil {
		t.Fatal(writerErr)
	}
	var rec Record
	if err := f.Next(&rec); err != ErrNoMore {
		t.Errorf("Next() after the last record = %v, want ErrNoMore", err)
	}
	t.Logf("%d records; %d polls found nothing new, %d of them a record in part", len(recs), polls, torn)
}

// writeGenerations writes logs[g] as the log of generation g+1, as the
// engine does: with padding, in random batches (so sometimes a record in two
// writes), and each new log opened before the old one is closed. After a
// third of the batches it calls pause, and gives up if that returns false.
func writeGenerations(dir string, logs [][]byte, pause func() bool) error {
	rnd := rand.New(rand.NewPCG(1, 2))
	w, err := OpenWriter(filepath.Join(dir, LogName(1)), 0)
	if err != nil {
		return err
	}
	for g := range logs {
		if g > 0 {
			next, err := OpenWriter(filepath.Join(dir, LogName(uint64(g+1))), 0)
			if err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			w = next
		}
		w.Prealloc = 300
		b := logs[g]
		for len(b) > 0 {
			n := min(len(b), 1+rnd.IntN(600)) // a batch, maybe ending inside a record
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
			if rnd.IntN(3) == 0 && !pause() {
				w.Close()
				return errors.New("stopped")
			}
		}
	}
	return w.Close()
}

// TestFollowerGenerationGone: a follower that falls behind compaction
// finishes the log it has open, then reports ErrGenerationGone, and keeps
// its position; opening at a removed log reports it too.
func TestFollowerGenerationGone(t *testing.T) {
	recs := testRecords(9)
	log, offs := encodeLog(recs)
	dir := t.TempDir()
	writeLogs(t, dir, map[uint64][]byte{1: log[:offs[3]], 2: log[offs[3]:offs[6]], 3: log[offs[6]:]})
	f := openAt(t, dir, Position{1, offs[1]})
	var rec Record
	if err := f.Next(&rec); err != nil {
		t.Fatal(err)
	}
	for _, gen := range []uint64{1, 2} { // compaction at generation 3
		if err := os.Remove(filepath.Join(dir, LogName(gen))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := readAll(t, f)
	want := Position{1, offs[3]}
	if !errors.Is(err, ErrGenerationGone) || f.Position() != want {
		t.Fatalf("stopped with %v at %v, want ErrGenerationGone at %v", err, f.Position(), want)
	}
	assertRecords(t, got, recs[2:3]) // the rest of the open log
	if err := f.Next(&rec); !errors.Is(err, ErrGenerationGone) {
		t.Errorf("Next() again = %v, want ErrGenerationGone", err)
	}
	if _, err := OpenAt(dir, Position{2, 0}); !errors.Is(err, ErrGenerationGone) {
		t.Errorf("OpenAt a removed log: %v, want ErrGenerationGone", err)
	}

	// A log removed with no newer one in sight is finished too: the
	// follower reads it to the end, then reports the next one gone.
	dir = t.TempDir()
	writeLogs(t, dir, map[uint64][]byte{1: log})
	f = openAt(t, dir, Position{1, 0})
	if err := os.Remove(filepath.Join(dir, LogName(1))); err != nil {
		t.Fatal(err)
	}
	got, err = readAll(t, f)
	if !errors.Is(err, ErrGenerationGone) || f.Position() != (Position{1, int64(len(log))}) {
		t.Fatalf("stopped with %v at %v, want ErrGenerationGone at the end of log 1", err, f.Position())
	}
	assertRecords(t, got, recs)
}

// TestFollowerRemovedLogWithNext: the log being read is removed while the
// next one is there: the follower reads the rest of the open file, then
// the next log.
func TestFollowerRemovedLogWithNext(t *testing.T) {
	recs := testRecords(6)
	log, offs := encodeLog(recs)
	dir := t.TempDir()
	writeLogs(t, dir, map[uint64][]byte{1: log[:offs[3]], 2: log[offs[3]:]})
	f := openAt(t, dir, Position{1, 0})
	if err := os.Remove(filepath.Join(dir, LogName(1))); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, f)
	if err != ErrNoMore {
		t.Fatalf("stopped with %v at %v", err, f.Position())
	}
	assertRecords(t, got, recs)
}

// TestFollowerPositionLost: records that the follower has read are lost
// (a machine crash dropped unsynced writes) and others written in their
// place: the follower reports it instead of reading from the middle of a
// record.
func TestFollowerPositionLost(t *testing.T) {
	recs := testRecords(10)
	log, offs := encodeLog(recs)
	path := filepath.Join(t.TempDir(), LogName(1))
	writeLogs(t, filepath.Dir(path), map[uint64][]byte{1: log[:offs[5]]})
	f := openAt(t, filepath.Dir(path), Position{1, 0})
	if got, err := readAll(t, f); err != ErrNoMore || len(got) != 5 {
		t.Fatalf("read %d records, then %v", len(got), err)
	}
	other, _ := encodeLog(testRecords(1)) // shorter than the records lost
	if err := os.WriteFile(path, append(bytes.Clone(log[:offs[3]]), other...), 0o644); err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := f.Next(&rec); !errors.Is(err, ErrPositionLost) {
		t.Fatalf("Next() = %v, want ErrPositionLost", err)
	}
	if err := os.WriteFile(path, log, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Next(&rec); !errors.Is(err, ErrPositionLost) {
		t.Errorf("Next() = %v, want ErrPositionLost to stick", err)
	}
}

func TestFollowerClose(t *testing.T) {
	dir := t.TempDir()
	writeLogs(t, dir, map[uint64][]byte{1: nil})
	f := openAt(t, dir, Position{1, 0})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	var rec Record
	if err := f.Next(&rec); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Next() after Close() = %v", err)
	}
}

// TestFollowerRecordsAreTheCallers: records from Next share nothing with
// the follower, so records kept across calls stay intact.
func TestFollowerRecordsAreTheCallers(t *testing.T) {
	recs := testRecords(50)
	log, _ := encodeLog(recs)
	dir := t.TempDir()
	writeLogs(t, dir, map[uint64][]byte{1: log})
	f := openAt(t, dir, Position{1, 0})
	got, err := readAll(t, f)
	if err != ErrNoMore {
		t.Fatal(err)
	}
	assertRecords(t, got, recs)
}

// FuzzFollower follows arbitrary bytes written in two steps, the second
// over padding as a preallocating writer does, then maybe finishes the log
// by starting the next generation. It must return exactly what a Reader of
// the final bytes returns, end as it does, never step backwards, and
// report a finished log's torn tail or data after padding as corrupt.
func FuzzFollower(f *testing.F) {
	log, offs := encodeLog(testRecords(5))
	f.Add(log, uint(offs[2]+3), false)
	f.Add(log, uint(offs[2]), true)
	f.Add(append(bytes.Clone(log), 0, 0, 'V'), uint(len(log)), true)
	f.Add(append(bytes.Clone(log[:len(log)-9]), 0, 0, 0), uint(10), true)
	f.Add([]byte("VPUT a=b@1.0.a sfo 00000000\n\x00"), uint(5), false)
	f.Fuzz(func(t *testing.T, data []byte, cut uint, finish bool) {
		k := int(cut % uint(len(data)+1))
		dir := t.TempDir()
		path := filepath.Join(dir, LogName(1))
		first := append(bytes.Clone(data[:k]), make([]byte, len(data)-k+16)...)
		writeLogs(t, dir, map[uint64][]byte{1: first})
		fl := openAt(t, dir, Position{1, 0})
		fl.MaxRecord = 4096
		var got []Record
		follow := func() error {
			for {
				var rec Record
				before := fl.Position()
				err := fl.Next(&rec)
				if fl.Position().Compare(before) < 0 {
					t.Fatalf("position went from %v back to %v", before, fl.Position())
				}
				if err != nil {
					return err
				}
				got = append(got, rec)
			}
		}
		if err := follow(); err != nil && !errors.Is(err, ErrNoMore) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("first part: %v", err)
		}
		full := append(bytes.Clone(data), make([]byte, 16)...)
		if err := os.WriteFile(path, full, 0o644); err != nil {
			t.Fatal(err)
		}
		if finish {
			writeLogs(t, dir, map[uint64][]byte{2: nil})
		}
		err := follow()

		r := NewReader(bytes.NewReader(full), 0)
		r.MaxRecord = 4096
		want, werr := readAll(t, r)
		assertRecords(t, got, want)
		wantKind := map[error]string{io.EOF: "nomore", io.ErrUnexpectedEOF: "torn"}[werr]
		if wantKind == "" {
			wantKind = errKind(werr)
		}
		if finish && wantKind == "torn" {
			wantKind = fmt.Sprintf("corrupt@%d", r.Offset())
		}
		if finish && wantKind == "nomore" {
			if bytes.ContainsFunc(full[r.Offset():], func(c rune) bool { return c != 0 }) {
				wantKind = fmt.Sprintf("corrupt@%d", r.Offset())
			}
		}
		wantPos := Position{1, r.Offset()}
		if finish && wantKind == "nomore" {
			wantPos = Position{2, 0}
		}
		if errKind(err) != wantKind || fl.Position() != wantPos {
			t.Fatalf("follower stopped with %v at %v; want %s at %v", err, fl.Position(), wantKind, wantPos)
		}
	})
}

// BenchmarkFollowerPoll is a follower that is caught up asking for more,
// at the padding a preallocating writer keeps ahead of its records.
func BenchmarkFollowerPoll(b *testing.B) {
	dir := b.TempDir()
	log, _ := encodeLog(testRecords(100))
	writeLogs(b, dir, map[uint64][]byte{1: append(log, make([]byte, 1<<20)...)})
	f := openAt(b, dir, Position{1, 0})
	if _, err := readAll(b, f); err != ErrNoMore {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var rec Record
	for b.Loop() {
		if err := f.Next(&rec); err != ErrNoMore {
			b.Fatal(err)
		}
	}
}

// BenchmarkFollowerCatchUp reads 100k records with a Follower, as
// BenchmarkReader does with a Reader.
func BenchmarkFollowerCatchUp(b *testing.B) {
	const n = 100_000
	rec := benchRecord()
	var log []byte
	for i := range n {
		rec.Key = fmt.Appendf(rec.Key[:0], "user:%010d/", i)
		rec.Version.Time++
		log = AppendRecord(log, rec)
	}
	dir := b.TempDir()
	writeLogs(b, dir, map[uint64][]byte{1: log})
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := OpenAt(dir, Position{1, 0})
		if err != nil {
			b.Fatal(err)
		}
		var rec Record
		count := 0
		for f.Next(&rec) == nil {
			count++
		}
		f.Close()
		if count != n {
			b.Fatalf("read %d records, want %d", count, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// TestReaderReset: a Reader reset onto a file it stopped in at padding
// reads what was written over the padding since, and keeps its buffer.
func TestReaderReset(t *testing.T) {
	recs := testRecords(10)
	log, offs := encodeLog(recs)
	file := append(bytes.Clone(log[:offs[4]]), make([]byte, 1000)...)
	r := NewReader(bytes.NewReader(file), 0)
	got, err := readAll(t, r)
	if err != io.EOF || r.Offset() != offs[4] {
		t.Fatalf("stopped with %v at %d, want io.EOF at %d", err, r.Offset(), offs[4])
	}
	assertRecords(t, got, recs[:4])
	buf := r.buf
	copy(file[offs[4]:], log[offs[4]:])
	r.Reset(bytes.NewReader(file[offs[4]:]), offs[4])
	got, err = readAll(t, r)
	if err != io.EOF || r.Offset() != int64(len(log)) {
		t.Fatalf("after Reset: stopped with %v at %d, want io.EOF at %d", err, r.Offset(), len(log))
	}
	assertRecords(t, got, recs[4:])
	if r.buf != buf {
		t.Error("Reset allocated a new buffer")
	}
}
