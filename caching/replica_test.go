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
	_, out := st.Write(true, func(tx *Tx) []byte { return fn(tx, bargs) })
	return out
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
	st.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte("b"), Version: v(2, "nyc-1")}})
	st.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte("a"), Version: v(1, "sfo-1")}}) // older: ignored
	if got := value(st, "k"); got != "b" {
		t.Fatalf("after an older SET: %q", got)
	}
	st.Apply([]Op{{Kind: OpDel, Key: "k", Version: v(3, "sfo-1")}})
	st.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte("c"), Version: v(2, "zzz-1")}}) // older than the DEL
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
	st.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte("late"), Version: v(2, "zzz-2")}})
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
	st.Apply([]Op{
		{Kind: OpSet, Key: "expired", Value: []byte("x"), ExpireAt: now - 1, Version: v(1)},
		{Kind: OpSet, Key: "ttl", Value: []byte("x"), ExpireAt: now + 5000, Version: v(2)},
		{Kind: OpSet, Key: "new", Value: []byte("x"), Version: v(10)},
	})
	if value(st, "expired") != "" || value(st, "ttl") != "x" {
		t.Fatalf("expired=%q ttl=%q", value(st, "expired"), value(st, "ttl"))
	}
	st.Apply([]Op{{Kind: OpInvalidateAll, Version: v(5)}})
	if value(st, "ttl") != "" || value(st, "new") != "x" {
		t.Errorf("after invalidating everything older than v5: ttl=%q new=%q", value(st, "ttl"), value(st, "new"))
	}
	st.Apply([]Op{{Kind: OpSet, Key: "other", Value: []byte("old"), Version: v(4)}})
	if value(st, "other") != "" {
		t.Errorf("a record older than an invalidate-all was applied")
	}
}

func TestApplyUnderNoEvictionInvalidates(t *testing.T) {
	st, clk := newTestStore(t, 200, NoEviction)
	st.EnableReplication(10_000)
	ops(st, "SET k small")
	ver := hlc.Version{Time: uint64(clk.now().UnixMilli()+1) << 16, Node: "nyc-1"}
	st.Apply([]Op{{Kind: OpSet, Key: "k", Value: []byte(strings.Repeat("v", 1000)), Version: ver}})
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

func TestParseApply(t *testing.T) {
	good := [][]byte{[]byte("S"), []byte("k"), []byte("v"), []byte("0"), []byte("1.0.a"), []byte("D"), []byte("k"), []byte("2.0.a"),
		[]byte("I"), []byte("j"), []byte("3.1.b"), []byte("A"), []byte("4.0.c")}
	ops, err := ParseApply(good)
	if err != nil || len(ops) != 4 || ops[0].Kind != OpSet || string(ops[0].Value) != "v" || ops[3].Kind != OpInvalidateAll {
		t.Fatalf("ParseApply = %+v, %v", ops, err)
	}
	for _, bad := range []string{"", "S k v 0", "S k v -1 1.0.a", "S k v x 1.0.a", "S k v 007 1.0.a", "S k v +7 1.0.a", "X k 1.0.a", "D k 01.0.a", "SS k 1.0.a", "D k 1.0.a A"} {
		if _, err := ParseApply(fields(bad)); err == nil {
			t.Errorf("ParseApply(%q) succeeded", bad)
		}
	}
}

func fields(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

// FuzzParseApply: any arguments either parse into records that encode
// back to the same arguments, or fail with an error; nothing panics.
func FuzzParseApply(f *testing.F) {
	for _, seed := range []string{"S k v 0 1.0.a", "D k 2.0.a I j 3.1.b A 4.0.c", "S k v 99 1.0.a D", "A 1.0.", "S  v 0 1.0.a"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := fields(line)
		ops, err := ParseApply(args)
		if err != nil {
			return
		}
		var back [][]byte
		var arena []byte
		for i := range ops {
			back = appendApplyArgs(back, &arena, &ops[i])
		}
		if fmt.Sprintf("%q", back) != fmt.Sprintf("%q", args) {
			t.Fatalf("%q parsed and encoded back as %q", args, back)
		}
	})
}
