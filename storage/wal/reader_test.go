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
	"testing"
	"testing/iotest"
)

// testRecords returns n different records: puts with assorted keys and
// values, every fifth a delete.
func testRecords(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{
			Op:      Put,
			Key:     fmt.Appendf(nil, "key %d=@%%", i),
			Value:   bytes.Repeat([]byte{byte(i)}, i%50),
			Version: ver(1763768229000+uint64(i), uint64(i%3), "sfo-10600"),
			Origin:  []string{"sfo", "nyc", "ams"}[i%3],
		}
		if i%5 == 4 {
			recs[i].Op, recs[i].Value = Del, nil
		}
	}
	return recs
}

// encodeLog returns the log of recs and the offset where each record starts.
func encodeLog(recs []Record) ([]byte, []int64) {
	var log []byte
	offsets := make([]int64, len(recs))
	for i := range recs {
		offsets[i] = int64(len(log))
		log = AppendRecord(log, &recs[i])
	}
	return log, offsets
}

// readAll reads records from r (a Reader or a Follower) until an error,
// which it returns with the records read.
func readAll(tb testing.TB, r interface{ Next(*Record) error }) ([]Record, error) {
	tb.Helper()
	var got []Record
	for {
		var rec Record
		if err := r.Next(&rec); err != nil {
			return got, err
		}
		got = append(got, rec)
	}
}

func assertRecords(tb testing.TB, got, want []Record) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		assertRecord(tb, &got[i], &want[i])
	}
}

func TestReaderReadsAll(t *testing.T) {
	recs := testRecords(100)
	log, _ := encodeLog(recs)
	for _, tt := range []struct {
		name string
		src  io.Reader
	}{
		{"whole", bytes.NewReader(log)},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(log))},
		{"half reads", iotest.HalfReader(bytes.NewReader(log))},
		{"EOF with data", iotest.DataErrReader(bytes.NewReader(log))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(tt.src, 1000)
			got, err := readAll(t, r)
			if err != io.EOF {
				t.Fatalf("Next() = %v, want io.EOF", err)
			}
			assertRecords(t, got, recs)
			if r.Offset() != 1000+int64(len(log)) {
				t.Errorf("Offset() = %d, want %d", r.Offset(), 1000+len(log))
			}
			if err := r.Next(new(Record)); err != io.EOF {
				t.Errorf("Next() after the end = %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderEmpty(t *testing.T) {
	r := NewReader(bytes.NewReader(nil), 42)
	if err := r.Next(new(Record)); err != io.EOF {
		t.Fatalf("Next() = %v, want io.EOF", err)
	}
	if r.Offset() != 42 {
		t.Errorf("Offset() = %d, want 42", r.Offset())
	}
}

func TestReaderTornTail(t *testing.T) {
	recs := testRecords(10)
	log, offsets := encodeLog(recs)
	for cut := offsets[9] + 1; cut < int64(len(log)); cut += 7 {
		r := NewReader(bytes.NewReader(log[:cut]), 0)
		got, err := readAll(t, r)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: Next() = %v, want io.ErrUnexpectedEOF", cut, err)
		}
		assertRecords(t, got, recs[:9])
		if r.Offset() != offsets[9] {
			t.Fatalf("cut at %d: Offset() = %d, want %d (end of the last good record)", cut, r.Offset(), offsets[9])
		}
		if err := r.Next(new(Record)); err != io.ErrUnexpectedEOF || r.Offset() != offsets[9] {
			t.Fatalf("cut at %d: Next() again = %v at %d", cut, err, r.Offset())
		}
	}
}

// TestReaderTailer reads a log while a writer appends to it, as the WAL
// tailer does: a torn line is retried, by a new Reader from Offset() or by
// the same Reader.
func TestReaderTailer(t *testing.T) {
	recs := testRecords(20)
	log, offsets := encodeLog(recs)
	cut := offsets[10] + 5 // in the middle of record 10
	for _, sameReader := range []bool{false, true} {
		t.Run(fmt.Sprintf("sameReader=%v", sameReader), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), LogName(1))
			w, err := OpenWriter(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			mustWrite(t, w, log[:cut])

			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := NewReader(f, 0)
			got, err := readAll(t, r)
			if err != io.ErrUnexpectedEOF || r.Offset() != offsets[10] {
				t.Fatalf("Next() = %v at offset %d, want io.ErrUnexpectedEOF at %d", err, r.Offset(), offsets[10])
			}
			assertRecords(t, got, recs[:10])

			mustWrite(t, w, log[cut:]) // the writer finishes the line and goes on
			if !sameReader {
				f2, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f2.Close()
				if _, err := f2.Seek(r.Offset(), io.SeekStart); err != nil {
					t.Fatal(err)
				}
				r = NewReader(f2, r.Offset())
			}
			got, err = readAll(t, r)
			if err != io.EOF {
				t.Fatalf("Next() = %v, want io.EOF", err)
			}
			assertRecords(t, got, recs[10:])
			if r.Offset() != int64(len(log)) {
				t.Errorf("Offset() = %d, want %d", r.Offset(), len(log))
			}
		})
	}
}

func mustWrite(tb testing.TB, w *Writer, p []byte) {
	tb.Helper()
	if n, err := w.Write(p); err != nil || n != len(p) {
		tb.Fatalf("Write() = %d, %v", n, err)
	}
}

func TestReaderCorruptMiddle(t *testing.T) {
	recs := testRecords(30)
	log, offsets := encodeLog(recs)
	for _, tt := range []struct {
		name   string
		damage func(log []byte)
	}{
		{"flipped bit", func(log []byte) { log[offsets[17]+7] ^= 0x01 }},
		{"newline in record", func(log []byte) { log[offsets[17]+7] = '\n' }},
		{"missing newline", func(log []byte) { log[offsets[18]-1] = ' ' }},
		{"empty line", func(log []byte) { log[offsets[17]] = '\n' }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			damaged := bytes.Clone(log)
			tt.damage(damaged)
			r := NewReader(bytes.NewReader(damaged), 500)
			got, err := readAll(t, r)
			assertRecords(t, got, recs[:17])
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Next() = %v, want *CorruptError", err)
			}
			if want := 500 + offsets[17]; ce.Offset != want || r.Offset() != want {
				t.Errorf("error at offset %d, Offset() = %d, want both %d", ce.Offset, r.Offset(), want)
			}
			if err2 := r.Next(new(Record)); err2 != err {
				t.Errorf("Next() after corruption = %v, want the same error %v", err2, err)
			}
		})
	}
}

// TestReaderZeros: NUL bytes are padding, the end of what was written (see
// the package doc), even in the middle of a file: a reader cannot tell a
// zeroed block from padding that a writer is overwriting (recovery checks
// that padding runs to the end of the file).
func TestReaderZeros(t *testing.T) {
	recs := testRecords(30)
	log, offsets := encodeLog(recs)
	for _, tt := range []struct {
		name    string
		damage  func(log []byte)
		records int
		want    error
	}{
		{"zeroed record", func(log []byte) { clear(log[offsets[17]:offsets[18]]) }, 17, io.EOF},
		{"zero inside a record", func(log []byte) { log[offsets[17]+7] = 0 }, 17, io.ErrUnexpectedEOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			damaged := bytes.Clone(log)
			tt.damage(damaged)
			r := NewReader(bytes.NewReader(damaged), 0)
			got, err := readAll(t, r)
			assertRecords(t, got, recs[:tt.records])
			if err != tt.want || r.Offset() != offsets[17] {
				t.Fatalf("stopped at %d with %v, want %d and %v", r.Offset(), err, offsets[17], tt.want)
			}
			if err2 := r.Next(new(Record)); err2 != err {
				t.Errorf("Next() after padding = %v, want %v again", err2, err)
			}
		})
	}
}

func TestReaderCorruptLastLine(t *testing.T) {
	recs := testRecords(3)
	log, offsets := encodeLog(recs)
	log = append(log, "VPUT garbage\n"...)
	r := NewReader(bytes.NewReader(log), 0)
	got, err := readAll(t, r)
	assertRecords(t, got, recs)
	want := offsets[2] + int64(len(AppendRecord(nil, &recs[2])))
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != want {
		t.Fatalf("Next() = %v, want corrupt at %d", err, want)
	}
}

func TestReaderMaxRecord(t *testing.T) {
	rec := Record{Op: Put, Key: []byte("k"), Value: bytes.Repeat([]byte("v"), 1000), Version: ver(1, 0, "a"), Origin: "sfo"}
	line := AppendRecord(nil, &rec)
	log := append(bytes.Clone(line), line...)
	t.Run("exactly MaxRecord", func(t *testing.T) {
		r := NewReader(bytes.NewReader(log), 0)
		r.MaxRecord = len(line)
		got, err := readAll(t, r)
		if err != io.EOF || len(got) != 2 {
			t.Fatalf("read %d records, then %v; want 2, then io.EOF", len(got), err)
		}
	})
	t.Run("one byte over", func(t *testing.T) {
		r := NewReader(bytes.NewReader(log), 10)
		r.MaxRecord = len(line) - 1
		err := r.Next(new(Record))
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Offset != 10 || r.Offset() != 10 {
			t.Fatalf("Next() = %v, Offset() = %d; want corrupt at 10", err, r.Offset())
		}
	})
}

// endless is an io.Reader of endless bytes without a newline.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestReaderOversizeDoesNotBuffer(t *testing.T) {
	const limit = 4 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := NewReader(endless{}, 0)
	r.MaxRecord = limit
	err := r.Next(new(Record))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Next() = %v, want corrupt", err)
	}
	// The read buffer, plus a partial line that grows by doubling to
	// about the limit.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*limit {
		t.Errorf("allocated %d bytes for a limit of %d", alloc, limit)
	}
}

func TestReaderLargeValue(t *testing.T) {
	value := make([]byte, 16<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(value)
	recs := []Record{
		{Op: Put, Key: []byte("small"), Value: []byte("before"), Version: ver(1, 0, "a"), Origin: "sfo"},
		{Op: Put, Key: []byte("big"), Value: value, Version: ver(2, 0, "a"), Origin: "sfo"},
		{Op: Del, Key: []byte("small"), Version: ver(3, 0, "a"), Origin: "sfo"},
	}
	log, _ := encodeLog(recs)
	r := NewReader(bytes.NewReader(log), 0)
	got, err := readAll(t, r)
	if err != io.EOF {
		t.Fatalf("Next() = %v, want io.EOF", err)
	}
	assertRecords(t, got, recs)
}

func TestReaderReadErrorIsRetried(t *testing.T) {
	recs := testRecords(50)
	log, _ := encodeLog(recs)
	// TimeoutReader fails the second read, then reads on.
	r := NewReader(iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(log))), 0)
	var got []Record
	failures := 0
	for {
		var rec Record
		err := r.Next(&rec)
		if err == io.EOF {
			break
		}
		if err == iotest.ErrTimeout {
			failures++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec)
	}
	if failures != 1 {
		t.Errorf("saw %d read errors, want 1", failures)
	}
	assertRecords(t, got, recs)
}

// BenchmarkReader reads 100k records: with the 256-byte text value of
// benchRecord, and with a short binary one.
func BenchmarkReader(b *testing.B) {
	for _, value := range [][]byte{benchRecord().Value, []byte("\x00\x01binary\xff")} {
		b.Run(fmt.Sprintf("value=%d", len(value)), func(b *testing.B) {
			benchmarkReader(b, value)
		})
	}
}

func benchmarkReader(b *testing.B, value []byte) {
	const n = 100_000
	rec := benchRecord()
	rec.Value = value
	var log []byte
	for i := range n {
		rec.Key = fmt.Appendf(rec.Key[:0], "user:%010d/", i)
		rec.Version.Time++
		log = AppendRecord(log, rec)
	}
	b.SetBytes(int64(len(log)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(log), 0)
		var rec Record
		count := 0
		for r.Next(&rec) == nil {
			count++
		}
		if count != n {
			b.Fatalf("read %d records, want %d", count, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
}

// FuzzReader reads arbitrary bytes as a log: every record it returns is the
// canonical encoding of exactly the bytes it consumed, and it ends with
// io.EOF, io.ErrUnexpectedEOF or a *CorruptError, which it repeats.
func FuzzReader(f *testing.F) {
	log, _ := encodeLog(testRecords(5))
	f.Add(log)
	f.Add(append(bytes.Clone(log), 0, 0, 0))
	f.Add(append(bytes.Clone(log[:len(log)-9]), 0, 0, 0))
	f.Add([]byte("VPUT a=b@1.0.a sfo 00000000\n\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), 0)
		r.MaxRecord = 4096
		for {
			var rec Record
			before := r.Offset()
			err := r.Next(&rec)
			if err == nil {
				line := AppendRecord(nil, &rec)
				if !bytes.Equal(line, b[before:r.Offset()]) {
					t.Fatalf("record %q consumed %q", line, b[before:r.Offset()])
				}
				continue
			}
			var ce *CorruptError
			if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &ce) {
				t.Fatalf("Next() = %v", err)
			}
			if again := r.Next(&rec); again != err && (ce == nil || !errors.As(again, &ce)) {
				t.Fatalf("Next() = %v after %v", again, err)
			}
			if r.Offset() > int64(len(b)) {
				t.Fatalf("Offset() = %d past %d bytes", r.Offset(), len(b))
			}
			return
		}
	})
}
