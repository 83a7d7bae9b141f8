package caching

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"planet/internal/hlc"
)

// replicatedStore is a test Store with replication enabled and a
// tombstone grace of 10 s.
func replicatedStore(t *testing.T) (*Store, *fakeClock) {
	st, clk := newTestStore(t, 0, AllKeysLRU)
	st.EnableReplication(10_000)
	return st, clk
}

// ops runs one command line on st and returns the records it left.
func ops(st *Store, line string) []Op {
	args := strings.Fields(line)
	var bargs [][]byte
	for _, a := range args {
		bargs = append(bargs, []byte(a))
	}
	var fn txCommand
	for _, c := range commandTable() {
		if c.name == strings.ToLower(args[0]) {
			fn = c.run
		}
	}
	_, recs, n := st.Write(true, func(tx *Tx) []byte { return fn(tx, bargs) })
	out, err := DecodeRecords(recs)
	if err != nil || len(out) != n {
		panic(fmt.Sprintf("%s: %d records %v, %v", line, n, out, err))
	}
	return out
}

// apply encodes ops as one CACHE.APPLY argument and applies it to st.
func apply(st *Store, ops ...Op) {
	var b []byte
	for i := range ops {
		b = appendOp(b, &ops[i])
	}
	st.Apply([][]byte{b})
}

func describe(ops []Op) string {
	var parts []string
	for _, op := range ops {
		switch op.Kind {
		case OpSet:
			parts = append(parts, fmt.Sprintf("S %s=%s ttl=%t", op.Key, op.Value, op.ExpireAt != 0))
		default:
			parts = append(parts, fmt.Sprintf("%c %s", op.Kind, op.Key))
		}
	}
	return strings.Join(parts, "; ")
}

func TestWritesLeaveRecordsOfTheirKeys(t *testing.T) {
	st, _ := replicatedStore(t)
	for _, tc := range []struct{ cmd, want string }{
		{"SET a 1", "S a=1 ttl=false"},
		{"SET a 2 NX", ""},
		{"INCR a", "S a=2 ttl=false"},
		{"APPEND a x", "S a=2x ttl=false"},
		{"EXPIRE a 100", "S a=2x ttl=true"},
		{"PERSIST a", "S a=2x ttl=false"},
		{"MSET b 1 c 2 b 3", "S b=3 ttl=false; S c=2 ttl=false"},
		{"RENAME b d", "D b; S d=3 ttl=false"},
		{"DEL c nothere", "D c"},
		{"DEL nothere", ""},
		{"GETDEL d", "D d"},
		{"GET a", ""},
		{"EXPIRE a 0", "D a"},
		{"SETRANGE e 2 xy", "S e=\x00\x00xy ttl=false"},
		{"GETEX e PX 500", "S e=\x00\x00xy ttl=true"},
		{"FLUSHDB", ""},
	} {
		if got := describe(ops(st, tc.cmd)); got != tc.want {
			t.Errorf("%s: records %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

func TestApplyIsLastWriterWins(t *testing.T) {
	st, clk := replicatedStore(t)
	now := uint64(clk.now().UnixMilli()) << 16
	v := func(dt uint64, node string) hlc.Version { return hlc.Version{Time: now + dt<<16, Node: node} }
	apply(st, Op{Kind: OpSet, Key: "k", Value: []byte("b"), Version: v(2, "nyc-1")})
	apply(st, Op{Kind: OpSet, Key: "k", Value: []byte("a"), Version: v(1, "sfo-1")}) // older: ignored
	if got := value(st, "k"); got != "b" {
		t.Fatalf("after an older SET: %q", got)
	}
	apply(st, Op{Kind: OpDel, Key: "k", Version: v(3, "sfo-1")})
	apply(st, Op{Kind: OpSet, Key: "k", Value: []byte("c"), Version: v(2, "zzz-1")}) // older than the DEL
	if got := value(st, "k"); got != "" {
		t.Fatalf("a SET older than a DEL brought the key back: %q", got)
	}
	// Past the grace the tombstone is gone, and a record as old as the
	// SET above is applied as an invalidation rather than a value.
	clk.advance(11 * time.Second)
	st.ExpireCycle()
	if n := st.Tombstones(); n != 0 {
		t.Errorf("%d tombstones after the grace", n)
	}
	apply(st, Op{Kind: OpSet, Key: "k", Value: []byte("late"), Version: v(2, "zzz-2")})
	if got := value(st, "k"); got != "" {
		t.Errorf("a write older than the grace brought the key back: %q", got)
	}
	if a := st.ApplyStats(); a.Late != 1 || a.Stale != 2 || a.Applied != 2 {
		t.Errorf("ApplyStats = %+v", a)
	}
	// A local write is newer than everything applied.
	ops(st, "SET k local")
	if ver, _ := st.Version("k"); !ver.Newer(v(3, "sfo-1")) {
		t.Errorf("local version %v is not newer than the applied %v", ver, v(3, "sfo-1"))
	}
}

func TestApplyExpiredAndInvalidateAll(t *testing.T) {
	st, clk := replicatedStore(t)
	now := clk.now().UnixMilli()
	base := uint64(now) << 16
	v := func(dt uint64) hlc.Version { return hlc.Version{Time: base + dt, Node: "nyc-1"} }
	apply(st,
		Op{Kind: OpSet, Key: "expired", Value: []byte("x"), ExpireAt: now - 1, Version: v(1)},
		Op{Kind: OpSet, Key: "ttl", Value: []byte("x"), ExpireAt: now + 5000, Version: v(2)},
		Op{Kind: OpSet, Key: "new", Value: []byte("x"), Version: v(10)},
	)
	if value(st, "expired") != "" || value(st, "ttl") != "x" {
		t.Fatalf("expired=%q ttl=%q", value(st, "expired"), value(st, "ttl"))
	}
	apply(st, Op{Kind: OpInvalidateAll, Version: v(5)})
	if value(st, "ttl") != "" || value(st, "new") != "x" {
		t.Errorf("after invalidating everything older than v5: ttl=%q new=%q", value(st, "ttl"), value(st, "new"))
	}
	apply(st, Op{Kind: OpSet, Key: "other", Value: []byte("old"), Version: v(4)})
	if value(st, "other") != "" {
		t.Errorf("a record older than an invalidate-all was applied")
	}
}

func TestApplyUnderNoEvictionInvalidates(t *testing.T) {
	st, clk := newTestStore(t, 200, NoEviction)
	st.EnableReplication(10_000)
	ops(st, "SET k small")
	ver := hlc.Version{Time: uint64(clk.now().UnixMilli()+1) << 16, Node: "nyc-1"}
	apply(st, Op{Kind: OpSet, Key: "k", Value: []byte(strings.Repeat("v", 1000)), Version: ver})
	if got := value(st, "k"); got != "" {
		t.Errorf("a value with no room left the old one in place: %q", got)
	}
	if st.ApplyStats().Refused != 1 || st.Used() > 200 {
		t.Errorf("stats %+v, used %d", st.ApplyStats(), st.Used())
	}
}

// value returns key's value in st, "" if none.
func value(st *Store, key string) string {
	return string(st.Do(func(tx *Tx) []byte {
		if e := tx.find([]byte(key)); e != nil {
			return e.value
		}
		return nil
	}))
}

func TestDecodeRecords(t *testing.T) {
	v := func(t uint64, node string) hlc.Version { return hlc.Version{Time: t, Node: node} }
	want := []Op{{Kind: OpSet, Key: "k", Value: []byte("v"), ExpireAt: 99, Version: v(1, "a")}, {Kind: OpDel, Key: "k", Version: v(2, "a")},
		{Kind: OpInvalidate, Key: "", Version: v(3, "b")}, {Kind: OpInvalidateAll, Version: v(4, "c")}}
	var b []byte
	for i := range want {
		b = appendOp(b, &want[i])
	}
	got, err := DecodeRecords(b)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("DecodeRecords = %v, %v; want %v", got, err, want)
	}
	if n, err := checkRecords([][]byte{b, b}); n != 8 || err != nil {
		t.Errorf("checkRecords = %d, %v", n, err)
	}
	for _, bad := range []string{"X", "S", "S\x01k", "S\x01k\x01v", "D\x01k\x05\x01A", "D\x01k\x01\x01A", "D\x01k\x01\x00", "A\x01\x41" + strings.Repeat("a", 65)} {
		if _, err := DecodeRecords([]byte(bad)); err == nil {
			t.Errorf("DecodeRecords(%q) succeeded", bad)
		}
	}
}

// FuzzDecodeRecords: any bytes either decode into records that encode
// into bytes that decode the same, or fail with an error; nothing panics.
func FuzzDecodeRecords(f *testing.F) {
	var seed []byte
	for _, op := range []Op{{Kind: OpSet, Key: "k", Value: []byte("v"), ExpireAt: 5, Version: hlc.Version{Time: 1 << 40, Node: "sfo-1"}},
		{Kind: OpDel, Key: "k", Version: hlc.Version{Time: 2, Node: "nyc-1"}}, {Kind: OpInvalidateAll, Version: hlc.Version{Time: 3, Node: "a"}}} {
		seed = appendOp(seed, &op)
	}
	f.Add(seed)
	f.Add([]byte("S\x01k"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := DecodeRecords(b)
		if err != nil {
			return
		}
		var back []byte
		for i := range ops {
			back = appendOp(back, &ops[i])
		}
		again, err := DecodeRecords(back)
		if err != nil || fmt.Sprint(again) != fmt.Sprint(ops) {
			t.Fatalf("%q decoded as %v, re-encoded as %q, decoded as %v, %v", b, ops, back, again, err)
		}
	})
}
