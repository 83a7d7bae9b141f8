package discovery

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"planet/internal/secret"
)

// secretHint ends every log line and error about a gossip rejection.
const secretHint = "is PLANET_SECRET_FILE the same in every region?"

// authorize lets reads (GET, HEAD) through and answers every other request
// that lacks Authorization: Bearer <the platform's API token> with 401 and
// a WWW-Authenticate challenge, before anything reads its body. Without a
// secret it lets everything through.
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.cfg.Secret == nil {
		return next
	}
	want := s.cfg.Secret.APIToken()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		got, present := bearerToken(r.Header.Get("Authorization"))
		if present && secret.Equal(got, want) {
			next.ServeHTTP(w, r)
			return
		}
		challenge, msg := `Bearer realm="planet"`, "API writes need Authorization: Bearer <token> (the platform token derived from PLANET_SECRET_FILE; planet discovery register --secret-file)"
		if present {
			challenge += `, error="invalid_token"`
			msg = "wrong bearer token: is PLANET_SECRET_FILE the same as discovery's?"
		}
		if host, _, _ := net.SplitHostPort(r.RemoteAddr); s.logLimit.allow("401 "+host, s.cfg.Now()) {
			s.log.Warn("refused an API write without the platform token", "remote", r.RemoteAddr,
				"method", r.Method, "path", r.URL.Path, "token_present", present)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeError(w, http.StatusUnauthorized, msg)
	})
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (the scheme is case-insensitive) and whether there was one.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", header != ""
	}
	return strings.TrimSpace(token), true
}

// gossipRejection tells whether a memberlist error or log line is a
// gossip authentication failure, and if so why, from the point of view of
// the region that reports it. "" means it is something else.
func gossipRejection(msg string) string {
	switch {
	case strings.Contains(msg, "no installed keys could decrypt"),
		strings.Contains(msg, "Decrypt packet failed"):
		return "it was not encrypted with this region's platform secret"
	case strings.Contains(msg, "remote state is encrypted and encryption is not configured"):
		return "the peer has a platform secret and this region has none"
	case strings.Contains(msg, "encryption is configured but remote state is not encrypted"):
		return "this region has a platform secret and the peer has none"
	}
	return ""
}

// rejectedGossip logs (at most once a minute per host) and counts gossip
// that another instance sent and memberlist refused to decrypt. from is
// memberlist's "from=host:port" when its log line has one.
func (s *Server) rejectedGossip(from, reason string) {
	s.metrics.gossipRejected.Inc("incoming")
	host, _, err := net.SplitHostPort(from)
	if err != nil {
		host = from
	}
	if host == "" {
		host = "a peer"
	}
	if !s.logLimit.allow("gossip "+host, s.cfg.Now()) {
		return
	}
	s.log.Warn(fmt.Sprintf("gossip from %s rejected: %s; %s", host, reason, secretHint),
		"secret_fingerprint", s.fingerprint())
}

// fingerprint is the local secret's fingerprint, or "none".
func (s *Server) fingerprint() string {
	if s.cfg.Secret == nil {
		return "none"
	}
	return s.cfg.Secret.Fingerprint()
}

// logLimiter lets one log line per key through per period, so that a
// misconfigured peer retrying every few seconds does not flood the log.
type logLimiter struct {
	every time.Duration

	mu   sync.Mutex
	last map[string]time.Time // guarded by mu
}

func newLogLimiter(every time.Duration) *logLimiter {
	return &logLimiter{every: every, last: make(map[string]time.Time)}
}

func (l *logLimiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		return false
	}
	if len(l.last) >= 1024 {
		clear(l.last) // bounded: many distinct keys only cost a few extra lines
	}
	l.last[key] = now
	return true
}
