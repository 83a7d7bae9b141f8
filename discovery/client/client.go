// Package client is the Go client of the discovery HTTP API. It uses only
// the standard library, so services import it without pulling in gossip.
//
// Register keeps an instance registered by heartbeating until its context
// ends, then deregisters it. List and ListLocal remember their last good
// answer per service and serve it while discovery is unreachable (for up to
// Config.MaxStale), so that a discovery restart does not stop traffic.
// Every call that takes a service name checks it with api.ValidateName
// first, and sends nothing when it is invalid.
//
// Writes (register, heartbeat, deregister) carry the platform's API token
// when Config.Secret is set; a discovery that has a secret answers a write
// without it with 401, which Register and RegisterOnce return as an
// *APIError (ErrUnauthorized) instead of retrying. Reads need no token.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"planet/discovery/api"
	"planet/internal/secret"
)

// Config configures a Client.
type Config struct {
	// Addr is discovery's "host:port". Required.
	Addr string
	// TTL is the registration TTL; heartbeats go every TTL/3. Default 15s.
	TTL time.Duration
	// MaxStale is how long a remembered answer is served while discovery
	// is unreachable. Default 5 minutes.
	MaxStale time.Duration
	// HTTPClient does the requests. Default: a client with a 5s timeout.
	HTTPClient *http.Client
	// Secret is the mesh's platform secret (PLANET_SECRET_FILE): writes
	// send Authorization: Bearer Secret.APIToken(). Nil sends none, which
	// only a discovery without a secret accepts.
	Secret *secret.Secret
	// Logger receives heartbeat failures; nil discards them.
	Logger *slog.Logger
	// Now is the clock for MaxStale. Default time.Now.
	Now func() time.Time
}

// APIError is a 4xx/5xx reply from discovery.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("discovery: %d: %s", e.Status, e.Message) }

// Is makes errors.Is(err, ErrUnauthorized) hold for a 401.
func (e *APIError) Is(target error) bool {
	return target == ErrUnauthorized && e.Status == http.StatusUnauthorized
}

// ErrUnauthorized matches (errors.Is) the *APIError of a write that
// discovery refused for a missing or wrong platform token.
var ErrUnauthorized = errors.New("discovery: unauthorized")

// ErrUnavailable wraps failures to reach discovery when no remembered
// answer can stand in.
var ErrUnavailable = errors.New("discovery unavailable")

// Client talks to one discovery instance. It is safe for concurrent use.
type Client struct {
	cfg   Config
	base  string
	token string // the Bearer token of writes; "" without a secret

	mu   sync.Mutex
	last map[string]remembered // guarded by mu; by scope + "/" + name
}

type remembered struct {
	instances []api.Instance
	at        time.Time
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("discovery client: address required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = api.DefaultTTL
	}
	if cfg.TTL < api.MinTTL || cfg.TTL > api.MaxTTL {
		return nil, fmt.Errorf("discovery client: ttl %v out of range [%v, %v]", cfg.TTL, api.MinTTL, api.MaxTTL)
	}
	if cfg.MaxStale == 0 {
		cfg.MaxStale = 5 * time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, base: "http://" + cfg.Addr, last: make(map[string]remembered)}
	if cfg.Secret != nil {
		c.token = cfg.Secret.APIToken()
	}
	return c, nil
}

// Register registers name at addr and heartbeats every TTL/3 until ctx
// ends; then it deregisters and returns nil. Failed heartbeats (discovery
// restarting) are logged and retried every second, so the instance comes
// back as soon as discovery does. Invalid input returns an error at once.
func (c *Client) Register(ctx context.Context, name, addr string) error {
	if err := api.ValidateName(name); err != nil {
		return err
	}
	if err := api.ValidateAddress(addr); err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.Deregister(dctx, name, addr); err != nil {
			c.cfg.Logger.Debug("deregister failed", "service", name, "address", addr, "err", err)
		}
	}()
	interval := c.cfg.TTL / 3
	failing := false
	for {
		wait := interval
		if err := c.RegisterOnce(ctx, name, addr, c.cfg.TTL); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var apiErr *APIError
			if errors.As(err, &apiErr) && apiErr.Status < 500 {
				return err
			}
			if !failing {
				c.cfg.Logger.Warn("heartbeat failed; retrying", "service", name, "address", addr, "err", err)
			}
			failing, wait = true, min(time.Second, interval)
		} else if failing {
			c.cfg.Logger.Info("heartbeat recovered", "service", name, "address", addr)
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// RegisterOnce registers or refreshes name at addr once, with ttl.
func (c *Client) RegisterOnce(ctx context.Context, name, addr string, ttl time.Duration) error {
	if err := api.ValidateName(name); err != nil {
		return err
	}
	body, _ := json.Marshal(api.Registration{Address: addr, TTL: ttl.String()})
	return c.do(ctx, http.MethodPut, "/v1/services/"+url.PathEscape(name), body, nil)
}

// Deregister removes name at addr from this region.
func (c *Client) Deregister(ctx context.Context, name, addr string) error {
	if err := api.ValidateName(name); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, "/v1/services/"+url.PathEscape(name)+"?address="+url.QueryEscape(addr), nil, nil)
}

// List returns the instances of name in every region.
func (c *Client) List(ctx context.Context, name string) ([]api.Instance, error) {
	return c.list(ctx, name, api.ScopeAll)
}

// ListLocal returns the instances of name in discovery's own region.
func (c *Client) ListLocal(ctx context.Context, name string) ([]api.Instance, error) {
	return c.list(ctx, name, api.ScopeLocal)
}

func (c *Client) list(ctx context.Context, name, scope string) ([]api.Instance, error) {
	if err := api.ValidateName(name); err != nil {
		return nil, err
	}
	path := "/v1/services/" + url.PathEscape(name)
	if scope != api.ScopeAll {
		path += "?scope=" + scope
	}
	var out []api.Instance
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	key := scope + "/" + name
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.last[key] = remembered{instances: out, at: c.cfg.Now()}
		return out, nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status < 500 {
		return nil, err // our request was wrong; a remembered answer would hide it
	}
	if r, ok := c.last[key]; ok && c.cfg.Now().Sub(r.at) <= c.cfg.MaxStale && ctx.Err() == nil {
		c.cfg.Logger.Debug("discovery unreachable; serving remembered answer", "service", name, "age", c.cfg.Now().Sub(r.at), "err", err)
		return append([]api.Instance(nil), r.instances...), nil
	}
	return nil, err
}

// Regions returns the regions discovery's gossip knows.
func (c *Client) Regions(ctx context.Context) ([]api.Region, error) {
	var out []api.Region
	err := c.do(ctx, http.MethodGet, "/v1/regions", nil, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" && method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: reading reply: %v", ErrUnavailable, err)
	}
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("discovery: bad reply: %w", err)
		}
	}
	return nil
}
