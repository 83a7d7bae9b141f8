package regions

import (
	"bufio"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.env golden files")

func exampleTable(t testing.TB) *Table {
	t.Helper()
	tab, err := ReadFile("regions.example")
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestEnvGolden(t *testing.T) {
	tab := exampleTable(t)
	for _, tc := range []struct {
		golden, region string
		opts           EnvOptions
	}{
		{"sfo.env", "sfo", EnvOptions{}},
		{"ams-secret.env", "ams", EnvOptions{BindHost: "10.0.0.3", SecretFile: "/etc/planet/secret"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := tab.Env(tc.region, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Env(%s) =\n%s\nwant (%s; go test -update rewrites it)\n%s", tc.region, got, path, want)
			}
		})
	}
}

func TestEnvVariables(t *testing.T) {
	env, err := exampleTable(t).Env("sfo", EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vars := envVars(t, strings.NewReader(env))
	for name, want := range map[string]string{
		"REGION": "sfo", "WG_IP": "10.0.0.1", "BIND_HOST": "0.0.0.0",
		"DISCOVERY_PEERS": "10.0.0.2:10200,10.0.0.3:10200", "DISCOVERY_ADDR": "127.0.0.1:10200",
		"#PLANET_SECRET_FILE": "/etc/planet/secret",
	} {
		if vars[name] != want {
			t.Errorf("%s=%q, want %q", name, vars[name], want)
		}
	}
}

// TestEnvDefaultsMatchExample keeps the commented defaults that Env renders
// in step with region.env.example, which documents them.
func TestEnvDefaultsMatchExample(t *testing.T) {
	f, err := os.Open("../region.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	example := envVars(t, f)
	for _, d := range defaults {
		v, ok := example["#"+d.name]
		if !ok {
			v, ok = example[d.name]
		}
		if !ok || v != d.value {
			t.Errorf("%s: Env renders %q, region.env.example has %q", d.name, d.value, v)
		}
	}
}

// envVars returns the NAME=value and #NAME=value lines of an env file.
func envVars(t testing.TB, r io.Reader) map[string]string {
	t.Helper()
	vars := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.ContainsAny(name, " ") && name != "#" {
			vars[name] = value
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vars
}

func TestEnvErrors(t *testing.T) {
	tab := exampleTable(t)
	if _, err := tab.Env("lon", EnvOptions{}); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("unknown region: %v", err)
	}
	for _, opts := range []EnvOptions{
		{BindHost: "localhost"}, {SecretFile: "secret"}, {SecretFile: "/etc/planet/my secret"}, {SecretFile: "/etc/$x"},
	} {
		if _, err := tab.Env("sfo", opts); err == nil {
			t.Errorf("Env(%+v) accepted", opts)
		}
	}
	tab.Regions[1].IP = tab.Regions[0].IP
	if _, err := tab.Env("sfo", EnvOptions{}); err == nil || !strings.Contains(err.Error(), "is also sfo's") {
		t.Errorf("Env of a broken table = %v", err)
	}
}
