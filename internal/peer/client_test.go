package peer

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	checkGoroutines(t)
	srv := startRedis(t)
	c := New(srv.addr, Config{})
	t.Cleanup(func() { c.Close() })

	bulk := func(s string) Reply { return Reply{Kind: KindBulk, Str: []byte(s)} }
	tests := []struct {
		args    []string
		want    Reply
		wantErr string // prefix of ReplyError.Msg
	}{
		{args: []string{"SET", "k", "v\r\n\x00"}, want: Reply{Kind: KindStatus, Str: []byte("OK")}},
		{args: []string{"GET", "k"}, want: bulk("v\r\n\x00")},
		{args: []string{"SET", "empty", ""}, want: Reply{Kind: KindStatus, Str: []byte("OK")}},
		{args: []string{"GET", "empty"}, want: bulk("")},
		{args: []string{"GET", "missing"}, want: Reply{Kind: KindNil}},
		{args: []string{"INCR", "n"}, want: Reply{Kind: KindInt, Int: 1}},
		{args: []string{"INCRBY", "n", "-5"}, want: Reply{Kind: KindInt, Int: -4}},
		{args: []string{"MGET", "k", "missing", "empty"}, want: Reply{Kind: KindArray, Array: []Reply{
			bulk("v\r\n\x00"), {Kind: KindNil}, bulk(""),
		}}},
		{args: []string{"LRANGE", "nolist", "0", "-1"}, want: Reply{Kind: KindArray, Array: []Reply{}}},
		{args: []string{"DEL", "k", "missing"}, want: Reply{Kind: KindInt, Int: 1}},
		{args: []string{"GET", "k"}, want: Reply{Kind: KindNil}},
		{args: []string{"INCR", "empty"}, wantErr: "ERR value is not an integer"},
		{args: []string{"NOSUCHCOMMAND"}, wantErr: "ERR unknown command"},
		{args: []string{"PING"}, want: Reply{Kind: KindStatus, Str: []byte("PONG")}},
	}
	for _, tt := range tests { // in order: later commands see earlier ones
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, err := do(t, c, tt.args...)
			if tt.wantErr != "" {
				var re *ReplyError
				if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, tt.wantErr) {
					t.Fatalf("err = %v, want a ReplyError %q...", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if !c.Available() {
		t.Error("Available() = false after replies, error replies included")
	}
}

// TestConcurrentPipelined sends 1000 commands from 100 goroutines and
// checks every reply, and that they shared pipelines.
func TestConcurrentPipelined(t *testing.T) {
	checkGoroutines(t)
	srv := startRedis(t)
	c := New(srv.addr, Config{})
	t.Cleanup(func() { c.Close() })

	const goroutines, perGoroutine = 100, 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				key := fmt.Sprintf("k%d", g)
				r, err := do(t, c, "INCR", key)
				if err != nil {
					errs <- err
					return
				}
				if r.Kind != KindInt || r.Int != int64(i+1) {
					errs <- fmt.Errorf("INCR %s #%d = %+v", key, i+1, r)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	pipelines, commands := c.pipelines.Load(), c.commands.Load()
	t.Logf("%d commands in %d pipelines (%.1f per pipeline)", commands, pipelines, float64(commands)/float64(pipelines))
	if commands != goroutines*perGoroutine {
		t.Errorf("commands sent = %d, want %d", commands, goroutines*perGoroutine)
	}
	if pipelines >= commands {
		t.Errorf("%d pipelines for %d commands: no pipelining", pipelines, commands)
	}
}

// TestOneGoroutineKeepsOrder checks that commands one goroutine issues in
// sequence arrive in sequence while other goroutines load the client.
func TestOneGoroutineKeepsOrder(t *testing.T) {
	srv := startRedis(t)
	c := New(srv.addr, Config{Conns: 4})
	t.Cleanup(func() { c.Close() })

	stop := make(chan struct{})
	var load sync.WaitGroup
	for range 20 {
		load.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := do(t, c, "INCR", "load"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	const n = 300
	for i := range n {
		if _, err := do(t, c, "RPUSH", "order", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	load.Wait()

	r, err := do(t, c, "LRANGE", "order", "0", "-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Array) != n {
		t.Fatalf("list has %d elements, want %d", len(r.Array), n)
	}
	for i, el := range r.Array {
		if string(el.Str) != strconv.Itoa(i) {
			t.Fatalf("element %d = %q: order lost", i, el.Str)
		}
	}
}

// TestNoHandshakeRealServer checks, with the server's own command
// statistics, that the client sent no HELLO and no CLIENT command.
func TestNoHandshakeRealServer(t *testing.T) {
	srv := startRedis(t)
	c := New(srv.addr, Config{Conns: 3})
	t.Cleanup(func() { c.Close() })

	var wg sync.WaitGroup
	for range 50 { // enough to open every connection
		wg.Go(func() {
			if _, err := do(t, c, "PING"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r, err := do(t, c, "INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	stats := string(r.Str)
	for _, cmd := range []string{"cmdstat_hello", "cmdstat_client"} {
		if strings.Contains(stats, cmd) {
			t.Errorf("server saw %s:\n%s", cmd, stats)
		}
	}
	if !strings.Contains(stats, "cmdstat_ping:calls=51,") { // and startRedis's probe
		t.Errorf("want 51 PING calls:\n%s", stats)
	}
}

// TestNoHandshake checks on the wire that a connection carries only the
// callers' commands.
func TestNoHandshake(t *testing.T) {
	checkGoroutines(t)
	peer := startFakePeer(t, "", answerOK)
	c := New(peer.addr(), Config{})
	t.Cleanup(func() { c.Close() })

	for i := range 3 {
		if _, err := do(t, c, "SET", "k", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	_, cmds := peer.stats()
	want := [][]string{{"SET", "k", "0"}, {"SET", "k", "1"}, {"SET", "k", "2"}}
	if !reflect.DeepEqual(cmds, want) {
		t.Fatalf("peer read %q, want %q", cmds, want)
	}
}

func TestEmptyCommand(t *testing.T) {
	c := New(freeAddr(t), Config{})
	t.Cleanup(func() { c.Close() })
	if _, err := do(t, c); err == nil {
		t.Fatal("Do() with no arguments succeeded")
	}
}

func TestGoCallsBack(t *testing.T) {
	checkGoroutines(t)
	srv := startRedis(t)
	c := New(srv.addr, Config{})
	const n = 500
	replies := make(chan error, n)
	for i := range n {
		c.Go(func(r Reply, err error) {
			if err == nil && (r.Kind != KindStatus || string(r.Str) != "OK") {
				err = fmt.Errorf("reply %+v", r)
			}
			replies <- err
		}, []byte("SET"), []byte(fmt.Sprint("k", i)), []byte("v"))
	}
	for range n {
		if err := <-replies; err != nil {
			t.Fatal(err)
		}
	}
	if p := c.pipelines.Load(); p >= n {
		t.Fatalf("%d pipelines for %d commands: Go does not pipeline", p, n)
	}
	c.Close()
	// After Close the callback still runs, with ErrUnavailable.
	c.Go(func(_ Reply, err error) { replies <- err }, []byte("PING"))
	if err := <-replies; !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Go after Close: %v", err)
	}
}
