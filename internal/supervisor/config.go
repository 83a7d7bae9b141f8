package supervisor

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// DefaultStopTimeout is the grace period between SIGTERM and SIGKILL used
// when Config.StopTimeout is zero.
const DefaultStopTimeout = 5 * time.Second

// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
var ErrInvalidConfig = errors.New("supervisor: invalid config")

// Spec describes one child process.
type Spec struct {
	Region  string   // e.g. "sfo"; required, no "/"
	Service string   // e.g. "discovery", "storage-10600"; required, no "/"
	Path    string   // executable; a name without "/" is looked up in $PATH
	Args    []string // arguments after the executable
	Env     []string // extra environment ("KEY=value"), appended to os.Environ()
	Dir     string   // working directory; empty means the supervisor's
}

// Name returns the child's name, "region/service", e.g. "sfo/discovery".
func (s Spec) Name() string { return s.Region + "/" + s.Service }

func (s Spec) validate() error {
	switch {
	case s.Region == "" || strings.Contains(s.Region, "/"):
		return fmt.Errorf("%w: spec %q: region must be non-empty without '/'", ErrInvalidConfig, s.Name())
	case s.Service == "" || strings.Contains(s.Service, "/"):
		return fmt.Errorf("%w: spec %q: service must be non-empty without '/'", ErrInvalidConfig, s.Name())
	case s.Path == "":
		return fmt.Errorf("%w: spec %q: empty path", ErrInvalidConfig, s.Name())
	}
	return nil
}

// Config configures a Supervisor.
type Config struct {
	// Specs lists the children, in start order; they are stopped in reverse.
	// At least one is required and names must be unique.
	Specs []Spec

	// Output receives every child's stdout and stderr, one line at a time,
	// each prefixed "region/service | ". Writes are serialised. Required.
	Output io.Writer

	// Logger receives the supervisor's own events (started, exited, killed).
	// Nil discards them.
	Logger *slog.Logger

	// StopTimeout is how long a child gets between SIGTERM and SIGKILL when
	// it is stopped, by Stop or on shutdown. Zero means DefaultStopTimeout.
	StopTimeout time.Duration
}

// withDefaults returns a deep copy of cfg with zero fields given defaults.
func (cfg Config) withDefaults() Config {
	cfg.Specs = slices.Clone(cfg.Specs)
	for i := range cfg.Specs {
		cfg.Specs[i].Args = slices.Clone(cfg.Specs[i].Args)
		cfg.Specs[i].Env = slices.Clone(cfg.Specs[i].Env)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	return cfg
}

func (cfg Config) validate() error {
	if cfg.Output == nil {
		return fmt.Errorf("%w: Output is required", ErrInvalidConfig)
	}
	if cfg.StopTimeout < 0 {
		return fmt.Errorf("%w: negative StopTimeout %v", ErrInvalidConfig, cfg.StopTimeout)
	}
	if len(cfg.Specs) == 0 {
		return fmt.Errorf("%w: no specs", ErrInvalidConfig)
	}
	seen := make(map[string]bool, len(cfg.Specs))
	for _, s := range cfg.Specs {
		if err := s.validate(); err != nil {
			return err
		}
		if seen[s.Name()] {
			return fmt.Errorf("%w: duplicate name %q", ErrInvalidConfig, s.Name())
		}
		seen[s.Name()] = true
	}
	return nil
}
