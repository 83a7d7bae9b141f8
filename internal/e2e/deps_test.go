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
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, d := range deps {
			for _, f := range tc.forbidden {
				if d == f || strings.HasPrefix(d, f+"/") && f != "planet/discovery" {
					t.Errorf("%s imports %s", tc.pkg, d)
				}
			}
		}
	}
}
