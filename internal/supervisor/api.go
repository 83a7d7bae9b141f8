package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"syscall"
)

// Control API routes.
const (
	processesPath = "/v1/processes"
	actionPattern = "/v1/processes/{region}/{service}/{action}"
)

// Actions accepted by POST /v1/processes/{region}/{service}/{action}.
const (
	ActionStart  = "start"  // Start
	ActionStop   = "stop"   // Stop (SIGTERM, SIGKILL after StopTimeout)
	ActionKill   = "kill"   // Kill (SIGKILL, returns once exited)
	ActionPause  = "pause"  // Signal SIGSTOP
	ActionResume = "resume" // Signal SIGCONT
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// Handler returns the JSON control API:
//
//	GET  /v1/processes                              -> []ProcessStatus
//	POST /v1/processes/{region}/{service}/{action}  -> ProcessStatus after the action
//
// Errors are {"error":"..."} with 404 for an unknown process, action or
// route, 405 for a wrong method, 409 when the process is in the wrong state
// and 503 when Run is not active.
func (s *Supervisor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(processesPath, s.handleList)
	mux.HandleFunc(actionPattern, s.handleAction)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{"no such route: " + r.URL.Path})
	})
	return mux
}

func (s *Supervisor) handleList(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, s.Status())
}

func (s *Supervisor) handleAction(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodPost) {
		return
	}
	name := Spec{Region: r.PathValue("region"), Service: r.PathValue("service")}.Name()
	if err := s.do(name, r.PathValue("action")); err != nil {
		writeJSON(w, statusCode(err), errorBody{err.Error()})
		return
	}
	st, err := s.StatusOf(name)
	if err != nil {
		writeJSON(w, statusCode(err), errorBody{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// errUnknownAction is returned by do for an action it does not know.
var errUnknownAction = errors.New("supervisor: unknown action")

// do performs one control API action on the named child.
func (s *Supervisor) do(name, action string) error {
	if _, err := s.StatusOf(name); err != nil {
		return err
	}
	switch action {
	case ActionStart:
		return s.Start(name)
	case ActionStop:
		return s.Stop(name)
	case ActionKill:
		return s.Kill(name)
	case ActionPause:
		return s.Signal(name, syscall.SIGSTOP)
	case ActionResume:
		return s.Signal(name, syscall.SIGCONT)
	}
	return fmt.Errorf("%w %q (want start, stop, kill, pause or resume)", errUnknownAction, action)
}

func statusCode(err error) int {
	switch {
	case errors.Is(err, ErrUnknownProcess), errors.Is(err, errUnknownAction):
		return http.StatusNotFound
	case errors.Is(err, ErrRunning), errors.Is(err, ErrNotRunning):
		return http.StatusConflict
	case errors.Is(err, ErrInactive):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// allowMethod reports whether r uses method, writing a 405 if it does not.
// GET routes also accept HEAD.
func allowMethod(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", method)
	writeJSON(w, http.StatusMethodNotAllowed, errorBody{r.Method + " not allowed; use " + method})
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
