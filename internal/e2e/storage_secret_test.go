package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pt "planet/internal/planettest"
)

// secretFile runs `planet secret generate` into the test's directory and
// returns the file.
func secretFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if out, err := exec.Command(pt.Binary(t), "secret", "generate", path).CombinedOutput(); err != nil {
		t.Fatalf("planet secret generate: %v\n%s", err, out)
	}
	return path
}

// secureRegion starts one region whose discovery and n storage replicas
// share a platform secret, with extra storage env.
func secureRegion(t *testing.T, n int, env ...string) (string, *pt.Region, []*pt.Replica) {
	t.Helper()
	file := secretFile(t)
	region := pt.NewDiscovery(t, "sfo").Regions["sfo"]
	region.AddEnv("PLANET_SECRET_FILE=" + file)
	region.Start()
	rs := pt.NewStorage(t, region, n, t.TempDir(), append([]string{"PLANET_SECRET_FILE=" + file}, env...)...)
	pt.StartAll(t, rs)
	return file, region, rs
}

// TestSecretGenerate: `planet secret generate` writes a 0600 file and
// refuses to overwrite it; a service refuses a secret file others may
// read, with one line naming the variable and exit code 2.
func TestSecretGenerate(t *testing.T) {
	file := secretFile(t)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v", err, fi.Mode())
	}
	before, _ := os.ReadFile(file)
	out, err := exec.Command(pt.Binary(t), "secret", "generate", file).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "not overwriting") {
		t.Fatalf("second generate: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Fatal("the refused generate changed the file")
	}
	os.Chmod(file, 0o644)
	for _, args := range [][]string{{"storage", "serve"}, {"discovery", "serve"}} {
		cmd := exec.Command(pt.Binary(t), args...)
		cmd.Env = append(os.Environ(), "REGION=sfo", "WG_IP=127.0.0.1", "DATA_DIR="+t.TempDir(),
			"PLANET_SECRET_FILE="+file, "PORT=1", "DISCOVERY_PORT=1")
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || len(lines) != 1 ||
			!strings.Contains(lines[0], "PLANET_SECRET_FILE") || !strings.Contains(lines[0], "chmod 600") {
			t.Errorf("planet %v with a world-readable secret: %v\n%s", args, err, out)
		}
	}
}

// redisCLIErr runs redis-cli and returns its output, failing only if it
// cannot run.
func redisCLIErr(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH=") // no password from the environment
	out, _ := cmd.Output()                           // redis-cli's -a warning goes to stderr
	return strings.TrimSpace(strings.ReplaceAll(string(out), "\r", ""))
}

// TestStorageSecretAndPassword: with a platform secret and an application
// password, redis-cli needs -a; REPL.PUT from an application gets NOPERM
// and changes nothing; replication between the replicas works.
func TestStorageSecretAndPassword(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatal("redis-cli not found: run `make deps` as root, or apt-get install redis-tools")
	}
	_, _, rs := secureRegion(t, 3, "STORAGE_PASSWORD=app-pass")
	a, b := rs[0].Addr(), rs[1].Addr()
	if got := redisCLIErr(t, a, "SET", "k", "v"); !strings.HasPrefix(got, "NOAUTH Authentication required") {
		t.Fatalf("SET without -a: %q", got)
	}
	if got := redisCLIErr(t, a, "-a", "wrong", "SET", "k", "v"); !strings.Contains(got, "WRONGPASS") && !strings.Contains(got, "NOAUTH") {
		t.Fatalf("SET with a wrong -a: %q", got)
	}
	if got := redisCLIErr(t, a, "-a", "app-pass", "SET", "k", "v1"); got != "OK" {
		t.Fatalf("SET with -a: %q", got)
	}
	if got := redisCLIErr(t, b, "-a", "app-pass", "GET", "k"); got != "v1" {
		t.Fatalf("GET with -a through another replica: %q", got)
	}
	vget := redisCLIErr(t, a, "-a", "app-pass", "VGET", "k")
	got := redisCLIErr(t, a, "-a", "app-pass", "REPL.PUT", "k", "injected", "99999999999999.0.sfo-1")
	if !strings.HasPrefix(got, "NOPERM") {
		t.Fatalf("REPL.PUT from an application: %q, want NOPERM", got)
	}
	if after := redisCLIErr(t, a, "-a", "app-pass", "VGET", "k"); after != vget {
		t.Fatalf("the refused REPL.PUT changed the replica: %q, was %q", after, vget)
	}
	cli := func(args ...string) (string, error) {
		out, err := exec.Command(pt.Binary(t), append([]string{"storage"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := cli("set", "k", "v", "--addr", a); err == nil || !strings.Contains(out, "NOAUTH") {
		t.Fatalf("planet storage set without -a: %v %q", err, out)
	}
	if out, err := cli("get", "k", "-a", "app-pass", "--addr", b); err != nil || out != "v1" {
		t.Fatalf("planet storage get -a: %v %q", err, out)
	}
	c := redis.NewClient(&redis.Options{Addr: b, Password: "app-pass", MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	mustOK(t, c.Set(ctx, "k", "v2", 0).Err())
	if got := redisCLIErr(t, a, "-a", "app-pass", "GET", "k"); got != "v2" {
		t.Fatalf("GET after a later SET: %q", got)
	}
}

// TestStorageRestartWhileDiscoveryPaused: a replica SIGKILLed and
// restarted while its region's discovery is frozen (SIGSTOP) starts with
// the replicas it knew and serves W=2 writes within a few seconds.
func TestStorageRestartWhileDiscoveryPaused(t *testing.T) {
	_, region, rs := secureRegion(t, 3)
	ctx := context.Background()
	mustOK(t, rdb(t, rs[0]).Set(ctx, "before", "1", 0).Err())
	rs[1].Kill()
	region.Signal(syscall.SIGSTOP)
	defer region.Signal(syscall.SIGCONT)
	rs[1].Start()
	c := rdb(t, rs[1])
	took := pt.WaitFor(t, 10*time.Second, "a W=2 write through the restarted replica", func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Set(cctx, "after", "2", 0).Err() == nil
	})
	t.Logf("the restarted replica served a W=2 write %v after its start (discovery frozen)", took.Round(time.Millisecond))
	if got := rdb(t, rs[2]).Get(ctx, "after").Val(); got != "2" {
		t.Fatalf("GET through another replica: %q", got)
	}
	region.Signal(syscall.SIGCONT)
}

// TestStorageLargeValueUnderLoad: a value of the largest size gets OK
// while the region takes a write load.
func TestStorageLargeValueUnderLoad(t *testing.T) {
	_, _, rs := secureRegion(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var writes atomic.Int64
	for w := range 8 {
		c := rdb(t, rs[w%3])
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if c.Set(ctx, fmt.Sprintf("load/%d/%d", w, i), strings.Repeat("x", 512), 0).Err() == nil {
					writes.Add(1)
				}
			}
		})
	}
	big := strings.Repeat("v", 16<<20-1)
	// A client that waits for a large write's longer deadline.
	c := redis.NewClient(&redis.Options{Addr: rs[0].Addr(), MaxRetries: -1, ReadTimeout: 30 * time.Second})
	defer c.Close()
	for i := range 2 {
		start := time.Now()
		if err := c.Set(context.Background(), fmt.Sprint("big", i), big, 0).Err(); err != nil {
			t.Fatalf("SET of 16 MiB - 1 under load: %v (after %v)", err, time.Since(start))
		}
		t.Logf("SET of 16 MiB - 1 under load: OK in %v", time.Since(start).Round(time.Millisecond))
	}
	cancel()
	wg.Wait()
	if writes.Load() == 0 {
		t.Fatal("no load was applied")
	}
	if n := len(rdb(t, rs[1]).Get(context.Background(), "big1").Val()); n != len(big) {
		t.Fatalf("GET big1 through another replica: %d bytes", n)
	}
}

// TestStorageClientLimits: beyond STORAGE_MAXCLIENTS a connection gets
// Redis's error while the others are served; STORAGE_TIMEOUT closes
// idle connections.
func TestStorageClientLimits(t *testing.T) {
	_, rs := storageRegion(t, 1, "QUORUM_W=1", "QUORUM_R=1", "STORAGE_MAXCLIENTS=20", "STORAGE_TIMEOUT=1s")
	addr := rs[0].Addr()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ping := func(c net.Conn) (string, error) {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			return "", err
		}
		buf := make([]byte, 128)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	var refused string
	for range 40 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if got, _ := ping(c); got != "+PONG\r\n" {
			refused = got
			break
		}
	}
	if refused != "-ERR max number of clients reached\r\n" {
		t.Fatalf("past maxclients: %q", refused)
	}
	if got, err := ping(conns[0]); got != "+PONG\r\n" {
		t.Fatalf("an admitted connection past the cap: %q %v", got, err)
	}
	// Idle connections go once idle for 1 s (even the one that just pinged).
	pt.WaitFor(t, 10*time.Second, "idle connections closed", func() bool {
		conns[1].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := conns[1].Read(make([]byte, 1))
		return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
	})
}
