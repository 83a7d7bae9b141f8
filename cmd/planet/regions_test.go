package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"planet/internal/config"
)

// runRegions runs `planet regions args...` on the table file and returns
// stdout and the exit code main would use.
func runRegions(t *testing.T, file string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{
		Name:           "planet",
		Commands:       []*cli.Command{regionsCommand()},
		Writer:         &out,
		ErrWriter:      &out,
		ExitErrHandler: func(*cli.Context, error) {},
	}
	argv := append([]string{"planet", "regions"}, args...)
	argv = append(argv, "--file", file)
	err := app.Run(interspersedArgs(app, argv))
	var ce *config.Error
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ce):
		return out.String() + err.Error(), config.ExitCode
	case errors.As(err, &ec):
		return out.String() + err.Error(), ec.ExitCode()
	}
	return out.String() + err.Error(), 1
}

func TestRegionsCLI(t *testing.T) {
	example, err := os.ReadFile("../../regions/regions.example")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "regions")
	if err := os.WriteFile(file, example, 0o600); err != nil {
		t.Fatal(err)
	}
	const lonKey = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM="
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"check"}, 0, "ok: 3 regions\n"},
		{[]string{"list"}, 0, "nyc     10.0.0.2  nyc.example.com:51820  ISIjJCUm"},
		{[]string{"env", "sfo"}, 0, "\nDISCOVERY_PEERS=10.0.0.2:10200,10.0.0.3:10200\n"},
		{[]string{"env", "lon"}, 2, `no region "lon"`},
		{[]string{"env", "sfo", "--secret-file", "/nonexistent"}, 2, "invalid PLANET_SECRET_FILE"},
		{[]string{"add", "lon", "10.0.0.2", "lon.example.com:51820", lonKey}, 2, "wg ip 10.0.0.2 is also nyc's"},
		{[]string{"add", "lon", "10.0.1.4", "lon.example.com:51820", lonKey}, 2, "outside the mesh"},
		{[]string{"add", "lon", "10.0.0.4", "lon.example.com:51820", "bad"}, 2, "want 44 base64"},
		{[]string{"add", "lon", "10.0.0.4"}, 2, "usage:"},
		{[]string{"add", "lon", "10.0.0.4", "lon.example.com:51820", lonKey}, 0, "added lon"},
		{[]string{"env", "sfo"}, 0, "\nDISCOVERY_PEERS=10.0.0.2:10200,10.0.0.3:10200,10.0.0.4:10200\n"},
		{[]string{"check"}, 0, "ok: 4 regions\n"},
		{[]string{"remove", "lon"}, 0, "removed lon"},
		{[]string{"remove", "lon"}, 2, "no such region"},
	} {
		got, code := runRegions(t, file, tc.args...)
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("regions %q: exit %d, output\n%s\nwant exit %d and %q", tc.args, code, got, tc.code, tc.want)
		}
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, example) {
		t.Errorf("add and remove changed the file:\n%s", got)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after edits: %v %v", fi.Mode(), err)
	}
	out, code := runRegions(t, file, "list", "--json")
	var list []struct{ Name, WG_IP, Endpoint, Public_Key string }
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 0 || len(list) != 3 || list[2].Name != "ams" {
		t.Errorf("list --json: %v %d %+v\n%s", err, code, list, out)
	}
	if _, code := runRegions(t, file+".missing", "list"); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}

func TestRegionsCheckProblems(t *testing.T) {
	file := filepath.Join(t.TempDir(), "regions")
	k := "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	os.WriteFile(file, []byte("mesh 10.0.0.0/24\nregion a 10.0.0.1 a.example.com:1 "+k+"\nregion b 10.0.0.9 b.example.com:1 "+k+"\n"), 0o644)
	got, code := runRegions(t, file, "check")
	want := "region b: public key " + k + " is also a's\n1 problem(s) in " + file
	if code != 1 || got != want {
		t.Errorf("check: exit %d\n%s\nwant exit 1\n%s", code, got, want)
	}
	os.WriteFile(file, []byte("mesh 10.0.0.0/24\nregion a\n"), 0o644)
	if got, code := runRegions(t, file, "check"); code != 1 || !strings.HasPrefix(got, "regions: line 2: ") {
		t.Errorf("check of a bad file: exit %d\n%s", code, got)
	}
}
