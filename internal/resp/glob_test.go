package resp

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "a", true},
		{"a*", "abc", true},
		{"a*", "ba", false},
		{"*c", "abc", true},
		{"a*c", "ac", true},
		{"a*c", "abxc", true},
		{"a*c", "abcd", false},
		{"a**c", "abc", true},
		{"*a*b*", "xxaxxbxx", true},
		{"?", "", false},
		{"?", "x", true},
		{"h?llo", "hello", true},
		{"h?llo", "hllo", false},
		{"h[ae]llo", "hallo", true},
		{"h[ae]llo", "hillo", false},
		{"h[^e]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"h[b-a]llo", "hallo", true}, // reversed range
		{"h[a-b]llo", "hcllo", false},
		{"[\\]]", "]", true},
		{"[a-]", "-", false}, // a range a-], and the class is not closed
		{"[a-]", "^", true},
		{"[abc", "a", true}, // unclosed class: ends with the pattern
		{"[abc", "ab", false},
		{"a[", "a", false},
		{"\\*", "*", true},
		{"\\*", "x", false},
		{"a\\", "a\\", true},
		{"Hello", "hello", false},
		{"[a-\xff]", "B", true}, // Redis compares signed chars: 0xff is -1, the range -1..'a'
		{"[a-\xff]", "b", false},
		{"**", "", false},
	}
	for _, tt := range tests {
		if got := GlobMatch([]byte(tt.pattern), []byte(tt.s)); got != tt.want {
			t.Errorf("GlobMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
	nocase := []struct {
		pattern, s string
		want       bool
	}{
		{"MaxMemory*", "maxmemory-policy", true},
		{"[A-Z]", "q", true},
		{"[q]", "Q", true},
		{"\\Q", "q", true},
		{"[\\Q]", "q", false}, // an escaped byte in a class matches exactly, as in Redis
	}
	for _, tt := range nocase {
		if got := globMatch([]byte(tt.pattern), []byte(tt.s), true); got != tt.want {
			t.Errorf("globMatch(%q, %q, nocase) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// TestGlobMatchesRedis compares GlobMatch with KEYS of redis-server.
func TestGlobMatchesRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: startRedis(t), Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	keys := []string{"", "a", "b", "ab", "abc", "abxc", "hello", "hallo", "hxllo", "hllo", "Hello", "]", "-", "*", "\\",
		"a\\", "a[", "[abc", "x\xffy", "x\x80y", "xay", "a*c", "aaa", "ba", "[", "^", "a-b"}
	for _, k := range keys {
		if err := rdb.Set(ctx, k, "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	patterns := []string{"*", "a*", "*c", "a*c", "*a*b*", "h?llo", "h[ae]llo", "h[^e]llo", "h[a-e]llo", "h[e-a]llo",
		"[\\]]", "[a-]", "[abc", "a[", "\\*", "a\\", "a\\\\", "x[\x80-\xff]y", "x[a-\xff]y", "x[^a]y", "[[]*", "[^]*",
		"*[", "**", "?*?", "[]", "[]a]", "[a-b-c]*", "\\", "[\\", "*\\", "a*\\", "[^"}
	for _, p := range patterns {
		want, err := rdb.Keys(ctx, p).Result()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range keys {
			if GlobMatch([]byte(p), []byte(k)) {
				got = append(got, k)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("pattern %q: GlobMatch matches %q, KEYS %q", p, got, want)
		}
	}
}

// FuzzGlobMatch: no pattern panics or takes long, and a pattern made of
// s with every byte escaped matches s exactly.
func FuzzGlobMatch(f *testing.F) {
	f.Add([]byte("a*b?[c-d][^e]\\f"), []byte("axbycg\\f"))
	f.Add([]byte("[abc"), []byte("a"))
	f.Add([]byte("*a*a*a*a*a*a*b"), []byte("aaaaaaaaaaaaaaaaaaaaaaaa"))
	f.Fuzz(func(t *testing.T, pattern, s []byte) {
		GlobMatch(pattern, s)
		globMatch(pattern, s, true)
		var quoted []byte
		for _, c := range s {
			quoted = append(quoted, '\\', c)
		}
		if !GlobMatch(quoted, s) {
			t.Fatalf("escaped %q does not match itself", s)
		}
		if len(s) > 0 && GlobMatch(quoted, s[1:]) {
			t.Fatalf("escaped %q matches %q", s, s[1:])
		}
	})
}
