// Package llm is Atoll's seam to a local Ollama server, and the only package
// that imports github.com/ollama/ollama/api. It keeps the surface small and
// typed (chat with streaming and tools, batched embeddings, model facts) and
// turns Ollama's failures into a few sentinel errors (ErrUnavailable,
// ErrModelNotFound, ErrStreamCut, ...) that Sentence phrases for the user.
//
// Streaming goes through the api package's callback end to end: tokens reach
// the caller's onToken from inside that callback, so cancelling the context or
// returning an error from onToken stops generation on the server. There is no
// channel or goroutine between the two.
package llm

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ollama/ollama/api"
)

// DefaultURL is where Ollama listens unless told otherwise.
const DefaultURL = "http://127.0.0.1:11434"

// Client talks to one Ollama server. It is safe for concurrent use.
type Client struct {
	base *url.URL
	api  *api.Client

	// Model facts rarely change while the app runs and are needed for every
	// chat (num_ctx), so Show results are cached per model name.
	mu    sync.Mutex
	shown map[string]ModelInfo
}

// New returns a client for the server at baseURL: "http://127.0.0.1:11434",
// a bare "host:port", or "" for DefaultURL. It does not contact the server.
func New(baseURL string) (*Client, error) {
	u, err := parseBase(baseURL)
	if err != nil {
		return nil, err
	}
	// No overall timeout: a chat may stream for minutes and a large model
	// may take long to load before the first byte. The caller's context
	// bounds each call; the dial timeout only makes a dead address fail fast.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return &Client{
		base:  u,
		api:   api.NewClient(u, &http.Client{Transport: transport}),
		shown: map[string]ModelInfo{},
	}, nil
}

func parseBase(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultURL
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid Ollama address %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid Ollama address %q: the scheme must be http or https", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("invalid Ollama address %q: no host", raw)
	}
	if u.Port() == "" {
		port := "11434"
		if u.Scheme == "https" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// URL is the server's base URL, e.g. "http://127.0.0.1:11434".
func (c *Client) URL() string { return c.base.String() }

// Version returns the server's version, e.g. "0.6.5". It is also the
// cheapest way to check that Ollama is running.
func (c *Client) Version(ctx context.Context) (string, error) {
	v, err := c.api.Version(ctx)
	if err != nil {
		return "", c.fail(ctx, "version", "", err)
	}
	return v, nil
}
