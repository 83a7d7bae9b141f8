package repl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"planet/internal/hlc"
)

var (
	v1 = hlc.Version{Time: 1763768229000<<16 | 3, Node: "sfo-10600"}
	v2 = hlc.Version{Time: 1763768229001 << 16, Node: "nyc-10601"}
)

const (
	v1Text = "1763768229000.3.sfo-10600"
	v2Text = "1763768229001.0.nyc-10601"
)

// words renders args for comparison.
func words(args [][]byte) string {
	var out []string
	for _, a := range args {
		out = append(out, fmt.Sprintf("%q", a))
	}
	return strings.Join(out, " ")
}

func wordsOf(s ...string) string {
	var out []string
	for _, a := range s {
		out = append(out, fmt.Sprintf("%q", a))
	}
	return strings.Join(out, " ")
}

// TestBuilders: the commands are those storage sends today (replArgs,
// VGET, MVVER, anti-entropy).
func TestBuilders(t *testing.T) {
	key, val := []byte("k\x00\r\n"), []byte("")
	put := Item{Key: key, Value: val, Version: v1}
	del := Item{Key: key, Version: v2, Delete: true}
	tests := []struct {
		name string
		got  [][]byte
		want string
	}{
		{"AppendPut", AppendPut(nil, key, val, v1), wordsOf("REPL.PUT", "k\x00\r\n", "", v1Text)},
		{"AppendDel", AppendDel(nil, key, v2), wordsOf("REPL.DEL", "k\x00\r\n", v2Text)},
		{"AppendMPut", AppendMPut(nil, key, []byte("v"), v1), wordsOf("REPL.MPUT", "k\x00\r\n", "v", v1Text)},
		{"AppendMDel", AppendMDel(nil, key, v2), wordsOf("REPL.MDEL", "k\x00\r\n", v2Text)},
		{"AppendItem put", AppendItem(nil, put, false), wordsOf("REPL.PUT", "k\x00\r\n", "", v1Text)},
		{"AppendItem merged put", AppendItem(nil, put, true), wordsOf("REPL.MPUT", "k\x00\r\n", "", v1Text)},
		{"AppendItem del", AppendItem(nil, del, false), wordsOf("REPL.DEL", "k\x00\r\n", v2Text)},
		{"AppendItem merged del", AppendItem(nil, del, true), wordsOf("REPL.MDEL", "k\x00\r\n", v2Text)},
		{"two merged items", AppendItemArgs(AppendItem(nil, put, true), Item{Key: []byte("b"), Value: []byte("2"), Version: v2}),
			wordsOf("REPL.MPUT", "k\x00\r\n", "", v1Text, "b", "2", v2Text)},
		{"AppendItemArgs del", AppendItemArgs(nil, del), wordsOf("k\x00\r\n", v2Text)},
		{"AppendVGet", AppendVGet(nil, key), wordsOf("VGET", "k\x00\r\n")},
		{"AppendVVer", AppendVVer(nil, key), wordsOf("VVER", "k\x00\r\n")},
		{"AppendMVVer", AppendMVVer(nil, key), wordsOf("MVVER", "k\x00\r\n")},
		{"AppendDigest", AppendDigest(nil), wordsOf("REPL.DIGEST")},
		{"AppendBucket", AppendBucket(nil, 1023), wordsOf("REPL.BUCKET", "1023")},
		{"appends", AppendDel([][]byte{[]byte("x")}, key, v2), wordsOf("x", "REPL.DEL", "k\x00\r\n", v2Text)},
	}
	for _, tt := range tests {
		if got := words(tt.got); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func args(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

func TestParse(t *testing.T) {
	badVersion := "hlc: invalid version \"1.2\": want <wallms>.<logical>.<node>"
	tests := []struct {
		name  string
		args  [][]byte
		op    Op
		items []Item
		err   string
	}{
		{"put", args("REPL.PUT", "k", "v", v1Text), OpPut, []Item{{Key: []byte("k"), Value: []byte("v"), Version: v1}}, ""},
		{"put any case", args("repl.Put", "k", "", v1Text), OpPut, []Item{{Key: []byte("k"), Value: []byte{}, Version: v1}}, ""},
		{"del", args("REPL.DEL", "k", v2Text), OpDel, []Item{{Key: []byte("k"), Version: v2, Delete: true}}, ""},
		{"mput", args("REPL.MPUT", "a", "1", v1Text, "b", "2", v2Text), OpMPut, []Item{
			{Key: []byte("a"), Value: []byte("1"), Version: v1},
			{Key: []byte("b"), Value: []byte("2"), Version: v2}}, ""},
		{"mdel", args("repl.mdel", "a", v1Text, "b", v2Text, "c", v1Text), OpMDel, []Item{
			{Key: []byte("a"), Version: v1, Delete: true},
			{Key: []byte("b"), Version: v2, Delete: true},
			{Key: []byte("c"), Version: v1, Delete: true}}, ""},
		{"bad version in one item", args("REPL.MPUT", "a", "1", "1.2", "b", "2", v2Text), OpMPut, []Item{
			{Key: []byte("a"), Value: []byte("1"), Err: errors.New(badVersion)},
			{Key: []byte("b"), Value: []byte("2"), Version: v2}}, ""},
		{"bad version", args("REPL.DEL", "a", "1.2"), OpDel, []Item{{Key: []byte("a"), Delete: true, Err: errors.New(badVersion)}}, ""},
		{"non-canonical version", args("REPL.DEL", "a", "01.0.n"), OpDel, []Item{{Key: []byte("a"), Delete: true,
			Err: errors.New(`hlc: invalid version "01.0.n": wall time: want decimal milliseconds below 2^48`)}}, ""},
		{"put missing version", args("REPL.PUT", "k", "v"), OpPut, nil, "wrong number of arguments for 'repl.put' command"},
		{"put extra", args("REPL.PUT", "k", "v", v1Text, "x"), OpPut, nil, "wrong number of arguments for 'repl.put' command"},
		{"del extra", args("REPL.DEL", "k", v1Text, "x"), OpDel, nil, "wrong number of arguments for 'repl.del' command"},
		{"mput partial item", args("Repl.MPut", "a", "1", v1Text, "b", "2"), OpMPut, nil, "wrong number of arguments for 'repl.mput' command"},
		{"mdel partial item", args("REPL.MDEL", "a", v1Text, "b"), OpMDel, nil, "wrong number of arguments for 'repl.mdel' command"},
		{"mput no item", args("REPL.MPUT"), OpMPut, nil, "wrong number of arguments for 'repl.mput' command"},
		{"unknown", args("SET", "k", "v"), 0, nil, ErrUnknownCommand.Error()},
		{"empty", nil, 0, nil, ErrUnknownCommand.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, items, err := Parse(nil, tt.args)
			if op != tt.op {
				t.Errorf("op = %v, want %v", op, tt.op)
			}
			if errText(err) != tt.err {
				t.Fatalf("err = %q, want %q", errText(err), tt.err)
			}
			if err != nil {
				wantIs := ErrArity
				if tt.op == 0 {
					wantIs = ErrUnknownCommand
				}
				if !errors.Is(err, wantIs) || len(items) != 0 {
					t.Errorf("err %v is not %v, or items %v", err, wantIs, items)
				}
				return
			}
			if len(items) != len(tt.items) {
				t.Fatalf("%d items, want %d", len(items), len(tt.items))
			}
			for i, it := range items {
				want := tt.items[i]
				if !bytes.Equal(it.Key, want.Key) || !bytes.Equal(it.Value, want.Value) || (it.Value == nil) != (want.Value == nil) ||
					it.Version != want.Version || it.Delete != want.Delete || errText(it.Err) != errText(want.Err) {
					t.Errorf("item %d = %+v, want %+v", i, it, want)
				}
				if it.Err != nil && !errors.Is(it.Err, hlc.ErrInvalidVersion) {
					t.Errorf("item %d: Err %v does not wrap hlc.ErrInvalidVersion", i, it.Err)
				}
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestParseAliasesAndReuses: items alias the arguments, and parsing into
// a reused slice allocates nothing when the nodes repeat.
func TestParseAliasesAndReuses(t *testing.T) {
	a := AppendItemArgs(AppendMPut(nil, []byte("a"), []byte("1"), v1), Item{Key: []byte("b"), Value: []byte("2"), Version: v1})
	_, items, err := Parse(nil, a)
	if err != nil {
		t.Fatal(err)
	}
	if &items[1].Value[0] != &a[5][0] {
		t.Error("item value does not alias its argument")
	}
	allocs := testing.AllocsPerRun(100, func() {
		_, items, err = Parse(items[:0], a)
		if err != nil || len(items) != 2 {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse into a reused slice: %v allocations, want 0", allocs)
	}
}

func TestOp(t *testing.T) {
	tests := []struct {
		name                string
		op                  Op
		merged, del         bool
		itemArgs, arity     int
		parsedFrom, notFrom string
	}{
		{"REPL.PUT", OpPut, false, false, 3, 4, "repl.put", "repl.puts"},
		{"REPL.DEL", OpDel, false, true, 2, 3, "Repl.Del", "repl.de"},
		{"REPL.MPUT", OpMPut, true, false, 3, -4, "REPL.mput", "REPL.MPUT "},
		{"REPL.MDEL", OpMDel, true, true, 2, -3, "repl.mdel", "repl_mdel"},
	}
	for _, tt := range tests {
		op := tt.op
		if op.String() != tt.name || op.Merged() != tt.merged || op.Delete() != tt.del || op.ItemArgs() != tt.itemArgs || op.Arity() != tt.arity {
			t.Errorf("%v: merged %v delete %v itemArgs %d arity %d", op, op.Merged(), op.Delete(), op.ItemArgs(), op.Arity())
		}
		if got, ok := ParseOp([]byte(tt.parsedFrom)); !ok || got != op {
			t.Errorf("ParseOp(%q) = %v, %v", tt.parsedFrom, got, ok)
		}
		if got, ok := ParseOp([]byte(tt.notFrom)); ok {
			t.Errorf("ParseOp(%q) = %v", tt.notFrom, got)
		}
	}
	if s := Op(9).String(); s != "Op(9)" {
		t.Errorf("Op(9) = %q", s)
	}
}

func TestReplies(t *testing.T) {
	tests := []struct {
		del, applied, wasLive bool
		want                  int64
	}{
		{false, true, false, 1},
		{false, true, true, 1},
		{false, false, true, 0},
		{true, true, true, 1},
		{true, true, false, 0}, // deleted nothing live: a tombstone or nothing
		{true, false, true, 0}, // held a newer version
	}
	for _, tt := range tests {
		it := Item{Delete: tt.del}
		if got := it.Reply(tt.applied, tt.wasLive); got != tt.want {
			t.Errorf("Reply(delete=%v, applied=%v, wasLive=%v) = %d, want %d", tt.del, tt.applied, tt.wasLive, got, tt.want)
		}
	}
	if PutReply(true) != Applied || PutReply(false) != NotApplied || DelReply(true, true) != Applied || DelReply(true, false) != NotApplied {
		t.Error("PutReply/DelReply disagree with Applied/NotApplied")
	}
	if !DeletedLive(1) || DeletedLive(0) {
		t.Error("DeletedLive")
	}
}

func TestCheckSkew(t *testing.T) {
	now := v1.WallTime()
	if err := CheckSkew(v1, now, time.Second); err != nil {
		t.Errorf("same time: %v", err)
	}
	ahead := hlc.Version{Time: uint64(now.Add(1500*time.Millisecond).UnixMilli()) << 16, Node: "sfo-10600"}
	if err := CheckSkew(ahead, now, 2*time.Second); err != nil {
		t.Errorf("1.5s ahead, max 2s: %v", err)
	}
	err := CheckSkew(ahead, now, time.Second)
	want := "version 1763768230500.0.sfo-10600 is 1.5s ahead of this replica's clock (max skew 1s)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrClockSkew) {
		t.Errorf("1.5s ahead, max 1s: %v, want %q", err, want)
	}
	if err := CheckSkew(v1, now.Add(time.Hour), time.Second); err != nil {
		t.Errorf("behind: %v", err)
	}
}

func TestBucketArgAndDigest(t *testing.T) {
	for _, tt := range []struct {
		arg string
		b   int
		ok  bool
	}{{"0", 0, true}, {"1023", 1023, true}, {"1024", 0, false}, {"-1", 0, false}, {"x", 0, false}, {"", 0, false}} {
		b, err := ParseBucketArg([]byte(tt.arg), 1024)
		if b != tt.b || (err == nil) != tt.ok {
			t.Errorf("ParseBucketArg(%q) = %d, %v", tt.arg, b, err)
		}
		if err != nil && err.Error() != "bucket must be an integer in [0, 1024)" {
			t.Errorf("ParseBucketArg(%q) error %q", tt.arg, err)
		}
	}
	hashes := []uint64{0, 1, 1 << 63, 0xdeadbeefcafef00d}
	body := AppendDigestBody(nil, hashes)
	if len(body) != 32 || body[15] != 1 || body[16] != 0x80 {
		t.Errorf("digest body % x", body)
	}
	got := make([]uint64, 4)
	if err := ParseDigestBody(got, body); err != nil || fmt.Sprint(got) != fmt.Sprint(hashes) {
		t.Errorf("ParseDigestBody = %v, %v", got, err)
	}
	if err := ParseDigestBody(make([]uint64, 5), body); err == nil {
		t.Error("ParseDigestBody of a short body succeeded")
	}
}

// FuzzParseArgs: Parse never panics; a command it accepts has
// (len(args)-1)/ItemArgs items, each of which rebuilds its own arguments
// exactly (the version's text is canonical), and rebuilding every item
// parses back to the same items.
func FuzzParseArgs(f *testing.F) {
	f.Add(uint8(0), []byte("k\nv\n"+v1Text))
	f.Add(uint8(1), []byte("k\n"+v2Text))
	f.Add(uint8(2), []byte("a\n1\n"+v1Text+"\nb\n\n1.2"))
	f.Add(uint8(3), []byte("a\n"+v1Text+"\nb\n01.0.x\nc\n0.0.n"))
	f.Add(uint8(4), []byte("a\nb"))
	f.Fuzz(func(t *testing.T, name uint8, data []byte) {
		names := []string{Put, Del, MPut, MDel, "repl.mput", "GET"}
		a := [][]byte{[]byte(names[int(name)%len(names)])}
		if len(data) > 0 {
			a = append(a, bytes.Split(data, []byte("\n"))...)
		}
		op, items, err := Parse(nil, a)
		if err != nil {
			if len(items) != 0 {
				t.Fatalf("error %v with %d items", err, len(items))
			}
			var ae *ArityError
			if !errors.Is(err, ErrUnknownCommand) && !(errors.As(err, &ae) && ae.Name == strings.ToLower(string(a[0]))) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		per := op.ItemArgs()
		if len(items)*per != len(a)-1 {
			t.Fatalf("%d items of %d arguments", len(items), len(a)-1)
		}
		rebuilt := [][]byte{a[0]}
		for i, it := range items {
			if it.Err != nil {
				if !errors.Is(it.Err, hlc.ErrInvalidVersion) {
					t.Fatalf("item %d: %v", i, it.Err)
				}
				it.Version = v1 // a valid stand-in, to rebuild the rest
			} else if mine := AppendItemArgs(nil, it); words(mine) != words(a[1+i*per:1+(i+1)*per]) {
				t.Fatalf("item %d rebuilds %s, sent %s", i, words(mine), words(a[1+i*per:1+(i+1)*per]))
			}
			rebuilt = AppendItemArgs(rebuilt, it)
		}
		op2, again, err := Parse(nil, rebuilt)
		if err != nil || op2 != op || len(again) != len(items) {
			t.Fatalf("rebuilt command: %v, %v, %d items", op2, err, len(again))
		}
		for i := range again {
			if again[i].Err != nil || !bytes.Equal(again[i].Key, items[i].Key) || !bytes.Equal(again[i].Value, items[i].Value) {
				t.Fatalf("rebuilt item %d = %+v, was %+v", i, again[i], items[i])
			}
		}
	})
}

func BenchmarkParseMPut(b *testing.B) {
	var a [][]byte
	a = AppendMPut(a, []byte("key:000000000042"), bytes.Repeat([]byte("x"), 100), v1)
	for range 63 {
		a = AppendItemArgs(a, Item{Key: []byte("key:000000000043"), Value: bytes.Repeat([]byte("y"), 100), Version: v2})
	}
	var items []Item
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if _, items, err = Parse(items[:0], a); err != nil {
			b.Fatal(err)
		}
	}
}
