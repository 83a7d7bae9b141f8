package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// owners: each third-party library is imported by its owner alone (STYLE:
// a library does not leak through its owner's API).
var owners = map[string]string{
	"github.com/syndtr/goleveldb":       "planet/storage/engine",
	"github.com/redis/go-redis/v9":      "planet/internal/peer",
	"github.com/hashicorp/memberlist":   "planet/discovery",
	"github.com/urfave/cli/v2":          "planet/cmd/planet",
	"github.com/anishathalye/porcupine": "planet/internal/planettest",
	// wireguard-go and wgctrl (golang.zx2c4.com/wireguard/wgctrl).
	"golang.zx2c4.com/wireguard":     "planet/wg",
	"github.com/vishvananda/netlink": "planet/wg",
}

// TestImportRulesByOwner: no package but a library's owner imports it
// directly. Tests may use go-redis as the client users really use.
func TestImportRulesByOwner(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}} {{join .Imports " "}}`, "planet/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := f[0]
		for _, imp := range f[1:] {
			for lib, owner := range owners {
				if (imp == lib || strings.HasPrefix(imp, lib+"/")) && pkg != owner && !strings.HasPrefix(pkg, owner+"/") {
					t.Errorf("%s imports %s, which only %s may import", pkg, imp, owner)
				}
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("go list returned %d packages", checked)
	}
}

// TestImportRules: a service that needs discovery imports only its small
// client; the cache and the WAL tailer take nothing of storage but its WAL
// format; shared packages import no service.
func TestImportRules(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"planet/discovery/client", []string{"github.com/hashicorp/memberlist", "github.com/urfave/cli/v2", "planet/discovery"}},
		{"planet/discovery/api", []string{"github.com/hashicorp/memberlist", "planet/discovery"}},
		{"planet/internal/config", []string{"github.com/hashicorp/memberlist", "github.com/urfave/cli/v2"}},
		{"planet/internal/supervisor", []string{"github.com/urfave/cli/v2"}},
		// The tailer reads the WAL without the engine, goleveldb or go-redis.
		{"planet/storage/wal", []string{"github.com/syndtr/goleveldb", "github.com/redis/go-redis/v9", "planet/storage"}},
		{"planet/internal/hlc", []string{"planet/storage", "planet/discovery"}},
		{"planet/internal/quorum", []string{"planet/storage", "planet/discovery", "github.com/redis/go-redis/v9"}},
		{"planet/internal/resp", []string{"planet/storage", "planet/discovery", "github.com/redis/go-redis/v9", "github.com/syndtr/goleveldb"}},
		{"planet/internal/peer", []string{"planet/storage", "planet/discovery"}},
		{"planet/storage/engine", []string{"planet/storage", "planet/discovery", "github.com/redis/go-redis/v9"}},
		// Storage reaches discovery through its client and peers through
		// internal/peer.
		{"planet/storage", []string{"github.com/hashicorp/memberlist", "github.com/urfave/cli/v2", "planet/discovery"}},
		{"planet/caching", []string{"planet/storage", "planet/discovery", "github.com/syndtr/goleveldb"}},
		{"planet/waltailer", []string{"planet/storage", "planet/discovery", "github.com/syndtr/goleveldb"}},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "is not in std") || strings.Contains(string(out), "cannot find") ||
				strings.Contains(string(out), "no required module") || strings.Contains(string(out), "directory not found") {
				continue // not written yet (caching, waltailer)
			}
			t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
		}
		for _, d := range strings.Fields(string(out)) {
			if d == tc.pkg {
				continue
			}
			for _, f := range tc.forbidden {
				if d == f || strings.HasPrefix(d, f+"/") && !allowedSub(f, d) {
					t.Errorf("%s imports %s", tc.pkg, d)
				}
			}
		}
	}
}

// allowedSub: the packages under a forbidden one that may still be
// imported (discovery's client and wire types; storage's WAL format).
func allowedSub(forbidden, dep string) bool {
	switch forbidden {
	case "planet/discovery":
		return dep == "planet/discovery/client" || dep == "planet/discovery/api"
	case "planet/storage":
		return dep == "planet/storage/wal"
	}
	return false
}
