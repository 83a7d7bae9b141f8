package wal

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"planet/internal/hlc"
)

// line returns body followed by its crc and '\n': a line whose checksum is
// right, to test the grammar behind it.
func line(body string) string {
	return fmt.Sprintf("%s %08x\n", body, crc32.Checksum([]byte(body), castagnoli))
}

func ver(wallms, logical uint64, node string) hlc.Version {
	return hlc.Version{Time: wallms<<16 | logical, Node: node}
}

func TestCastagnoli(t *testing.T) {
	// The check value of CRC-32C (RFC 3720, appendix B.4).
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("crc32c(123456789) = %08x, want e3069283", got)
	}
}

// The lines below were checked against an independent CRC-32C
// implementation; they are the format, so they must never change.
var goldenRecords = []struct {
	name string
	rec  Record
	line string
}{
	{
		"doc example",
		Record{Op: Put, Key: []byte("user=1"), Value: []byte("a b"), Version: ver(1763768229000, 3, "sfo-10600"), Origin: "sfo"},
		"VPUT user%3D1=a%20b@1763768229000.3.sfo-10600 sfo 42bd1cbf\n",
	},
	{
		"empty key and value",
		Record{Op: Put, Key: []byte{}, Value: []byte{}, Version: ver(1, 0, "a"), Origin: "sfo"},
		"VPUT =@1.0.a sfo 9d710cdc\n",
	},
	{
		"delete",
		Record{Op: Del, Key: []byte("user=1"), Version: ver(1763768229000, 4, "sfo-10600"), Origin: "sfo"},
		"VDEL user%3D1@1763768229000.4.sfo-10600 sfo b3930dd6\n",
	},
	{
		"nasty bytes",
		Record{Op: Put, Key: []byte("%=@ \n\r\x00\xff"), Value: []byte("\r\n"), Version: ver(0, 0, "a"), Origin: "a"},
		"VPUT %25%3D%40%20%0A%0D%00%FF=%0D%0A@0.0.a a 45293c50\n",
	},
	{
		"max logical",
		Record{Op: Put, Key: []byte("k"), Value: []byte("v"), Version: ver(1763768229000, 65535, "nyc-2"), Origin: "nyc"},
		"VPUT k=v@1763768229000.65535.nyc-2 nyc 10169afc\n",
	},
	{
		"empty key delete, max version",
		Record{Op: Del, Key: []byte{}, Version: ver(1<<48-1, 65535, "zz9"), Origin: "ams1"},
		"VDEL @281474976710655.65535.zz9 ams1 f3911225\n",
	},
}

func TestAppendRecordGolden(t *testing.T) {
	for _, tt := range goldenRecords {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendRecord([]byte("prefix"), &tt.rec)); got != "prefix"+tt.line {
				t.Errorf("AppendRecord =\n%q\nwant\n%q", got, "prefix"+tt.line)
			}
			var got Record
			if err := DecodeRecord([]byte(tt.line), &got); err != nil {
				t.Fatal(err)
			}
			assertRecord(t, &got, &tt.rec)
		})
	}
}

func assertRecord(tb testing.TB, got, want *Record) {
	tb.Helper()
	if got.Op != want.Op || !bytes.Equal(got.Key, want.Key) || got.Version != want.Version || got.Origin != want.Origin {
		tb.Fatalf("got record %c %q %v %q, want %c %q %v %q",
			got.Op, got.Key, got.Version, got.Origin, want.Op, want.Key, want.Version, want.Origin)
	}
	switch want.Op {
	case Put:
		if got.Value == nil || !bytes.Equal(got.Value, want.Value) {
			tb.Fatalf("got value %q (nil: %v), want %q", got.Value, got.Value == nil, want.Value)
		}
	case Del:
		if got.Value != nil {
			tb.Fatalf("got value %q for a delete, want nil", got.Value)
		}
	}
}

func TestEncoding(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		name    string
		in      []byte
		encoded string
	}{
		{"empty", []byte{}, ""},
		{"plain", []byte("user:42/profile"), "user:42/profile"},
		{"equals", []byte("a=b"), "a%3Db"},
		{"at", []byte("me@example.com"), "me%40example.com"},
		{"percent", []byte("100%"), "100%25"},
		{"already escaped stays literal", []byte("%20"), "%2520"},
		{"space", []byte("a b"), "a%20b"},
		{"newline", []byte("a\nb"), "a%0Ab"},
		{"carriage return", []byte("a\r\n"), "a%0D%0A"},
		{"nul", []byte{0}, "%00"},
		{"del", []byte{0x7F}, "%7F"},
		{"0xFF", []byte{0xFF}, "%FF"},
		{"utf-8", []byte("é"), "%C3%A9"},
		{"edges of plain", []byte("!~"), "!~"},
		{"tab", []byte("\t"), "%09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendEscaped(nil, tt.in)); got != tt.encoded {
				t.Errorf("appendEscaped(%q) = %q, want %q", tt.in, got, tt.encoded)
			}
			for _, op := range []Op{Put, Del} {
				rec := Record{Op: op, Key: tt.in, Version: ver(5, 1, "sfo-1"), Origin: "sfo"}
				if op == Put {
					rec.Value = tt.in
				}
				roundTrip(t, &rec)
			}
		})
	}
	t.Run("every byte", func(t *testing.T) {
		roundTrip(t, &Record{Op: Put, Key: all, Value: all, Version: ver(5, 1, "sfo-1"), Origin: "sfo"})
	})
}

// roundTrip encodes rec, checks the line is self-delimiting and decodes it
// back into a Record that held other data before.
func roundTrip(tb testing.TB, rec *Record) {
	tb.Helper()
	line := AppendRecord(nil, rec)
	if i := bytes.IndexByte(line, '\n'); i != len(line)-1 {
		tb.Fatalf("line %q: '\\n' at %d, want only at the end", line, i)
	}
	if n := bytes.Count(line, []byte(" ")); n != 3 {
		tb.Fatalf("line %q has %d spaces, want 3", line, n)
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		tb.Fatalf("line %q has a raw '\\r'", line)
	}
	got := Record{Op: Del, Key: []byte("stale key"), Value: []byte("stale value"), Version: ver(9, 9, "x"), Origin: "x"}
	if err := DecodeRecord(line, &got); err != nil {
		tb.Fatalf("DecodeRecord(%q): %v", line, err)
	}
	assertRecord(tb, &got, rec)
}

func TestDecodeRecordWithoutNewline(t *testing.T) {
	good := goldenRecords[0]
	var got Record
	if err := DecodeRecord([]byte(strings.TrimSuffix(good.line, "\n")), &got); err != nil {
		t.Fatal(err)
	}
	assertRecord(t, &got, &good.rec)
}

func TestDecodeRecordRejects(t *testing.T) {
	good := strings.TrimSuffix(line("VPUT k=v@1.0.a sfo"), "\n")
	tests := []struct {
		name, line, reason string
	}{
		{"empty", "", "too short"},
		{"newline only", "\n", "too short"},
		{"tag only", "VPUT", "too short"},
		{"bad crc", good[:len(good)-1] + "0\n", "checksum mismatch"},
		{"flipped byte", strings.Replace(good, "k=v", "k=w", 1), "checksum mismatch"},
		{"uppercase crc", "VPUT =@1.0.a sfo 9D710CDC\n", "checksum at the end"},
		{"missing crc", "VPUT key=value@1.0.a sfo\n", "checksum at the end"},
		{"crc without space", good[:len(good)-9] + good[len(good)-8:], "checksum at the end"},
		{"crlf", good + "\r\n", "checksum at the end"},
		{"garbage after crc", good + " x\n", "checksum at the end"},
		{"short crc", good[:len(good)-1] + "\n", "checksum at the end"},
		{"lowercase hex escape", line("VPUT k%0a=v@1.0.a sfo"), "bad escape"},
		{"lowercase hex escape in value", line("VPUT k=%c3%a9@1.0.a sfo"), "bad escape"},
		{"needless escape", line("VPUT %41=v@1.0.a sfo"), "needless escape"},
		{"non-hex escape", line("VPUT k=%G0@1.0.a sfo"), "bad escape"},
		{"escape cut by =", line("VPUT k%4=v@1.0.a sfo"), "key: truncated escape"},
		{"escape cut by @", line("VDEL k%4@1.0.a sfo"), "key: truncated escape"},
		{"escape cut by @ in value", line("VPUT k=v%4@1.0.a sfo"), "value: truncated escape"},
		{"lone percent", line("VPUT %=v@1.0.a sfo"), "key: truncated escape"},
		{"unescaped = in VDEL key", line("VDEL a=b@1.0.a sfo"), "key: unescaped '='"},
		{"unescaped = in VPUT key or value", line("VPUT a=b=c@1.0.a sfo"), "value: unescaped '='"},
		{"unescaped @ in value", line("VPUT k=a@b@1.0.a sfo"), "bad version"},
		{"unescaped space in key", line("VPUT a b=c@1.0.a sfo"), "unescaped byte 0x20"},
		{"double space after tag", line("VPUT  k=v@1.0.a sfo"), "unescaped byte 0x20"},
		{"raw newline in key", line("VPUT a\nb=c@1.0.a sfo"), "unescaped byte 0x0a"},
		{"raw tab in value", line("VPUT k=a\tb@1.0.a sfo"), "unescaped byte 0x09"},
		{"raw 0xFF in value", line("VPUT k=\xff@1.0.a sfo"), "unescaped byte 0xff"},
		{"raw 0x7F in key", line("VDEL \x7f@1.0.a sfo"), "unescaped byte 0x7f"},
		{"VPUT with no =", line("VPUT k@1.0.a sfo"), "VPUT without '='"},
		{"VPUT with no @", line("VPUT k=v 1.0.a sfo"), "missing '@'"},
		{"unescaped @ in VPUT key", line("VPUT k@x=v@1.0.a sfo"), "key: unescaped '@'"},
		{"VDEL with no @", line("VDEL kkkkkkkkkkkkkk"), "missing '@'"},
		{"unknown tag", line("VGET k@1.0.a sfo"), "unknown record tag"},
		{"lowercase tag", line("vput k=v@1.0.a sfo"), "unknown record tag"},
		{"missing origin", line("VPUT k=v@1.0.a"), "missing origin"},
		{"empty origin", line("VPUT k=v@1.0.a "), "bad origin"},
		{"two spaces before origin", line("VPUT k=v@1.0.a  sfo"), "bad origin"},
		{"uppercase origin", line("VPUT k=v@1.0.a SFO"), "bad origin"},
		{"origin starts with digit", line("VPUT k=v@1.0.a 1sfo"), "bad origin"},
		{"origin with dash", line("VPUT k=v@1.0.a sfo-1"), "bad origin"},
		{"origin too long", line("VPUT k=v@1.0.a " + strings.Repeat("a", 65)), "bad origin"},
		{"trailing garbage", line("VPUT k=v@1.0.a sfo extra"), "bad origin"},
		{"version missing node", line("VPUT k=v@1.2 sfo"), "bad version"},
		{"version leading zero", line("VPUT k=v@01.2.a sfo"), "bad version"},
		{"version logical too big", line("VPUT k=v@1.65536.a sfo"), "bad version"},
		{"version wall 2^48", line("VPUT k=v@281474976710656.0.a sfo"), "bad version"},
		{"version uppercase node", line("VPUT k=v@1.2.A sfo"), "bad version"},
		{"version empty node", line("VPUT k=v@1.2. sfo"), "bad version"},
		{"version empty", line("VPUT k=v@ sfo"), "bad version"},
		{"version node too long", line("VPUT k=v@1.2." + strings.Repeat("a", 65) + " sfo"), "bad version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A Record that holds invalid strings must not make them pass.
			r := Record{Origin: "SFO", Version: hlc.Version{Node: "A"}}
			err := DecodeRecord([]byte(tt.line), &r)
			if err == nil {
				t.Fatalf("DecodeRecord(%q) = nil, want error", tt.line)
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || ce.Offset != 0 {
				t.Fatalf("DecodeRecord(%q) = %#v, want *CorruptError at offset 0", tt.line, err)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("error %v is not ErrCorrupt", err)
			}
			if !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("reason %q does not mention %q", ce.Reason, tt.reason)
			}
		})
	}
}

func TestCorruptError(t *testing.T) {
	var err error = &CorruptError{Offset: 42, Reason: "checksum mismatch"}
	if got, want := err.Error(), "wal: corrupt record at offset 42: checksum mismatch"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrCorrupt) || !errors.Is(fmt.Errorf("recover: %w", err), ErrCorrupt) {
		t.Error("errors.Is(err, ErrCorrupt) = false")
	}
}

func TestAppendRecordPanicsOnInvalidRecord(t *testing.T) {
	valid := Record{Op: Put, Key: []byte("k"), Value: []byte("v"), Version: ver(1, 0, "a"), Origin: "sfo"}
	tests := []struct {
		name   string
		modify func(*Record)
	}{
		{"op", func(r *Record) { r.Op = 'X' }},
		{"zero version", func(r *Record) { r.Version = hlc.Version{} }},
		{"bad node", func(r *Record) { r.Version.Node = "SFO" }},
		{"empty origin", func(r *Record) { r.Origin = "" }},
		{"bad origin", func(r *Record) { r.Origin = "sfo 1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid
			tt.modify(&r)
			defer func() {
				if recover() == nil {
					t.Error("AppendRecord did not panic")
				}
			}()
			AppendRecord(nil, &r)
		})
	}
}

func TestValidOrigin(t *testing.T) {
	for _, ok := range []string{"a", "sfo", "nyc3", "z" + strings.Repeat("9", 31)} {
		if err := ValidOrigin(ok); err != nil {
			t.Errorf("ValidOrigin(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1a", "Sfo", "sfo-1", "sfo 1", "sfo\n", strings.Repeat("a", 33)} {
		if ValidOrigin(bad) == nil {
			t.Errorf("ValidOrigin(%q) = nil, want error", bad)
		}
	}
}

// TestDecodeVersionMatchesHLC checks the record decoder's copy of the version
// grammar against hlc.ParseVersion.
func TestDecodeVersionMatchesHLC(t *testing.T) {
	for _, s := range []string{
		"0.0.a", "1.2.sfo-1", "281474976710655.65535.z", "281474976710656.0.a", "1.65536.a",
		"01.0.a", "1.00.a", "1.0.", "1.0", "", "..", "1.0.A", "1.0.a.b", "+1.0.a", "1.-0.a",
		"99999999999999999999.0.a", "1.0." + strings.Repeat("a", 64), "1.0." + strings.Repeat("a", 65),
	} {
		want, wantErr := hlc.ParseVersion([]byte(s))
		var got hlc.Version
		ok := decodeVersion([]byte(s), &got)
		if ok != (wantErr == nil) || (ok && got != want) {
			t.Errorf("decodeVersion(%q) = %v, %v; hlc.ParseVersion = %v, %v", s, got, ok, want, wantErr)
		}
	}
}

func TestDecodeRecordReusesRecord(t *testing.T) {
	line := AppendRecord(nil, &Record{Op: Put, Key: []byte("user:1"), Value: []byte("some value"), Version: ver(1763768229000, 3, "sfo-10600"), Origin: "sfo"})
	var r Record
	if err := DecodeRecord(line, &r); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeRecord(line, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DecodeRecord into a reused Record: %v allocations, want 0", allocs)
	}
}

// maxFuzzLen bounds fuzz inputs: the grammar is regular, so longer ones
// reach no new code, and the fuzzer spends minutes minimizing each.
const maxFuzzLen = 1024

var fuzzSeeds = [][]byte{
	[]byte(""),
	[]byte("%"),
	[]byte("%25"),
	[]byte("=@ \n\r"),
	{0x00, 0xFF, 0x7F, 0x20, 0x21, 0x7E},
	[]byte("VPUT k=v@1.0.a sfo 00000000"),
	[]byte("é\u2028"),
}

func FuzzRoundTrip(f *testing.F) {
	for i, key := range fuzzSeeds {
		f.Add(key, fuzzSeeds[len(fuzzSeeds)-1-i], i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, key, value []byte, del bool) {
		if len(key)+len(value) > maxFuzzLen {
			return // long inputs find nothing new, and are slow to minimize
		}
		rec := Record{
			Op:      Put,
			Key:     key,
			Value:   value,
			Version: hlc.Version{Time: uint64(len(key))<<40 ^ uint64(len(value))*0x9E3779B97F4A7C15, Node: "sfo-10600"},
			Origin:  "sfo",
		}
		if rec.Value == nil {
			rec.Value = []byte{}
		}
		if del {
			rec.Op, rec.Value = Del, nil
		}
		roundTrip(t, &rec)
	})
}

func FuzzDecodeRecord(f *testing.F) {
	for _, g := range goldenRecords {
		f.Add([]byte(g.line))
		f.Add([]byte(strings.TrimSuffix(g.line, "\n")))
	}
	f.Add([]byte("VPUT k%0a=v@1.0.a sfo 00000000\n"))
	f.Add([]byte("VDEL a=b@1.0.a sfo 00000000"))
	f.Add([]byte("VPUT %41=v@01.2.a SFO 00000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxFuzzLen {
			return // long inputs find nothing new, and are slow to minimize
		}
		checkCanonical(t, b)
		// Random bytes almost never carry a right checksum: decode them once
		// more with one, so that the fuzzer explores the grammar behind it.
		body := bytes.TrimSuffix(b, []byte("\n"))
		if len(body) >= crcFieldLen {
			body = body[:len(body)-crcFieldLen]
		}
		checkCanonical(t, []byte(line(string(body))))
	})
}

// checkCanonical decodes b and, if it is a record, checks that encoding the
// record gives b back.
func checkCanonical(t *testing.T, b []byte) {
	var r Record
	err := DecodeRecord(b, &r)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeRecord(%q) = %v, not ErrCorrupt", b, err)
		}
		return
	}
	want := b
	if !bytes.HasSuffix(want, []byte("\n")) {
		want = append(want[:len(want):len(want)], '\n')
	}
	if got := AppendRecord(nil, &r); !bytes.Equal(got, want) {
		t.Fatalf("DecodeRecord(%q) then AppendRecord = %q", b, got)
	}
	if v, err := hlc.ParseVersion(r.Version.AppendText(nil)); err != nil || v != r.Version {
		t.Fatalf("version %v does not parse back with hlc: %v, %v", r.Version, v, err)
	}
}

// benchRecord has a 16-byte key and a 256-byte value of text (whose spaces
// are escaped).
func benchRecord() *Record {
	value := bytes.Repeat([]byte("lorem ipsum dolor sit amet, "), 10)[:256]
	return &Record{
		Op:      Put,
		Key:     []byte("user:0000000042/"),
		Value:   value,
		Version: ver(1763768229000, 3, "sfo-10600"),
		Origin:  "sfo",
	}
}

func BenchmarkAppendRecord(b *testing.B) {
	rec := benchRecord()
	buf := AppendRecord(nil, rec)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], rec)
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	line := AppendRecord(nil, benchRecord())
	var r Record
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeRecord(line, &r); err != nil {
			b.Fatal(err)
		}
	}
}
