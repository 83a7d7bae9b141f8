package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxErrorBody bounds how much of an error response Client reads.
const maxErrorBody = 64 << 10

// Client calls a Supervisor's control API.
type Client struct {
	// Addr is the API's base URL ("http://127.0.0.1:7070") or host:port.
	Addr string
	// HTTP is the client used for requests; nil means http.DefaultClient.
	HTTP *http.Client
}

// APIError is returned by Client for a non-2xx response.
type APIError struct {
	StatusCode int    // HTTP status code
	Message    string // the server's "error" field, or the body if not JSON
}

func (e *APIError) Error() string {
	return fmt.Sprintf("supervisor api: %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Processes returns the status of every child, in the supervisor's order.
func (c *Client) Processes(ctx context.Context) ([]ProcessStatus, error) {
	var out []ProcessStatus
	err := c.call(ctx, http.MethodGet, processesPath, &out)
	return out, err
}

// Do performs action (start, stop, kill, pause or resume) on region/service
// and returns its status afterwards.
func (c *Client) Do(ctx context.Context, region, service, action string) (ProcessStatus, error) {
	var out ProcessStatus
	path := processesPath + "/" + url.PathEscape(region) + "/" + url.PathEscape(service) + "/" + url.PathEscape(action)
	err := c.call(ctx, http.MethodPost, path, &out)
	return out, err
}

func (c *Client) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL()+path, nil)
	if err != nil {
		return fmt.Errorf("supervisor api: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("supervisor api: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readAPIError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("supervisor api: %s %s: decode response: %w", method, path, err)
	}
	return nil
}

func (c *Client) baseURL() string {
	addr := strings.TrimSuffix(c.Addr, "/")
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return addr
}

func readAPIError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{StatusCode: resp.StatusCode}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		e.Message = eb.Error
	} else {
		e.Message = strings.TrimSpace(string(body))
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}
