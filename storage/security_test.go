package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"planet/internal/secret"
	"planet/storage"
	"planet/storage/storagetest"
)

// TestInternalCommandsNeedThePlatform: with a platform secret, an
// application connection's REPL.PUT (an injected version far in the
// future, which would hide later writes) gets NOPERM and changes nothing;
// the same command authenticated as the platform runs.
func TestInternalCommandsNeedThePlatform(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	ctx := context.Background()
	app := redisClient(t, r, 0)
	mustOK(t, app.Set(ctx, "k", "v1", 0).Err())
	before := r.VGet(0, "k")
	future := "99999999999999.0.sfo-1"
	for _, args := range [][]any{
		{"REPL.PUT", "k", "injected", future},
		{"REPL.DEL", "k", future},
		{"REPL.MPUT", "k", "injected", future},
		{"REPL.DIGEST"},
		{"REPL.BUCKET", "0"},
		{"VVER", "k"},
		{"MVVER", "k"},
	} {
		err := app.Do(ctx, args...).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Errorf("%v from an application: %v, want NOPERM", args[0], err)
		}
	}
	if got := r.VGet(0, "k"); got != before {
		t.Fatalf("a refused REPL.PUT changed the replica: %+v, was %+v", got, before)
	}
	mustOK(t, app.Set(ctx, "k", "v2", 0).Err())
	if got := app.Get(ctx, "k").Val(); got != "v2" {
		t.Fatalf("GET after SET: %q", got)
	}

	// The harness's client is the platform.
	soon := fmt.Sprintf("%d.0.sfo-1", time.Now().UnixMilli()+1000)
	if n := r.MustDo(0, "REPL.PUT", "k2", "x", soon).Int; n != 1 {
		t.Fatalf("REPL.PUT as the platform: %d, want 1 (applied)", n)
	}
	wrong := redis.NewClient(&redis.Options{Addr: r.Addr(0), Username: secret.PlatformUser,
		Password: secret.Random().RESPPassword(), MaxRetries: -1})
	defer wrong.Close()
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("AUTH planet with another mesh's password: %v, want WRONGPASS", err)
	}
}

// TestOtherMeshCannotReplicate: a replica with another mesh's secret,
// though listed by discovery, cannot take part: its acknowledgements
// never count towards a quorum.
func TestOtherMeshCannotReplicate(t *testing.T) {
	n := 0
	r := storagetest.NewRegion(t, 3, func(c *storage.Config) {
		if n == 2 {
			c.Secret = secret.Random()
		}
		n++
	})
	ctx := context.Background()
	c := redisClient(t, r, 0)
	mustOK(t, c.Set(ctx, "k", "v", 0).Err()) // replicas 0 and 1
	r.Stop(1)
	err := c.Set(ctx, "k", "v2", 0).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "NOQUORUM") {
		t.Fatalf("SET with the only other live replica from another mesh: %v, want NOQUORUM", err)
	}
	if got := r.VGet(2, "k"); got.Found {
		t.Fatalf("the other mesh's replica holds %+v", got)
	}
}

// TestApplicationPassword: with a password, a connection must AUTH first
// (NOAUTH), the right password works with go-redis, and replication
// between the replicas goes on (they authenticate as the platform).
func TestApplicationPassword(t *testing.T) {
	r := storagetest.NewRegion(t, 3, func(c *storage.Config) { c.Password = "app-pass" })
	ctx := context.Background()
	anon := redisClient(t, r, 0)
	if err := anon.Set(ctx, "k", "v", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("SET without AUTH: %v, want NOAUTH", err)
	}
	bad := redis.NewClient(&redis.Options{Addr: r.Addr(0), Password: "wrong", MaxRetries: -1})
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v, want WRONGPASS", err)
	}
	good := redis.NewClient(&redis.Options{Addr: r.Addr(0), Password: "app-pass", MaxRetries: -1})
	defer good.Close()
	mustOK(t, good.Set(ctx, "k", "v", 0).Err())
	r.WaitConverged()
	for i := range 3 {
		if got := r.VGet(i, "k"); got.Value != "v" {
			t.Fatalf("replica %d holds %+v", i, got)
		}
	}
	// An application password alone opens no internal command.
	if err := good.Do(ctx, "REPL.DIGEST").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("REPL.DIGEST with the application password: %v, want NOPERM", err)
	}
}

// TestRestartWithoutDiscovery: a replica restarted while discovery cannot
// be reached starts with the replicas it last knew (kept in its
// directory) and serves W=2 writes at once; it follows discovery again
// once discovery answers.
func TestRestartWithoutDiscovery(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	d := r.Discovery()
	r.Stop(1)
	d.Fail(errors.New("discovery unreachable"))
	r.Start(1)
	if peers, _ := r.Peers(1); len(peers) != 2 {
		t.Fatalf("replica restarted without discovery knows %v, want the two others", peers)
	}
	ctx := context.Background()
	mustOK(t, redisClient(t, r, 1).Set(ctx, "k", "v", 0).Err())

	d.Fail(nil)
	d.Hide(r.Addr(2))
	r.WaitPeers(1, 1) // follows discovery again
	d.Show(r.Addr(2))
	r.WaitPeers(1, 2)
}

// TestCorruptPeersFile: a peers.json that cannot be parsed is reported and
// ignored; the replica learns its peers from discovery.
func TestCorruptPeersFile(t *testing.T) {
	r := storagetest.NewRegion(t, 3)
	r.Stop(0)
	dir := filepath.Join(r.DataDir(), "storage-"+portOf(r.Addr(0)))
	if err := os.WriteFile(filepath.Join(dir, "peers.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Start(0)
	r.WaitPeers(0, 2)
	mustOK(t, redisClient(t, r, 0).Set(context.Background(), "k", "v", 0).Err())
	if !strings.Contains(r.Logs(), "last known replicas could not be read") {
		t.Error("the corrupt peers.json was not reported")
	}
}

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
