package repl

import (
	"slices"
	"testing"

	"planet/internal/hlc"
)

func TestPlanBucket(t *testing.T) {
	v := func(ms uint64) hlc.Version { return hlc.Version{Time: ms << 16, Node: "sfo-1"} }
	kv := func(k string, ms uint64, del bool) KeyVersion {
		return KeyVersion{Key: []byte(k), Version: v(ms), Deleted: del}
	}
	expired := func(kv KeyVersion) bool { return kv.Version.Time < v(10).Time }
	for _, tc := range []struct {
		name               string
		mine, theirs       []KeyVersion
		wantPull, wantPush []string
	}{
		{"both empty", nil, nil, nil, nil},
		{"same versions", []KeyVersion{kv("a", 20, false)}, []KeyVersion{kv("a", 20, false)}, nil, nil},
		{"theirs newer", []KeyVersion{kv("a", 20, false)}, []KeyVersion{kv("a", 30, false)}, []string{"a"}, nil},
		{"mine newer", []KeyVersion{kv("a", 30, false)}, []KeyVersion{kv("a", 20, false)}, nil, []string{"a"}},
		{"only mine", []KeyVersion{kv("a", 30, false)}, nil, nil, []string{"a"}},
		{"only theirs", nil, []KeyVersion{kv("b", 30, false)}, []string{"b"}, nil},
		{"my expired tombstone is not pushed", []KeyVersion{kv("a", 5, true)}, nil, nil, nil},
		{"my live tombstone is pushed", []KeyVersion{kv("a", 50, true)}, nil, nil, []string{"a"}},
		{"their newer beats my expired tombstone", []KeyVersion{kv("a", 5, true)}, []KeyVersion{kv("a", 40, false)}, []string{"a"}, nil},
		{"mixed",
			[]KeyVersion{kv("a", 20, false), kv("b", 30, false), kv("c", 20, false)},
			[]KeyVersion{kv("a", 20, false), kv("b", 10, false), kv("c", 25, false), kv("d", 1, false)},
			[]string{"c", "d"}, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pull, push := PlanBucket(tc.mine, tc.theirs, expired)
			if got := strs(pull); !slices.Equal(got, tc.wantPull) {
				t.Errorf("pull %q, want %q", got, tc.wantPull)
			}
			if got := strs(push); !slices.Equal(got, tc.wantPush) {
				t.Errorf("push %q, want %q", got, tc.wantPush)
			}
		})
	}
}

func strs(b [][]byte) []string {
	var out []string
	for _, x := range b {
		out = append(out, string(x))
	}
	return out
}
