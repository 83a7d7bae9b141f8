package storagetest

import (
	"context"
	"strings"
	"testing"

	pt "planet/internal/planettest"
)

// dump is runtime.Stack's output for goroutines of every kind the leak
// check must tell apart (the caller's goroutine already removed).
const dump = `goroutine 7 [select]:
planet/storage.(*Server).refreshPeers(0xc000180000, {0x9a1b40, 0xc0001a4000})
	/work/main/storage/peers.go:59 +0x1c5
planet/storage.(*Server).Run.func1()
	/work/main/storage/server.go:131 +0x4b
created by planet/storage.(*Server).Run in goroutine 6
	/work/main/storage/server.go:128 +0x2d4

goroutine 8 [IO wait]:
internal/poll.runtime_pollWait(0x7f, 0x72)
	/usr/local/go/src/runtime/netpoll.go:351 +0x85
net/http.(*Server).Serve(0xc0002a0000, {0x9a2c00, 0xc000010040})
	/usr/local/go/src/net/http/server.go:3424 +0x30c
created by planet/storage.(*Server).Run.func4 in goroutine 6
	/work/main/storage/server.go:150 +0x2d4

goroutine 9 [chan receive]:
planet/internal/peer.(*Client).work(0xc000200000)
	/work/main/internal/peer/batch.go:44 +0x65
created by planet/internal/peer.newClient in goroutine 7
	/work/main/internal/peer/client.go:66 +0x2b1

goroutine 10 [select]:
planet/storage/engine.(*Engine).commitLoop(0xc000300000)
	/work/main/storage/engine/commit.go:40 +0x11d
created by planet/storage/engine.Open in goroutine 6
	/work/main/storage/engine/engine.go:120 +0x6b1

goroutine 11 [chan receive]:
testing.(*T).Run(0xc000103380, {0x8f5a2e, 0xa}, 0x91b2c8)
	/usr/local/go/src/testing/testing.go:1859 +0x431
planet/storage_test.TestQuorum(0xc000103380)
	/work/main/storage/quorum_test.go:20 +0x2a
testing.tRunner(0xc000103380, 0x91b2c8)
	/usr/local/go/src/testing/testing.go:1792 +0xf4
created by testing.(*T).Run in goroutine 1
	/usr/local/go/src/testing/testing.go:1851 +0x413

goroutine 12 [chan receive]:
planet/storage_test.TestLoad.func1()
	/work/main/storage/load_test.go:30 +0x2a
created by planet/storage_test.TestLoad in goroutine 11
	/work/main/storage/load_test.go:28 +0x2a

goroutine 13 [IO wait]:
github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper(0xc000400000)
	/root/go/pkg/mod/github.com/redis/go-redis/v9@v9.23.0/internal/pool/pool.go:500 +0x2a
created by github.com/redis/go-redis/v9/internal/pool.NewConnPool in goroutine 9
	/root/go/pkg/mod/github.com/redis/go-redis/v9@v9.23.0/internal/pool/pool.go:100 +0x2a

goroutine 14 [select]:
planet/internal/respx.(*Thing).run(0xc000500000)
	/work/main/internal/respx/x.go:1 +0x2a
created by main.main in goroutine 1
	/work/main/main.go:1 +0x2a

goroutine 15 [chan receive]:
planet/storage/storagetest.(*Discovery).Register(0xc000600000, {0x9a1b40, 0xc0001a4000}, {0x8f0000, 0x7}, {0xc000012345, 0xf})
	/work/main/storage/storagetest/discovery.go:66 +0x1c5
planet/storage_test.TestLeak.func1()
	/work/main/storage/harness_test.go:40 +0x4b
created by planet/storage_test.TestLeak in goroutine 11
	/work/main/storage/harness_test.go:39 +0x2d4

goroutine 16 [select]:
planet/internal/quorum.(*Deadlines).Run[...](0xc000700000, {0x9a1b40, 0xc0001a4000})
	/work/main/internal/quorum/deadline.go:110 +0x1c5
created by planet/storage.(*Server).Run in goroutine 6
	/work/main/storage/server.go:140 +0x2d4
`

func TestWatchedGoroutines(t *testing.T) {
	var got []string
	for _, g := range watchedGoroutines(dump) {
		id, _, _ := strings.Cut(g, " [")
		got = append(got, id)
	}
	want := []string{
		"goroutine 7",  // in planet/storage
		"goroutine 8",  // in net/http, started by planet/storage
		"goroutine 9",  // in planet/internal/peer
		"goroutine 10", // in a subpackage, planet/storage/engine
		// not 11: a test function; not 12: started by a test; not 13:
		// neither runs nor was started by a watched package; not 14:
		// planet/internal/respx is not planet/internal/resp.
		"goroutine 15", // in planet/storage/storagetest, started by a test
		"goroutine 16", // a generic function of planet/internal/quorum
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("watched goroutines: %v, want %v", got, want)
	}
}

func TestFuncPackage(t *testing.T) {
	for _, tc := range []struct{ fn, want string }{
		{"planet/storage.(*Server).Run(0xc000180000)", "planet/storage"},
		{"planet/storage.New.func1()", "planet/storage"},
		{"planet/storage/engine.Open", "planet/storage/engine"},
		{"planet/internal/quorum.F[...](0x1)", "planet/internal/quorum"},
		{"planet/storage_test.TestX(0x1)", "planet/storage_test"},
		{"github.com/redis/go-redis/v9.(*Client).Do(0x1)", "github.com/redis/go-redis/v9"},
		{"runtime.gopark(0x1)", "runtime"},
		{"main.main()", "main"},
	} {
		if got := funcPackage(tc.fn); got != tc.want {
			t.Errorf("funcPackage(%q) = %q, want %q", tc.fn, got, tc.want)
		}
	}
}

// TestWaitGoroutinesFindsALeak: a goroutine left blocked in this package
// (a registration whose context never ends) is reported, and no longer
// once it ends.
func TestWaitGoroutinesFindsALeak(t *testing.T) {
	d := NewDiscovery(RegionName)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Register(ctx, "storage", "127.0.0.1:1")
	}()
	pt.WaitFor(t, WaitTimeout, "the registration", func() bool { return d.isRegistered("storage", "127.0.0.1:1") })
	leaked := WaitGoroutines(0)
	if len(leaked) != 1 || !strings.Contains(leaked[0], "planet/storage/storagetest.(*Discovery).Register") {
		t.Fatalf("leak check found %d goroutines, want the registration:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}
	cancel()
	<-done
	if leaked := WaitGoroutines(LeakTimeout); len(leaked) > 0 {
		t.Fatalf("goroutines reported after the registration ended:\n%s", strings.Join(leaked, "\n\n"))
	}
}
