package secret

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret")
	if err := Generate(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Generate(path); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Errorf("Generate over an existing file: %v, want a refusal", err)
	}
	s2, err := Load(path)
	if err != nil || s2.APIToken() != s.APIToken() {
		t.Errorf("the refused Generate changed the file: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := Generate(other); err != nil {
		t.Fatal(err)
	}
	s3, err := Load(other)
	if err != nil {
		t.Fatal(err)
	}
	if s3.APIToken() == s.APIToken() || s3.Fingerprint() == s.Fingerprint() {
		t.Error("two generated secrets derive the same credentials")
	}
}

func TestLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	good := strings.Repeat("a", 40) + "\n"
	for _, tc := range []struct {
		name, text string
		mode       os.FileMode
		want       string
	}{
		{"world readable", good, 0o644, "chmod 600"},
		{"group readable", good, 0o640, "mode 0640"},
		{"empty", "", 0o600, "empty"},
		{"short", "abc\n", 0o600, "at least 32"},
		{"blank inside", strings.Repeat("a", 20) + " " + strings.Repeat("a", 20), 0o600, "not printable"},
		{"two lines", good + good, 0o600, "not printable"},
		{"too long", strings.Repeat("a", MaxLen+1), 0o600, "longer than"},
		{"huge", strings.Repeat("a", 1<<20), 0o600, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tc.text), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.mode) // past the umask
			_, err := Load(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load: %v, want one line with %q", err, tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("Load of a missing file: nil error")
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "regular") {
		t.Errorf("Load of a directory: %v", err)
	}
}

func TestDerived(t *testing.T) {
	a, err := Parse([]byte(strings.Repeat("x", 32) + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Parse([]byte(strings.Repeat("x", 32)))
	if a.APIToken() != b.APIToken() {
		t.Error("the line end changed the secret")
	}
	uses := map[string]bool{a.APIToken(): true, a.RESPPassword(): true, string(a.GossipKey()): true}
	if len(uses) != 3 || len(a.GossipKey()) != 32 || len(a.Fingerprint()) != 8 {
		t.Errorf("derived credentials not distinct or of the wrong size")
	}
	if !Equal(a.APIToken(), b.APIToken()) || Equal(a.APIToken(), a.RESPPassword()) || Equal("", a.APIToken()) {
		t.Error("Equal is wrong")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(strings.Repeat("0123456789abcdef", 4) + "\n"))
	f.Add([]byte(""))
	f.Add([]byte("\r\n"))
	f.Add([]byte(strings.Repeat("a", 33) + "\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if s != nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q with a secret, or on two lines", err)
			}
			return
		}
		if len(s.key) < MinLen || len(s.key) > MaxLen {
			t.Fatalf("accepted a secret of %d bytes", len(s.key))
		}
		for _, c := range s.key {
			if c <= ' ' || c > '~' {
				t.Fatalf("accepted byte %q", c)
			}
		}
		again, err := Parse(s.key)
		if err != nil || again.APIToken() != s.APIToken() {
			t.Fatalf("the parsed secret does not parse to itself: %v", err)
		}
	})
}
