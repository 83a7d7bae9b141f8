package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules: each third-party library is owned by one package, and a
// service that needs discovery imports only its small client.
func TestImportRules(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"planet/discovery/client", []string{"github.com/hashicorp/memberlist", "github.com/urfave/cli/v2", "planet/discovery"}},
		{"planet/discovery/api", []string{"github.com/hashicorp/memberlist", "planet/discovery"}},
		{"planet/discovery", []string{"github.com/urfave/cli/v2"}},
		{"planet/internal/config", []string{"github.com/hashicorp/memberlist", "github.com/urfave/cli/v2"}},
		{"planet/internal/supervisor", []string{"github.com/urfave/cli/v2"}},
		// The tailer reads the WAL without the engine, goleveldb or go-redis.
		{"planet/storage/wal", []string{"github.com/syndtr/goleveldb", "github.com/redis/go-redis/v9", "planet/storage"}},
		{"planet/internal/hlc", []string{"github.com/syndtr/goleveldb", "planet/storage"}},
		// Storage reaches discovery through its client and peers through
		// internal/peer; go-redis is owned by internal/peer.
		{"planet/storage", []string{"github.com/hashicorp/memberlist", "github.com/urfave/cli/v2", "planet/discovery"}},
		{"planet/internal/resp", []string{"github.com/redis/go-redis/v9", "github.com/syndtr/goleveldb"}},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			for _, f := range tc.forbidden {
				if d == f || strings.HasPrefix(d, f+"/") && !allowedSub(f, d) {
					t.Errorf("%s imports %s", tc.pkg, d)
				}
			}
		}
	}
}

// allowedSub: the packages under a forbidden one that may still be
// imported (discovery's client and wire types; storage's wal and hlc).
func allowedSub(forbidden, dep string) bool {
	switch forbidden {
	case "planet/discovery":
		return true
	case "planet/storage":
		return dep == "planet/storage/wal" || dep == "planet/internal/hlc"
	}
	return false
}
