package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"atoll/agent"
)

// ServerConfig is one MCP server in the user's settings, in the shape
// Claude Desktop and Cursor use, so their "mcpServers" JSON works as is:
// a stdio command with arguments and environment, or a Streamable HTTP URL
// with headers.
type ServerConfig struct {
	Type    string            `json:"type,omitempty"` // "stdio", "http" or "streamable-http"; inferred when empty
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	// Timeout is seconds per call; 0 is DefaultCallTimeout.
	Timeout  int  `json:"timeout,omitempty"`
	Disabled bool `json:"disabled,omitempty"`
}

// Config is the settings file's content: {"mcpServers": {NAME: {...}}}.
type Config struct {
	Servers map[string]ServerConfig `json:"mcpServers"`
}

// DefaultCallTimeout bounds one tool call; MaxOutput bounds what of its
// result reaches the model (as an HTTP tool's answer is).
const (
	DefaultCallTimeout = 30 * time.Second
	MaxOutput          = 32 << 10
	connectTimeout     = 60 * time.Second // npx may install a package first
)

var serverName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$`)

// ParseConfig reads Claude-Desktop-style JSON: {"mcpServers": {...}}, or
// the inner object alone.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("the MCP servers JSON can't be read: %v", err)
	}
	if c.Servers == nil {
		var inner map[string]ServerConfig
		if json.Unmarshal(b, &inner) != nil || len(inner) == 0 {
			return Config{}, fmt.Errorf(`the JSON has no "mcpServers" object: paste it as Claude Desktop's configuration has it`)
		}
		c.Servers = inner
	}
	return c, c.Validate()
}

// Validate checks every server.
func (c Config) Validate() error {
	for name, s := range c.Servers {
		if !serverName.MatchString(name) {
			return fmt.Errorf("MCP server name %q: use letters, digits, '-', '_' or '.', up to 40 characters", name)
		}
		switch s.kind() {
		case "stdio":
			if strings.TrimSpace(s.Command) == "" {
				return fmt.Errorf("MCP server %s: give the command to start it", name)
			}
		case "http":
			u, err := url.Parse(s.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("MCP server %s: the URL must start with http:// or https://", name)
			}
		default:
			return fmt.Errorf("MCP server %s: type %q is not supported (use stdio or http)", name, s.Type)
		}
		if s.Timeout < 0 || s.Timeout > 3600 {
			return fmt.Errorf("MCP server %s: timeout must be between 1 and 3600 seconds", name)
		}
	}
	return nil
}

func (s ServerConfig) kind() string {
	switch strings.ToLower(s.Type) {
	case "":
		if s.URL != "" && s.Command == "" {
			return "http"
		}
		return "stdio"
	case "stdio":
		return "stdio"
	case "http", "streamable-http", "streamablehttp":
		return "http"
	}
	return s.Type
}

// Describe is the server as the Allow step shows it.
func (s ServerConfig) Describe() string {
	if s.kind() == "http" {
		return s.URL
	}
	return strings.TrimSpace(s.Command + " " + strings.Join(s.Args, " "))
}

// Manager runs the configured servers for agents: each is started (or
// connected to) on first use and kept; one that stops is started again on
// the next call. It implements agent.MCPTools.
type Manager struct {
	// Config is read at every use, so settings changes apply at once.
	Config func() Config

	mu    sync.Mutex
	conns map[string]*conn
}

type conn struct {
	cfg    ServerConfig
	sess   *sdk.ClientSession
	tools  []*sdk.Tool
	dead   chan struct{} // closed when the session ends
	stderr *tailBuffer
	cmd    *exec.Cmd
	// restarted: an earlier connection had stopped; the next call's result
	// says so (listing tools first must not swallow the news).
	restarted bool
}

// NewManager makes a manager reading its servers from config.
func NewManager(config func() Config) *Manager {
	return &Manager{Config: config, conns: map[string]*conn{}}
}

// ErrUnknownServer is returned for a server not in the settings.
var ErrUnknownServer = errors.New("no such MCP server in the settings")

// get returns a live connection to name, starting one if needed; restarted
// tells that an earlier one had stopped.
func (m *Manager) get(ctx context.Context, name string) (c *conn, restarted bool, err error) {
	cfg, ok := m.Config().Servers[name]
	if !ok || cfg.Disabled {
		return nil, false, fmt.Errorf("%w: %s", ErrUnknownServer, name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.conns[name]; ok {
		select {
		case <-old.dead:
			restarted = true
			delete(m.conns, name)
		default:
			if sameConfig(old.cfg, cfg) {
				return old, false, nil
			}
			old.sess.Close()
			delete(m.conns, name)
		}
	}
	c, err = connect(ctx, name, cfg)
	if err != nil {
		return nil, restarted, err
	}
	c.restarted = restarted
	m.conns[name] = c
	return c, restarted, nil
}

func sameConfig(a, b ServerConfig) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func connect(ctx context.Context, name string, cfg ServerConfig) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	c := &conn{cfg: cfg, dead: make(chan struct{}), stderr: &tailBuffer{max: 4 << 10}}
	var t sdk.Transport
	if cfg.kind() == "http" {
		t = &sdk.StreamableClientTransport{Endpoint: cfg.URL, HTTPClient: &http.Client{Transport: headers{cfg.Headers}}, MaxRetries: 1, DisableStandaloneSSE: true}
	} else {
		// Not CommandContext: the server outlives this call's context.
		cmd := exec.Command(cfg.Command, cfg.Args...)
		cmd.Env = os.Environ()
		for k, v := range cfg.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Stderr = c.stderr
		setProcessGroup(cmd)
		c.cmd = cmd
		t = &sdk.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}
	}
	client := sdk.NewClient(&sdk.Implementation{Name: "atoll", Version: "1"}, nil)
	sess, err := client.Connect(ctx, t, nil)
	if err != nil {
		if c.cmd != nil && c.cmd.Process != nil {
			killGroup(c.cmd)
		}
		return nil, fmt.Errorf("the MCP server %s could not be started (%s): %v%s", name, cfg.Describe(), err, c.stderr.said())
	}
	c.sess = sess
	go func() {
		_ = sess.Wait()
		if c.cmd != nil {
			killGroup(c.cmd)
		}
		close(c.dead)
	}()
	for tl, err := range sess.Tools(ctx, nil) {
		if err != nil {
			sess.Close()
			return nil, fmt.Errorf("the MCP server %s did not list its tools: %v", name, err)
		}
		c.tools = append(c.tools, tl)
	}
	return c, nil
}

// Tools lists a server's tools, starting it if needed.
func (m *Manager) Tools(ctx context.Context, server string) ([]agent.MCPTool, error) {
	c, _, err := m.get(ctx, server)
	if err != nil {
		return nil, err
	}
	out := make([]agent.MCPTool, 0, len(c.tools))
	for _, tl := range c.tools {
		schema, _ := json.Marshal(tl.InputSchema)
		out = append(out, agent.MCPTool{Server: server, Name: tl.Name, Description: tl.Description, Schema: schema})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Tool finds one tool of a server.
func (m *Manager) Tool(ctx context.Context, server, name string) (agent.MCPTool, error) {
	tools, err := m.Tools(ctx, server)
	if err != nil {
		return agent.MCPTool{}, err
	}
	for _, tl := range tools {
		if tl.Name == name {
			return tl, nil
		}
	}
	return agent.MCPTool{}, fmt.Errorf("the MCP server %s has no tool %q", server, name)
}

// Describe is the server's command or URL, for the Allow step.
func (m *Manager) Describe(server string) string {
	return m.Config().Servers[server].Describe()
}

// Call runs one tool within the server's timeout. A tool's own error
// (isError) and every failure come back as errors for the model; a server
// that stopped is started again, and the model is told.
func (m *Manager) Call(ctx context.Context, server, name string, args map[string]any) (string, error) {
	c, _, err := m.get(ctx, server)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	restarted := c.restarted
	c.restarted = false
	m.mu.Unlock()
	note := ""
	if restarted {
		note = fmt.Sprintf("(The MCP server %s had stopped and was started again; anything it held in memory is gone.)\n", server)
	}
	timeout := DefaultCallTimeout
	if c.cfg.Timeout > 0 {
		timeout = time.Duration(c.cfg.Timeout) * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if args == nil {
		args = map[string]any{}
	}
	res, err := c.sess.CallTool(cctx, &sdk.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		select {
		case <-c.dead:
			return "", fmt.Errorf("%sthe MCP server %s stopped during the call (%v)%s; it will be started again on the next call", note, server, err, c.stderr.said())
		default:
		}
		if errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return "", fmt.Errorf("%sthe tool %s/%s did not answer within %s", note, server, name, timeout)
		}
		return "", fmt.Errorf("%sthe tool %s/%s failed: %v", note, server, name, err)
	}
	text := note + resultText(res)
	if res.IsError {
		return "", errors.New(text)
	}
	return text, nil
}

// resultText flattens a result for the model, within MaxOutput bytes.
func resultText(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		switch v := c.(type) {
		case *sdk.TextContent:
			b.WriteString(v.Text)
		case *sdk.ImageContent:
			fmt.Fprintf(&b, "[an image, %s, %d bytes]", v.MIMEType, len(v.Data))
		case *sdk.AudioContent:
			fmt.Fprintf(&b, "[audio, %s, %d bytes]", v.MIMEType, len(v.Data))
		case *sdk.ResourceLink:
			fmt.Fprintf(&b, "[resource %s: %s]", v.Name, v.URI)
		case *sdk.EmbeddedResource:
			if v.Resource != nil && v.Resource.Text != "" {
				b.WriteString(v.Resource.Text)
			} else if v.Resource != nil {
				fmt.Fprintf(&b, "[resource %s, %d bytes]", v.Resource.URI, len(v.Resource.Blob))
			}
		}
		b.WriteString("\n")
		if b.Len() > MaxOutput {
			break
		}
	}
	if strings.TrimSpace(b.String()) == "" && res.StructuredContent != nil {
		j, _ := json.Marshal(res.StructuredContent)
		b.Write(j)
	}
	s := strings.TrimSpace(b.String())
	if len(s) > MaxOutput {
		cut := MaxOutput
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + fmt.Sprintf("\n[… output cut at %d KB]", MaxOutput>>10)
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// Close stops every server.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, c := range m.conns {
		c.sess.Close()
		if c.cmd != nil {
			killGroup(c.cmd)
		}
		delete(m.conns, name)
	}
}

// Process is the running stdio server's process, for tests that crash it.
func (m *Manager) Process(server string) *os.Process {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.conns[server]; ok && c.cmd != nil {
		return c.cmd.Process
	}
	return nil
}

// headers adds the configured headers to every request, and bounds what a
// response may make this process hold.
type headers struct{ h map[string]string }

func (h headers) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.h {
		r.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		res.Body = limitBody{io.LimitReader(res.Body, 16<<20), res.Body}
	}
	return res, err
}

type limitBody struct {
	io.Reader
	io.Closer
}

// tailBuffer keeps the last bytes a server wrote to stderr, to explain a
// failed start.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) said() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 && len(s)-i > 20 {
		s = s[i+1:]
	}
	return "; it said: " + s
}

// Running reports whether a server is connected and has not stopped.
func (m *Manager) Running(server string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[server]
	if !ok {
		return false
	}
	select {
	case <-c.dead:
		return false
	default:
		return true
	}
}
