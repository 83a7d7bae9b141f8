package discovery

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"planet/discovery/api"
	"planet/internal/admin"
)

// Handler returns the HTTP API (see package doc), /health and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/services/", s.handleService)
	mux.HandleFunc("/v1/regions", s.handleRegions)
	admin.Handle(mux, s.health, s.metrics.reg)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	return s.instrument(s.authorize(mux))
}

func (s *Server) handleService(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/v1/services/")
	if err := api.ValidateName(name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.handleList(w, r, name)
	case http.MethodPut:
		s.handleRegister(w, r, name)
	case http.MethodDelete:
		s.handleDeregister(w, r, name)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
	}
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request, name string) {
	var list []api.Instance
	switch scope := r.URL.Query().Get("scope"); scope {
	case api.ScopeAll, "all":
		list = s.List(name)
	case api.ScopeLocal:
		list = s.ListLocal(name)
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown scope %q (use local, or omit for every region)", scope))
		return
	}
	buf := bufPool.Get().(*[]byte)
	*buf = appendInstances((*buf)[:0], list)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(*buf)))
	w.Write(*buf)
	if cap(*buf) <= 1<<20 {
		bufPool.Put(buf)
	}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request, name string) {
	address, ttl, err := api.DecodeRegistration(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, api.ErrTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, err.Error())
		return
	}
	now := s.cfg.Now()
	e, changed, err := s.registry.Put(name, address, ttl, now)
	if err != nil {
		writeError(w, http.StatusInsufficientStorage, err.Error())
		return
	}
	if changed {
		s.log.Info("registered", "service", name, "address", address, "ttl", ttl)
		s.broadcastPut(e, now)
		s.waitPersisted(r)
	} else {
		s.saver.touch()
	}
	writeJSON(w, http.StatusOK, s.localInstance(e))
}

// persistWait bounds how long a reply waits for the registrations file:
// a stalled disk delays acknowledgements, it does not stop them.
const persistWait = 5 * time.Second

// waitPersisted waits until the registrations file holds the change just
// made (concurrent changes share one write), so that an acknowledged
// registration or deregistration survives a crash. A failed write is
// logged and counted by the saver; the request succeeds anyway.
func (s *Server) waitPersisted(r *http.Request) {
	t := time.NewTimer(persistWait)
	defer t.Stop()
	select {
	case <-s.saver.saveSoon():
	case <-r.Context().Done():
	case <-t.C:
	}
}

func (s *Server) handleDeregister(w http.ResponseWriter, r *http.Request, name string) {
	address := r.URL.Query().Get("address")
	if err := api.ValidateAddress(address); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := s.cfg.Now()
	e, ok := s.registry.Delete(name, address, now)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s is not registered at %s", name, address))
		return
	}
	s.log.Info("deregistered", "service", name, "address", address)
	s.broadcastDelete(e, now)
	s.waitPersisted(r)
	writeJSON(w, http.StatusOK, s.localInstance(e))
}

func (s *Server) handleRegions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	writeJSON(w, http.StatusOK, s.Regions())
}

func (s *Server) health() (any, error) {
	regions := s.members()
	alive := 0
	for _, r := range regions {
		if r.State == "alive" {
			alive++
		}
	}
	return map[string]any{"status": "ok", "region": s.cfg.Region, "regions_alive": alive,
		"regions_known": len(regions), "local_entries": s.registry.Len()}, nil
}

// List returns a service's instances in every region: local ones with the
// address they registered, others with their region's rewritten address.
func (s *Server) List(name string) []api.Instance {
	out := s.ListLocal(name)
	s.mu.RLock()
	remote := s.fed.list(name)
	s.mu.RUnlock()
	for _, ri := range remote {
		out = append(out, api.Instance{Name: name, Address: ri.entry.Address, Region: ri.region,
			LastSeen: ri.entry.Confirmed.UTC()})
	}
	return out
}

// ListLocal returns a service's instances in this region.
func (s *Server) ListLocal(name string) []api.Instance {
	entries := s.registry.List(name)
	out := make([]api.Instance, len(entries))
	for i, e := range entries {
		out[i] = s.localInstance(e)
	}
	return out
}

func (s *Server) localInstance(e Entry) api.Instance {
	return api.Instance{Name: e.Name, Address: e.Address, Region: s.cfg.Region, Local: true, LastSeen: e.LastSeen.UTC()}
}

// Regions returns this region, every region gossip knows, sorted by name,
// and then every configured peer that is not one of them (with Peer set
// and Name empty: it never joined), in configuration order. A region or
// peer whose last join failed carries the reason in Error; this region
// carries its secret's fingerprint.
func (s *Server) Regions() []api.Region {
	out := s.members()
	out[0].SecretFingerprint = s.fingerprint()
	at := make(map[string]int, len(out))
	for i, r := range out {
		at[r.Address] = i
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.cfg.Peers {
		st := s.peers[p]
		if st.addr == out[0].Address {
			continue // ourselves
		}
		if i, ok := at[st.addr]; ok && st.addr != "" {
			if out[i].State != "alive" && st.state != "joined" {
				out[i].Peer, out[i].Error = p, st.err
			}
			continue
		}
		if st.state == "joined" {
			continue // a member that advertises another address than we dialled
		}
		addr := st.addr
		if addr == "" {
			addr = p
		}
		out = append(out, api.Region{Address: addr, Peer: p, State: st.state, Error: st.err, Since: st.since.UTC()})
	}
	return out
}

// members returns this region and every region gossip knows, sorted by
// name. An alive region that has not answered a probe or sent anything for
// suspectAfterLocked is reported suspect, since the moment its silence
// passed that: memberlist does not report its own suspicion through events,
// and this is what it would be acting on. This region is alive since Run
// started gossip.
func (s *Server) members() []api.Region {
	now := s.cfg.Now()
	s.mu.Lock()
	out := []api.Region{{Name: s.cfg.Region, Address: s.advertiseAddr(),
		State: "alive", Local: true, Since: s.since.UTC()}}
	suspectAfter := s.suspectAfterLocked()
	for name, r := range s.regions {
		state, since := r.state, r.since
		if state == "alive" && now.Sub(r.lastHeard) > suspectAfter {
			state, since = "suspect", r.lastHeard.Add(suspectAfter)
		}
		out = append(out, api.Region{Name: name, Address: r.addr(), State: state, Since: since.UTC()})
	}
	s.mu.Unlock()
	sort.Slice(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, api.Error{Error: msg})
}

// instrument counts requests by route and status code.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.metrics.httpRequests.Inc(routeLabel(r.URL.Path), strconv.Itoa(rec.code))
	})
}

func routeLabel(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/services/"):
		return "/v1/services/{name}"
	case path == "/v1/regions", path == "/health", path == "/metrics":
		return path
	}
	return "other"
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}
