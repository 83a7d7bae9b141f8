package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"planet/discovery/api"
	"planet/discovery/client"
	pt "planet/internal/planettest"
	"planet/internal/secret"
)

func testSecret(t testing.TB, text string) *secret.Secret {
	t.Helper()
	s, err := secret.Parse([]byte(text + strings.Repeat("x", secret.MinLen)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// capturedLogger logs to the test and keeps the text for assertions.
func capturedLogger(t *testing.T, region string) (*slog.Logger, *pt.SyncBuffer) {
	buf := &pt.SyncBuffer{}
	h := slog.NewTextHandler(io.MultiWriter(buf, tWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h).With("region", region), buf
}

// request sends method url with body and the given Authorization header
// ("" for none) and returns the status, the WWW-Authenticate header and
// the body.
func request(t *testing.T, method, url, body, auth string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(b)
}

// TestAPIWritesNeedTheToken: with a secret, PUT and DELETE without the
// platform's token get 401 with a challenge and change nothing; with it
// they work; reads stay open.
func TestAPIWritesNeedTheToken(t *testing.T) {
	sec := testSecret(t, "mesh-a")
	s := startServer(t, Config{Secret: sec})
	base := "http://" + s.Addr() + "/v1/services/web"
	const reg = `{"address":"127.0.0.1:8080","ttl":"1m"}`
	good := "Bearer " + sec.APIToken()
	other := "Bearer " + testSecret(t, "mesh-b").APIToken()

	for _, tc := range []struct {
		name, method, path, auth, challenge string
	}{
		{"PUT without a token", "PUT", "", "", `Bearer realm="planet"`},
		{"PUT with another mesh's token", "PUT", "", other, `Bearer realm="planet", error="invalid_token"`},
		{"PUT with Basic auth", "PUT", "", "Basic cGxhbmV0OnBsYW5ldA==", `Bearer realm="planet", error="invalid_token"`},
		{"PUT with an empty bearer", "PUT", "", "Bearer ", `Bearer realm="planet", error="invalid_token"`},
		{"POST without a token", "POST", "", "", `Bearer realm="planet"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, challenge, body := request(t, tc.method, base+tc.path, reg, tc.auth)
			var e api.Error
			if code != http.StatusUnauthorized || challenge != tc.challenge || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
				t.Fatalf("%s = %d, WWW-Authenticate %q, body %s", tc.method, code, challenge, body)
			}
			if s.Registry().Len() != 0 {
				t.Fatal("an unauthenticated write registered something")
			}
		})
	}

	if code, _, body := request(t, "PUT", base, reg, good); code != 200 {
		t.Fatalf("PUT with the token = %d %s", code, body)
	}
	for _, auth := range []string{"", other} {
		if code, _, body := request(t, "DELETE", base+"?address=127.0.0.1:8080", "", auth); code != http.StatusUnauthorized {
			t.Fatalf("DELETE with %q = %d %s", auth, code, body)
		}
	}
	if s.Registry().Len() != 1 {
		t.Fatal("an unauthenticated DELETE removed the registration")
	}
	for _, url := range []string{base, base + "?scope=local", "http://" + s.Addr() + "/v1/regions",
		"http://" + s.Addr() + "/health", "http://" + s.Addr() + "/metrics"} {
		if code, _, body := request(t, "GET", url, "", ""); code != 200 {
			t.Errorf("GET %s without a token = %d %s", url, code, body)
		}
	}
	if code, _, body := request(t, "DELETE", base+"?address=127.0.0.1:8080", "", strings.ToLower("BEARER ")+sec.APIToken()); code != 200 {
		t.Fatalf("DELETE with the token = %d %s", code, body)
	}
	if s.Registry().Len() != 0 {
		t.Fatal("DELETE with the token left the registration")
	}
}

// TestClientSendsTheToken: the Go client with the secret registers,
// heartbeats and deregisters; without it, Register stops with
// ErrUnauthorized instead of retrying.
func TestClientSendsTheToken(t *testing.T) {
	sec := testSecret(t, "mesh-a")
	s := startServer(t, Config{Secret: sec})
	open, err := client.New(client.Config{Addr: s.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := open.Register(ctx, "web", "127.0.0.1:8080"); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("Register without the secret = %v, want ErrUnauthorized", err)
	}
	if l, err := open.ListLocal(ctx, "web"); err != nil || len(l) != 0 {
		t.Fatalf("ListLocal without the secret = %v, %v; want an empty answer", l, err)
	}

	authed, err := client.New(client.Config{Addr: s.Addr(), Secret: sec})
	if err != nil {
		t.Fatal(err)
	}
	regCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- authed.Register(regCtx, "web", "127.0.0.1:8080") }()
	pt.WaitFor(t, 5*time.Second, "the authenticated client's registration", func() bool {
		return len(s.ListLocal("web")) == 1
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Register = %v", err)
	}
	if l := s.ListLocal("web"); len(l) != 0 {
		t.Fatalf("still registered after the client deregistered: %v", l)
	}
}

// TestGossipNeedsTheSameSecret: a region whose secret differs from its
// peer's (or that has none when the peer has one) cannot join; both logs
// and /v1/regions say why. With the same secret they federate.
func TestGossipNeedsTheSameSecret(t *testing.T) {
	meshA, meshB := testSecret(t, "mesh-a"), testSecret(t, "mesh-b")
	for _, tc := range []struct {
		name          string
		sfo, nyc      *secret.Secret
		joinerReason  string // in nyc's log and /v1/regions
		refuserReason string // in sfo's log
	}{
		{"different secrets", meshA, meshB,
			"it was not encrypted with this region's platform secret", "it was not encrypted with this region's platform secret"},
		{"joiner without a secret", meshA, nil,
			"the peer has a platform secret and this region has none", "this region has a platform secret and the peer has none"},
		{"joiner with a secret, peer without", nil, meshA,
			"this region has a platform secret and the peer has none", "the peer has a platform secret and this region has none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sfoLog, sfoOut := capturedLogger(t, "sfo")
			sfo := startServer(t, Config{Region: "sfo", Secret: tc.sfo, Logger: sfoLog})
			nycLog, nycOut := capturedLogger(t, "nyc")
			nyc := startServer(t, Config{Region: "nyc", Secret: tc.nyc, Peers: []string{sfo.Addr()}, Logger: nycLog,
				RejoinInterval: 100 * time.Millisecond})
			var peer api.Region
			pt.WaitFor(t, 10*time.Second, "nyc reports sfo rejected", func() bool {
				peer = regionsOverHTTP(t, nyc.Addr())[1]
				return peer.State == "rejected"
			})
			if peer.Peer != sfo.Addr() || peer.Name != "" || !strings.Contains(peer.Error, "gossip rejected") ||
				!strings.Contains(peer.Error, "is PLANET_SECRET_FILE the same in every region?") ||
				!strings.Contains(peer.Error, tc.joinerReason) {
				t.Errorf("nyc's row for sfo = %+v", peer)
			}
			wantLine := "cannot join peer " + sfo.Addr() + ": gossip rejected: "
			pt.WaitFor(t, 5*time.Second, "nyc logs the rejection", func() bool {
				return strings.Contains(nycOut.String(), wantLine)
			})
			if n := strings.Count(nycOut.String(), wantLine); n != 1 {
				t.Errorf("nyc logged the rejection %d times, want once", n)
			}
			pt.WaitFor(t, 5*time.Second, "sfo logs the gossip it refused", func() bool {
				return strings.Contains(sfoOut.String(), "gossip from 127.0.0.1 rejected: "+tc.refuserReason+
					"; is PLANET_SECRET_FILE the same in every region?")
			})
			if a, b := alive(sfo), alive(nyc); len(a) != 1 || len(b) != 1 {
				t.Fatalf("alive: sfo sees %v, nyc sees %v; want only themselves", a, b)
			}
			local := regionsOverHTTP(t, nyc.Addr())[0]
			if want := fingerprintOrNone(tc.nyc); local.SecretFingerprint != want || !local.Local {
				t.Errorf("nyc's own row = %+v, want secret_fingerprint %q", local, want)
			}
			metrics := get(t, "http://"+nyc.Addr()+"/metrics")
			if !strings.Contains(metrics, `planet_discovery_gossip_rejected_total{side="join"}`) ||
				!strings.Contains(metrics, `planet_discovery_gossip_members{state="alive"} 1`) {
				t.Errorf("nyc /metrics:\n%s", metrics)
			}
		})
	}

	t.Run("same secret", func(t *testing.T) {
		sfo := startServer(t, Config{Region: "sfo", Secret: meshA, Logger: testLogger(t, "sfo")})
		nyc := startServer(t, Config{Region: "nyc", Secret: meshA, Peers: []string{sfo.Addr()}, Logger: testLogger(t, "nyc")})
		pt.WaitFor(t, 10*time.Second, "sfo and nyc see each other", func() bool {
			return len(alive(sfo)) == 2 && len(alive(nyc)) == 2
		})
		code, _, body := request(t, "PUT", "http://"+sfo.Addr()+"/v1/services/web", `{"address":"localhost:8080","ttl":"1m"}`,
			"Bearer "+meshA.APIToken())
		if code != 200 {
			t.Fatalf("PUT = %d %s", code, body)
		}
		pt.WaitFor(t, 5*time.Second, "nyc lists sfo's web over encrypted gossip", func() bool {
			l := nyc.List("web")
			return len(l) == 1 && l[0].Region == "sfo"
		})
		for _, r := range regionsOverHTTP(t, nyc.Addr()) {
			if r.Error != "" || r.Peer != "" || r.Name == "" {
				t.Errorf("nyc's /v1/regions row %+v after joining", r)
			}
		}
	})
}

func fingerprintOrNone(s *secret.Secret) string {
	if s == nil {
		return "none"
	}
	return s.Fingerprint()
}

func regionsOverHTTP(t *testing.T, addr string) []api.Region {
	t.Helper()
	var out []api.Region
	if err := json.Unmarshal([]byte(get(t, "http://"+addr+"/v1/regions")), &out); err != nil {
		t.Fatal(err)
	}
	if len(out) < 1 {
		t.Fatalf("/v1/regions lists nothing")
	}
	return out
}

func get(t *testing.T, url string) string {
	t.Helper()
	code, _, body := request(t, "GET", url, "", "")
	if code != 200 {
		t.Fatalf("GET %s = %d %s", url, code, body)
	}
	return body
}

func TestGossipRejection(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"failed to join 127.0.0.1:1: no installed keys could decrypt the message", "it was not encrypted with this region's platform secret"},
		{"[ERR] memberlist: Decrypt packet failed: payload is too small to decrypt: 3 from=1.2.3.4:5", "it was not encrypted with this region's platform secret"},
		{"failed to receive: remote state is encrypted and encryption is not configured from=1.2.3.4:5", "the peer has a platform secret and this region has none"},
		{"failed to join 1.2.3.4:5: encryption is configured but remote state is not encrypted", "this region has a platform secret and the peer has none"},
		{"dial tcp 127.0.0.1:1: connect: connection refused", ""},
	} {
		if got := gossipRejection(tc.msg); got != tc.want {
			t.Errorf("gossipRejection(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		present       bool
	}{
		{"", "", false},
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"Basic abc", "", true},
		{"Bearer", "", true},
	} {
		token, present := bearerToken(tc.header)
		if token != tc.token || present != tc.present {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.header, token, present, tc.token, tc.present)
		}
	}
}

// TestOpenWarning: without a secret, a server on a non-loopback address
// says at start that its API and gossip are open; on loopback it does not.
func TestOpenWarning(t *testing.T) {
	for _, tc := range []struct {
		bind string
		warn bool
	}{{"0.0.0.0", true}, {"127.0.0.1", false}} {
		t.Run(tc.bind, func(t *testing.T) {
			log, out := capturedLogger(t, "sfo")
			s := startServer(t, Config{BindHost: tc.bind, Logger: log})
			_, port, _ := net.SplitHostPort(s.Addr())
			line := "no PLANET_SECRET_FILE: discovery's API writes and gossip are open to anyone who reaches " +
				net.JoinHostPort(tc.bind, port)
			if got := strings.Contains(out.String(), line); got != tc.warn {
				t.Errorf("warning logged = %v, want %v", got, tc.warn)
			}
		})
	}
}
