package peer

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGoMergedRedis merges GETs into MGETs against a real redis-server:
// every item gets its own element.
func TestGoMergedRedis(t *testing.T) {
	checkGoroutines(t)
	srv := startRedis(t)
	c := New(srv.addr, Config{Conns: 1})
	t.Cleanup(func() { c.Close() })
	const n = 200
	for i := range n {
		if _, err := do(t, c, "SET", fmt.Sprint("k", i), fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	pipelines, commands := c.pipelines.Load(), c.commands.Load()
	got := make([]string, n+1)
	var wg sync.WaitGroup
	wg.Add(n + 1)
	for i := range n + 1 { // k200 does not exist
		c.GoMerged(func(r Reply, err error) {
			defer wg.Done()
			switch {
			case err != nil:
				got[i] = "error: " + err.Error()
			case r.Kind == KindNil:
				got[i] = "nil"
			default:
				got[i] = string(r.Str)
			}
		}, []byte("MGET"), []byte(fmt.Sprint("k", i)))
	}
	wg.Wait()
	for i := range n {
		if want := fmt.Sprint("v", i); got[i] != want {
			t.Errorf("item %d = %q, want %q", i, got[i], want)
		}
	}
	if got[n] != "nil" {
		t.Errorf("missing key = %q, want nil", got[n])
	}
	if p, cmds := c.pipelines.Load()-pipelines, c.commands.Load()-commands; cmds != n+1 || p < 1 {
		t.Errorf("%d requests in %d pipelines, want %d in at least 1", cmds, p, n+1)
	}
}

// TestGoMergedSplit holds the peer's first answer so that the items queued
// meanwhile go as one command, and checks how its reply is split: element
// errors per item, a whole error to every item, a bad array to every item.
func TestGoMergedSplit(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	var once sync.Once
	f := startFakePeer(t, "", func(cmd []string) string {
		once.Do(func() { <-release })
		switch cmd[0] {
		case "ECHOS":
			var b strings.Builder
			fmt.Fprintf(&b, "*%d\r\n", len(cmd)-1)
			for _, a := range cmd[1:] {
				if a == "bad" {
					b.WriteString("-ERR bad item\r\n")
					continue
				}
				fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
			}
			return b.String()
		case "REFUSED":
			return "-ERR refused\r\n"
		case "SHORT":
			return "*1\r\n+OK\r\n"
		}
		return "+PONG\r\n"
	})
	c := New(f.addr(), Config{Conns: 1})
	t.Cleanup(func() { c.Close() })

	type outcome struct {
		reply string
		err   error
	}
	var mu sync.Mutex
	got := map[string]outcome{}
	var wg sync.WaitGroup
	send := func(merge bool, name, arg string) {
		wg.Add(1)
		cb := func(r Reply, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			got[name+" "+arg] = outcome{string(r.Str), err}
		}
		if merge {
			c.GoMerged(cb, []byte(name), []byte(arg))
		} else {
			c.Go(cb, []byte(name), []byte(arg))
		}
	}
	send(false, "PING", "first") // held by the peer
	waitFor(t, 5*time.Second, "the first command to reach the peer", func() bool {
		_, cmds := f.stats()
		return len(cmds) == 1
	})
	for _, a := range []string{"a", "bad", "c"} {
		send(true, "ECHOS", a)
	}
	send(true, "REFUSED", "x")
	send(true, "REFUSED", "y")
	send(true, "SHORT", "p")
	send(true, "SHORT", "q")
	send(false, "PING", "last")
	send(true, "ECHOS", "d") // after an unmerged command: a command of its own
	close(release)
	wg.Wait()

	_, cmds := f.stats()
	var names []string
	for _, cmd := range cmds {
		names = append(names, strings.Join(cmd, " "))
	}
	want := "PING first|ECHOS a bad c|REFUSED x y|SHORT p q|PING last|ECHOS d"
	if strings.Join(names, "|") != want {
		t.Errorf("peer got %q, want %q", strings.Join(names, "|"), want)
	}
	for _, a := range []string{"a", "c", "d"} {
		if o := got["ECHOS "+a]; o.err != nil || o.reply != a {
			t.Errorf("ECHOS %s = %+v, want %q", a, o, a)
		}
	}
	var re *ReplyError
	if o := got["ECHOS bad"]; !errors.As(o.err, &re) || re.Msg != "ERR bad item" {
		t.Errorf("ECHOS bad = %+v, want its element's error", o)
	}
	for _, a := range []string{"x", "y"} {
		if o := got["REFUSED "+a]; !errors.As(o.err, &re) || re.Msg != "ERR refused" {
			t.Errorf("REFUSED %s = %+v, want the whole command's error", a, o)
		}
	}
	for _, a := range []string{"p", "q"} {
		if o := got["SHORT "+a]; !errors.Is(o.err, ErrUnavailable) || !strings.Contains(o.err.Error(), "array of 2") {
			t.Errorf("SHORT %s = %+v, want a protocol error", a, o)
		}
	}
	if !c.Available() {
		t.Error("a garbled merged reply must not count as a transport failure")
	}
}
