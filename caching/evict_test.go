package caching

import (
	"fmt"
	"testing"
)

// entryCost is what "SET key:NNN <10 bytes>" costs.
var entryCost = int64(len("key:000")+10) + EntryOverhead

func TestEvictionKeepsMemoryUnderTheLimit(t *testing.T) {
	for _, policy := range []Policy{AllKeysLRU, VolatileLRU, AllKeysRandom} {
		t.Run(string(policy), func(t *testing.T) {
			limit := 20 * entryCost
			st, _ := newTestStore(t, limit, policy)
			expect(t, st, "SET hot 0123456789", "+OK\r\n", "SET persistent 0123456789", "+OK\r\n")
			for i := range 200 {
				run(t, st, "GET hot") // the most recently used key, always
				if got := run(t, st, fmt.Sprintf("SET key:%03d 0123456789 EX 1000", i)); got != "+OK\r\n" {
					t.Fatalf("SET %d: %q", i, got)
				}
				if used := st.Used(); used > limit+entryCost {
					t.Fatalf("after %d SETs Used() = %d, limit %d", i+1, used, limit)
				}
			}
			ev := st.Stats().Evicted
			if ev < 150 {
				t.Errorf("Stats().Evicted = %d, want at least 150", ev)
			}
			if policy == AllKeysLRU {
				expect(t, st, "EXISTS hot", ":1\r\n")
			}
			if policy == VolatileLRU {
				expect(t, st, "EXISTS hot persistent", ":2\r\n")
			}
		})
	}
}

func TestVolatileLRUWithoutTTLsRefusesWrites(t *testing.T) {
	st, _ := newTestStore(t, 3*entryCost, VolatileLRU)
	for i := range 4 {
		run(t, st, fmt.Sprintf("SET key:%03d 0123456789", i))
	}
	expect(t, st, "SET key:999 0123456789", "-"+oomText+"\r\n")
}

const oomText = "OOM command not allowed when used memory > 'maxmemory'."

func TestNoEviction(t *testing.T) {
	st, _ := newTestStore(t, 3*entryCost, NoEviction)
	for i := range 4 { // the fourth SET runs at the limit, then goes over it
		expect(t, st, fmt.Sprintf("SET key:%03d 0123456789", i), "+OK\r\n")
	}
	oom := "-" + oomText + "\r\n"
	expect(t, st,
		"SET key:004 x", oom,
		"APPEND key:000 x", oom,
		"INCR n", oom,
		"MSET a 1 b 2", oom,
		"GET key:000", "$10\r\n0123456789\r\n",
		"EXPIRE key:000 100", ":1\r\n",
		"DEL key:001", ":1\r\n",
		"SET key:004 x", "+OK\r\n")
	if ev := st.Stats().Evicted; ev != 0 {
		t.Errorf("noeviction evicted %d keys", ev)
	}
}

func TestRaisingTheLimitAdmitsWrites(t *testing.T) {
	st, _ := newTestStore(t, 2*entryCost, NoEviction)
	for i := range 3 {
		run(t, st, fmt.Sprintf("SET key:%03d 0123456789", i))
	}
	expect(t, st, "SET x y", "-"+oomText+"\r\n")
	st.SetMaxMemory(0)
	expect(t, st, "SET x y", "+OK\r\n")
	st.SetMaxMemory(2 * entryCost)
	st.SetPolicy(AllKeysLRU)
	expect(t, st, "SET x z", "+OK\r\n")
	if used := st.Used(); used > 2*entryCost+entryCost {
		t.Errorf("Used() = %d after eviction to %d", used, 2*entryCost)
	}
}
