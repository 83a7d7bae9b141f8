package wg

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A key pair whose public half `wg pubkey` printed.
const (
	vectorPrivate = "aPDjgP5sEnTCbxNlVJySy8TSi+1Sg+tPqQYtd9SUGXU="
	vectorPublic  = "nQT+QBhOpnBNZTZ+QoPvz3wiCQ281b7xAB84RLWw5Tw="
)

func TestPublicKeyMatchesWg(t *testing.T) {
	k, err := ParsePrivateKey(vectorPrivate + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := k.PublicKey().String(); got != vectorPublic {
		t.Errorf("public key %s, want %s", got, vectorPublic)
	}
	if k.String() != vectorPrivate {
		t.Errorf("String() = %s, want %s", k, vectorPrivate)
	}
}

func TestGenerateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wg.key")
	pub, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	k, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if k.PublicKey() != pub {
		t.Errorf("file's public key %s, GenerateKeyFile said %s", k.PublicKey(), pub)
	}
	data, _ := os.ReadFile(path)
	if string(data) != k.String()+"\n" {
		t.Errorf("file holds %q, want the key and a newline", data)
	}
	if _, err := GenerateKeyFile(path); !errors.Is(err, ErrKeyFileExists) {
		t.Errorf("second GenerateKeyFile: %v, want ErrKeyFileExists", err)
	}
	if again, _ := ReadKeyFile(path); again != k {
		t.Error("the refused GenerateKeyFile changed the file")
	}
}

func TestReadKeyFileRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		mode       os.FileMode
		want       string
	}{
		{"readable by others", vectorPrivate + "\n", 0o644, "chmod 600"},
		{"writable by group", vectorPrivate + "\n", 0o620, "chmod 600"},
		{"empty", "", 0o600, "not a private key"},
		{"short", "abc=\n", 0o600, "not a private key"},
		{"public key twice", vectorPublic + vectorPublic, 0o600, "not a private key"},
		{"not base64", strings.Repeat("*", 44), 0o600, "not a private key"},
		{"zeros", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 0o600, "all zeros"},
		{"huge", strings.Repeat("A", 2<<10), 0o600, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(path, []byte(tc.text), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(path, tc.mode) // past the umask
			_, err := ReadKeyFile(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadKeyFile: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := ReadKeyFile(dir); err == nil {
		t.Error("ReadKeyFile of a directory: no error")
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadKeyFile of a missing file: %v, want ErrNotExist", err)
	}
}

func TestReadPrivateKeyAcceptsBlanks(t *testing.T) {
	k, err := ReadPrivateKey(strings.NewReader("  " + vectorPrivate + "\r\n"))
	if err != nil || k.PublicKey().String() != vectorPublic {
		t.Errorf("ReadPrivateKey = %v, %v", k.PublicKey(), err)
	}
}
