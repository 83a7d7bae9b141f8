package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
	"planet/internal/secret"
)

// secretRegion starts one region's discovery with a platform secret and a
// data directory of its own, and returns it with the secret file's path.
func secretRegion(t *testing.T) (*pt.Region, string) {
	t.Helper()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := secret.Generate(secretFile); err != nil {
		t.Fatal(err)
	}
	ip := pt.FreeIPs(1)[0]
	r := &pt.Region{Name: "sfo", IP: ip, Port: pt.FreePort(t, ip)}
	env := []string{"REGION=sfo", "WG_IP=" + ip, "BIND_HOST=" + ip, "DISCOVERY_PORT=" + strconv.Itoa(r.Port),
		"DISCOVERY_PEERS=", "DATA_DIR=" + filepath.Join(dir, "data"), secret.Env + "=" + secretFile, "LOG_LEVEL=debug"}
	r.Process = pt.StartProcess(t, "sfo/discovery", env, "discovery", "serve")
	pt.WaitFor(t, 10*time.Second, "discovery answers /health", func() bool { return pt.Healthy(r.Addr()) })
	return r, secretFile
}

// planetCLI runs the planet binary with args and extra env (and without
// the caller's PLANET_SECRET_FILE) and returns its stderr and exit code.
func planetCLI(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(pt.Binary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, secret.Env+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr pt.SyncBuffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return stderr.String(), exit.ExitCode()
		}
		if err != nil {
			t.Fatalf("planet %v: %v", args, err)
		}
		return stderr.String(), 0
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("planet %v did not finish within 30s", args)
		return "", -1
	}
}

// TestDiscoveryCLINeedsTheSecret: against a discovery with a platform
// secret, `planet discovery register` without it fails with the 401, and
// with --secret-file (or PLANET_SECRET_FILE) works; reads need nothing; a
// secret file that cannot be used stops a command with one line and exit
// code 2.
func TestDiscoveryCLINeedsTheSecret(t *testing.T) {
	sfo, secretFile := secretRegion(t)
	addr := "--addr=" + sfo.Addr()

	stderr, code := planetCLI(t, nil, "discovery", "register", "web", "127.0.0.1:8080", addr)
	if code != 1 || !strings.Contains(stderr, "401") || !strings.Contains(stderr, "PLANET_SECRET_FILE") ||
		strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("register without the secret: exit %d, stderr %q; want exit 1 and one line naming the 401", code, stderr)
	}
	t.Logf("register without the secret: %s", stderr)
	if l := pt.List(sfo.Addr(), "web", "local"); l == nil || len(l) != 0 {
		t.Fatalf("list_local after a refused register = %+v", l)
	}

	if stderr, code := planetCLI(t, nil, "discovery", "register", "web", "127.0.0.1:8080", "--ttl=1m", addr, "--secret-file", secretFile); code != 0 {
		t.Fatalf("register --secret-file: exit %d, %s", code, stderr)
	}
	if l := pt.List(sfo.Addr(), "web", "local"); len(l) != 1 || l[0].Address != "127.0.0.1:8080" {
		t.Fatalf("list_local after register = %+v", l)
	}

	stderr, code = planetCLI(t, nil, "discovery", "deregister", "web", "127.0.0.1:8080", addr)
	if code != 1 || !strings.Contains(stderr, "401") {
		t.Fatalf("deregister without the secret: exit %d, %q", code, stderr)
	}
	env := []string{secret.Env + "=" + secretFile}
	if stderr, code := planetCLI(t, env, "discovery", "deregister", "web", "127.0.0.1:8080", addr); code != 0 {
		t.Fatalf("deregister with PLANET_SECRET_FILE: exit %d, %s", code, stderr)
	}
	if l := pt.List(sfo.Addr(), "web", "local"); l == nil || len(l) != 0 {
		t.Fatalf("list_local after deregister = %+v", l)
	}

	loose := filepath.Join(t.TempDir(), "secret")
	if err := secret.Generate(loose); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"discovery", "register", "web", "127.0.0.1:8080", addr, "--secret-file", loose},
		{"discovery", "register", "web", "127.0.0.1:8080", addr, "--secret-file", filepath.Join(t.TempDir(), "missing")},
		{"discovery", "serve", "--region=nyc", "--wg-ip=127.0.0.1", "--port=1", "--secret-file", loose},
	} {
		stderr, code := planetCLI(t, nil, args...)
		if code != 2 || !strings.HasPrefix(stderr, "planet: invalid PLANET_SECRET_FILE: ") ||
			strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("planet %v: exit %d, stderr %q; want exit 2 and one line", args, code, stderr)
		}
		t.Logf("planet %s: %s", args[1], stderr)
	}
}

// TestDiscoveryRestartServesRegistrations: a discovery killed with
// SIGKILL and started again on the same data directory lists its
// registrations in the first list_local after it answers /health, without
// waiting for heartbeats; expired ones stay gone.
func TestDiscoveryRestartServesRegistrations(t *testing.T) {
	sfo, secretFile := secretRegion(t)
	for _, reg := range [][2]string{{"web", "127.0.0.1:8080"}, {"web", "127.0.0.1:8081"}, {"api", "127.0.0.1:9000"}} {
		if stderr, code := planetCLI(t, nil, "discovery", "register", reg[0], reg[1], "--ttl=5m",
			"--addr="+sfo.Addr(), "--secret-file", secretFile); code != 0 {
			t.Fatalf("register %v: exit %d, %s", reg, code, stderr)
		}
	}
	// A short registration that expires while discovery is down.
	if stderr, code := planetCLI(t, nil, "discovery", "register", "cron", "127.0.0.1:7000", "--ttl=1s",
		"--addr="+sfo.Addr(), "--secret-file", secretFile); code != 0 {
		t.Fatalf("register cron: exit %d, %s", code, stderr)
	}
	expires := time.Now().Add(time.Second)

	sfo.Kill()
	pt.WaitFor(t, 5*time.Second, "cron's deadline passes while discovery is down", func() bool {
		return time.Now().After(expires.Add(50 * time.Millisecond))
	})
	sfo.Start()
	pt.WaitFor(t, 10*time.Second, "restarted discovery answers /health", func() bool { return pt.Healthy(sfo.Addr()) })
	web := pt.List(sfo.Addr(), "web", "local")
	if len(web) != 2 || web[0].Address != "127.0.0.1:8080" || web[1].Address != "127.0.0.1:8081" || !web[0].Local {
		t.Fatalf("first list_local(web) after the restart = %+v", web)
	}
	if api := pt.List(sfo.Addr(), "api", ""); len(api) != 1 || api[0].Address != "127.0.0.1:9000" {
		t.Fatalf("first list(api) after the restart = %+v", api)
	}
	if cron := pt.List(sfo.Addr(), "cron", "local"); cron == nil || len(cron) != 0 {
		t.Fatalf("an expired registration came back: %+v", cron)
	}
	if out := sfo.Output(); !strings.Contains(out, "restored registrations") {
		t.Errorf("the restart did not log its restore")
	}
}
