package storagetest

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// watchedPackages start goroutines that must all have ended once every
// replica of a test has stopped. Their subpackages are watched too (the
// engine, the WAL, this package).
var watchedPackages = []string{
	"planet/storage",
	"planet/internal/peer",
	"planet/internal/resp",
	"planet/internal/quorum",
}

// running counts the replicas of every Region of the test process that are
// running; the leak check runs only when none is (tests may be parallel).
var running atomic.Int64

// LeakTimeout is how long CheckGoroutines waits for goroutines to end.
const LeakTimeout = 5 * time.Second

// CheckGoroutines fails tb, listing their stacks, if goroutines of the
// watched packages (planet/storage, planet/internal/peer,
// planet/internal/resp, planet/internal/quorum and their subpackages) are
// still running after LeakTimeout. Test goroutines (running a test
// function) and the caller's do not count. Call it once every replica has
// stopped; a Region does so when its test ends. If replicas of another
// (parallel) test still run, it checks nothing: the last region to stop
// checks for all of them.
func CheckGoroutines(tb testing.TB) {
	tb.Helper()
	if n := running.Load(); n > 0 {
		tb.Logf("goroutine-leak check skipped: %d replicas of other tests still run", n)
		return
	}
	if leaked := WaitGoroutines(LeakTimeout); len(leaked) > 0 {
		tb.Errorf("%d goroutines still running after the replicas stopped:\n\n%s",
			len(leaked), strings.Join(leaked, "\n\n"))
	}
}

// WaitGoroutines polls, until none remains or timeout passes, for the
// goroutines that CheckGoroutines looks for, and returns their stacks
// (none: nil).
func WaitGoroutines(timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		leaked := watchedGoroutines(otherStacks())
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		<-tick.C
	}
}

// otherStacks returns the stacks of every goroutine but the caller's, in
// runtime.Stack's format.
func otherStacks() string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	// The caller's goroutine comes first.
	_, rest, _ := strings.Cut(string(buf), "\n\n")
	return rest
}

// watchedGoroutines returns the stacks in dump (runtime.Stack's format,
// goroutines separated by a blank line) of the goroutines that run, or
// were started by, code of a watched package, other than test goroutines.
func watchedGoroutines(dump string) []string {
	var out []string
	for _, g := range strings.Split(dump, "\n\n") {
		if g = strings.TrimSpace(g); g != "" && isWatched(g) {
			out = append(out, g)
		}
	}
	return out
}

// isWatched reports whether the goroutine stack g runs, or was started by,
// a function of a watched package and is not a test goroutine.
func isWatched(g string) bool {
	watched := false
	lines := strings.Split(g, "\n")
	for _, line := range lines[1:] { // the first line is "goroutine N [state]:"
		if strings.HasPrefix(line, "\t") {
			continue // file:line
		}
		fn := strings.TrimPrefix(line, "created by ")
		if strings.HasPrefix(line, "testing.tRunner(") {
			return false // a test function, owned by package testing
		}
		if fn, _, _ = strings.Cut(fn, " in goroutine "); watchedPackage(funcPackage(fn)) {
			watched = true
		}
	}
	return watched
}

// funcPackage returns the import path of a function as a stack names it:
// "planet/storage" for "planet/storage.(*Server).Run(0xc0001, ...)".
func funcPackage(fn string) string {
	if i := strings.IndexAny(fn, "(["); i >= 0 {
		fn = fn[:i]
	}
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}

func watchedPackage(pkg string) bool {
	if strings.HasSuffix(pkg, "_test") {
		return false
	}
	for _, w := range watchedPackages {
		if pkg == w || strings.HasPrefix(pkg, w+"/") {
			return true
		}
	}
	return false
}
