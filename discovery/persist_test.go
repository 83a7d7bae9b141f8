package discovery

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pt "planet/internal/planettest"
)

// fakeClock is a clock that tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// readRegistrations decodes s's registrations file as of now.
func readRegistrations(t *testing.T, s *Server, now time.Time) []Entry {
	t.Helper()
	data, err := os.ReadFile(RegistrationsPath(s.cfg.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := decodeRegistrations(data, s.cfg.Region, s.advertiseAddr(), now)
	if err != nil {
		t.Fatal(err)
	}
	return live
}

// TestRegistrationsSurviveRestart: an acknowledged registration or
// deregistration is on disk, and a new server on the same data directory
// lists the registrations at once.
func TestRegistrationsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s1, stop1 := startStoppableServer(t, Config{DataDir: dir})
	base := "http://" + s1.Addr() + "/v1/services/"
	for _, path := range []string{"web", "api"} {
		if code, body := do(t, "PUT", base+path, `{"address":"127.0.0.1:8080","ttl":"1m"}`); code != 200 {
			t.Fatalf("PUT %s = %d %s", path, code, body)
		}
	}
	if got := readRegistrations(t, s1, time.Now()); len(got) != 2 {
		t.Fatalf("file after two acknowledged PUTs holds %v", got)
	}
	if code, body := do(t, "DELETE", base+"api?address=127.0.0.1:8080", ""); code != 200 {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	if got := readRegistrations(t, s1, time.Now()); len(got) != 1 || got[0].Name != "web" {
		t.Fatalf("file after an acknowledged DELETE holds %v", got)
	}
	want := s1.ListLocal("web")
	port := s1.port
	stop1()

	s2, err := New(Config{Region: "sfo", WGIP: net.ParseIP("127.0.0.1"), Port: port, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.closeListeners()
	got := s2.ListLocal("web")
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("restarted ListLocal(web) = %+v, want %+v", got, want)
	}
	if l := s2.List("api"); len(l) != 0 {
		t.Fatalf("a deregistered instance came back: %+v", l)
	}
}

// TestRestoreRegistrations: at start, expired entries are dropped, and a
// file that is corrupt or not ours is logged and ignored; the next
// registration rewrites it.
func TestRestoreRegistrations(t *testing.T) {
	clock := &fakeClock{now: t0}
	port := pt.FreePort(t, "127.0.0.1")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	live := Entry{Name: "web", Address: "127.0.0.1:8080", TTL: time.Minute, Version: 7, LastSeen: t0.Add(-30 * time.Second)}
	dead := Entry{Name: "web", Address: "127.0.0.1:8081", TTL: 15 * time.Second, Version: 8, LastSeen: t0.Add(-16 * time.Second)}
	for _, tc := range []struct {
		name    string
		content string
		want    int    // entries listed after the start
		log     string // in the log
	}{
		{"expired dropped", string(encodeRegistrations("sfo", addr, []Entry{live, dead}, t0)), 1, "restored registrations"},
		{"corrupt", "{\"format\":1,\"region\":\"sfo\",\"entr", 0, "ignoring the registrations file; starting empty"},
		{"binary", "\x00\xff\x13", 0, "ignoring the registrations file"},
		{"another region's", string(encodeRegistrations("nyc", addr, []Entry{live}, t0)), 0, `written by region \"nyc\"`},
		{"another address's", string(encodeRegistrations("sfo", "127.0.0.1:1", []Entry{live}, t0)), 0, "ignoring the registrations file"},
		{"empty", "", 0, "ignoring the registrations file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := RegistrationsPath(dir)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			log, out := capturedLogger(t, "sfo")
			s := startServer(t, Config{Port: port, DataDir: dir, Now: clock.Now, Logger: log})
			if got := s.ListLocal("web"); len(got) != tc.want || (tc.want == 1 && got[0].Address != live.Address) {
				t.Fatalf("ListLocal after start = %+v, want %d entries", got, tc.want)
			}
			if !strings.Contains(out.String(), tc.log) {
				t.Errorf("log lacks %q", tc.log)
			}
			if code, body := do(t, "PUT", "http://"+s.Addr()+"/v1/services/api", `{"address":"127.0.0.1:9000","ttl":"1m"}`); code != 200 {
				t.Fatalf("PUT = %d %s", code, body)
			}
			if got := readRegistrations(t, s, clock.Now()); len(got) != tc.want+1 {
				t.Fatalf("file after a PUT holds %+v", got)
			}
		})
	}
}

// TestHeartbeatsPersistCoalesced: a heartbeat moves the deadline on disk
// within PersistInterval, not at once; the last deadline is written when
// the server stops.
func TestHeartbeatsPersistCoalesced(t *testing.T) {
	t.Run("written within the interval", func(t *testing.T) {
		clock := &fakeClock{now: t0}
		s := startServer(t, Config{DataDir: t.TempDir(), Now: clock.Now, PersistInterval: 20 * time.Millisecond})
		url := "http://" + s.Addr() + "/v1/services/web"
		do(t, "PUT", url, `{"address":"127.0.0.1:8080","ttl":"1m"}`)
		clock.Advance(10 * time.Second)
		do(t, "PUT", url, `{"address":"127.0.0.1:8080","ttl":"1m"}`)
		pt.WaitFor(t, 5*time.Second, "the heartbeat's deadline is on disk", func() bool {
			got := readRegistrations(t, s, clock.Now())
			return len(got) == 1 && got[0].LastSeen.Equal(t0.Add(10*time.Second))
		})
	})
	t.Run("coalesced until the server stops", func(t *testing.T) {
		clock := &fakeClock{now: t0}
		s, stop := startStoppableServer(t, Config{DataDir: t.TempDir(), Now: clock.Now, PersistInterval: time.Hour})
		url := "http://" + s.Addr() + "/v1/services/web"
		do(t, "PUT", url, `{"address":"127.0.0.1:8080","ttl":"1m"}`)
		writes := s.metrics.persistWrites.Value("ok")
		for i := 0; i < 20; i++ {
			clock.Advance(time.Second)
			if code, body := do(t, "PUT", url, `{"address":"127.0.0.1:8080","ttl":"1m"}`); code != 200 {
				t.Fatalf("heartbeat = %d %s", code, body)
			}
		}
		if got := s.metrics.persistWrites.Value("ok"); got != writes {
			t.Fatalf("20 heartbeats wrote the file %v times, want 0 (coalesced)", got-writes)
		}
		if got := readRegistrations(t, s, clock.Now()); len(got) != 1 || !got[0].LastSeen.Equal(t0) {
			t.Fatalf("file before the interval = %+v, want the first deadline", got)
		}
		stop()
		if got := readRegistrations(t, s, clock.Now()); len(got) != 1 || !got[0].LastSeen.Equal(t0.Add(20*time.Second)) {
			t.Fatalf("file after stop = %+v, want the last heartbeat's deadline", got)
		}
	})
}

// TestPersistFailureIsNotFatal: a data directory that cannot be written
// is logged and counted; the API keeps working.
func TestPersistFailureIsNotFatal(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(dataDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	log, out := capturedLogger(t, "sfo")
	s := startServer(t, Config{DataDir: dataDir, Logger: log})
	if code, body := do(t, "PUT", "http://"+s.Addr()+"/v1/services/web", `{"address":"127.0.0.1:8080","ttl":"1m"}`); code != 200 {
		t.Fatalf("PUT = %d %s", code, body)
	}
	if n := s.metrics.persistWrites.Value("error"); n < 1 {
		t.Errorf("failed writes counted: %v", n)
	}
	if !strings.Contains(out.String(), "cannot persist registrations") {
		t.Error("the failed write was not logged")
	}
	if len(s.ListLocal("web")) != 1 {
		t.Error("registration lost")
	}
}

func TestDecodeRegistrations(t *testing.T) {
	const addr = "10.0.0.1:10200"
	e := func(name string, ttl time.Duration, lastSeen time.Time) Entry {
		return Entry{Name: name, Address: "127.0.0.1:80", TTL: ttl, Version: 1, LastSeen: lastSeen}
	}
	good := encodeRegistrations("sfo", addr, []Entry{e("a", time.Minute, t0), e("b", time.Second, t0.Add(-time.Second))}, t0)
	live, expired, err := decodeRegistrations(good, "sfo", addr, t0)
	if err != nil || len(live) != 2 || expired != 0 {
		t.Fatalf("at t0: %v %d %v", live, expired, err)
	}
	if !live[1].LastSeen.Equal(t0.Add(-time.Second)) {
		t.Errorf("LastSeen = %v", live[1].LastSeen)
	}
	if live, expired, _ = decodeRegistrations(good, "sfo", addr, t0.Add(time.Nanosecond)); len(live) != 1 || expired != 1 {
		t.Errorf("just past b's deadline: %v, %d expired", live, expired)
	}
	for _, tc := range []struct{ name, content string }{
		{"empty", ""},
		{"not an object", "[]"},
		{"trailing data", string(good) + "{}"},
		{"unknown field", `{"format":1,"region":"sfo","addr":"10.0.0.1:10200","x":1,"entries":[]}`},
		{"format 2", `{"format":2,"region":"sfo","addr":"10.0.0.1:10200","entries":[]}`},
		{"bad name", `{"format":1,"region":"sfo","addr":"10.0.0.1:10200","entries":[{"name":"a b","address":"1.2.3.4:5","ttl_ms":1000,"version":1,"expires":"2026-11-21T12:00:00Z"}]}`},
		{"bad address", `{"format":1,"region":"sfo","addr":"10.0.0.1:10200","entries":[{"name":"a","address":"1.2.3.4","ttl_ms":1000,"version":1,"expires":"2026-11-21T12:00:00Z"}]}`},
		{"ttl too short", `{"format":1,"region":"sfo","addr":"10.0.0.1:10200","entries":[{"name":"a","address":"1.2.3.4:5","ttl_ms":999,"version":1,"expires":"2026-11-21T12:00:00Z"}]}`},
		{"version 0", `{"format":1,"region":"sfo","addr":"10.0.0.1:10200","entries":[{"name":"a","address":"1.2.3.4:5","ttl_ms":1000,"version":0,"expires":"2026-11-21T12:00:00Z"}]}`},
		{"no expiry", `{"format":1,"region":"sfo","addr":"10.0.0.1:10200","entries":[{"name":"a","address":"1.2.3.4:5","ttl_ms":1000,"version":1}]}`},
		{"duplicate", `{"format":1,"region":"sfo","addr":"10.0.0.1:10200","entries":[{"name":"a","address":"1.2.3.4:5","ttl_ms":1000,"version":1,"expires":"2026-11-21T12:00:00Z"},{"name":"a","address":"1.2.3.4:5","ttl_ms":1000,"version":2,"expires":"2026-11-21T12:00:00Z"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := decodeRegistrations([]byte(tc.content), "sfo", addr, t0); !errors.Is(err, ErrBadRegistrations) {
				t.Errorf("err = %v, want ErrBadRegistrations", err)
			}
		})
	}
}
