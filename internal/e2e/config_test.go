package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// TestBadConfigurationStopsAtStart: each bad value stops the service at
// start with exit code 2 and one line naming the variable.
func TestBadConfigurationStopsAtStart(t *testing.T) {
	good := map[string]string{"REGION": "sfo", "WG_IP": "127.0.0.1", "BIND_HOST": "127.0.0.1",
		"DISCOVERY_PORT": "1", "DISCOVERY_PEERS": ""}
	for _, tc := range []struct {
		name, variable, value string
		args                  []string
	}{
		{"region with capitals", "REGION", "SFO", nil},
		{"region with punctuation", "REGION", "sf-o", nil},
		{"region missing", "REGION", "", nil},
		{"WG_IP not an IP", "WG_IP", "nyc", nil},
		{"WG_IP missing", "WG_IP", "", nil},
		{"BIND_HOST not an IP", "BIND_HOST", "0.0.0", nil},
		{"peer without port", "DISCOVERY_PEERS", "10.0.0.2:10200,10.0.0.3", nil},
		{"peer with bad port", "DISCOVERY_PEERS", "10.0.0.2:http", nil},
		{"port out of range", "DISCOVERY_PORT", "70000", nil},
		{"log level", "LOG_LEVEL", "loud", nil},
		{"ttl not a duration", "DISCOVERY_TTL", "forever", []string{"discovery", "register", "web", "127.0.0.1:1"}},
		{"ttl over an hour", "DISCOVERY_TTL", "2h", []string{"discovery", "register", "web", "127.0.0.1:1"}},
		{"discovery address", "DISCOVERY_ADDR", "nowhere", []string{"discovery", "list", "web"}},
		{"tailer region", "REGION", "SFO", []string{"waltailer", "serve"}},
		{"tailer admin port", "WALTAILER_ADMIN_PORT", "0x10", []string{"waltailer", "serve"}},
		{"tailer repair window", "WALTAILER_REPAIR_AFTER", "soon", []string{"waltailer", "serve"}},
		{"tailer status address", "WALTAILER_ADDR", "nowhere", []string{"waltailer", "status"}},
		{"cache memory not a size", "CACHE_MAXMEMORY", "lots", []string{"caching", "serve"}},
		{"cache memory negative", "CACHE_MAXMEMORY", "-1mb", []string{"caching", "serve"}},
		{"cache policy", "CACHE_MAXMEMORY_POLICY", "lfu", []string{"caching", "serve"}},
		{"cache port out of range", "PORT", "70000", []string{"caching", "serve"}},
		{"cache admin port", "ADMIN_PORT", "http", []string{"caching", "serve"}},
		{"cache maxclients", "CACHE_MAXCLIENTS", "0", []string{"caching", "serve"}},
		{"cache timeout", "CACHE_TIMEOUT", "idle", []string{"caching", "serve"}},
		{"cache mode", "CACHE_MODE", "sometimes", []string{"caching", "serve"}},
		{"cache strong timeout", "CACHE_STRONG_TIMEOUT", "0s", []string{"caching", "serve"}},
		{"cache replication queue", "CACHE_REPLICATION_QUEUE", "0", []string{"caching", "serve"}},
		{"cache tombstone grace", "CACHE_TOMBSTONE_GRACE", "forever", []string{"caching", "serve"}},
		{"cache warm start", "CACHE_WARM_START", "maybe", []string{"caching", "serve"}},
		{"cache region", "REGION", "SFO", []string{"caching", "serve"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				args = []string{"discovery", "serve"}
			}
			cmd := exec.Command(pt.Binary(t), args...)
			cmd.Env = os.Environ()
			for k, v := range good {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			cmd.Env = append(cmd.Env, tc.variable+"="+tc.value)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatal("still running after 10s: bad configuration was accepted")
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Errorf("exit = %v, want code 2", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.variable) {
				t.Errorf("stderr = %q, want one line naming %s", stderr.String(), tc.variable)
			}
			if strings.Contains(stderr.String(), "panic") {
				t.Errorf("panicked: %s", stderr.String())
			}
		})
	}
}
