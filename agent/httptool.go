package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"atoll/llm"
)

// HTTPTool is a user-defined tool: a request to a service the user trusts
// (an order system, a stock API), defined once in the user's settings and
// enabled per agent as "http:<name>". None exists or runs until the user
// defines and enables it; in the desktop app each call is confirmed first.
type HTTPTool struct {
	Name        string            `json:"name"` // what the model calls, e.g. "check_stock"
	Description string            `json:"description"`
	Method      string            `json:"method"` // GET or POST
	URL         string            `json:"url"`    // template: https://shop.example/api/stock?item={item}
	Params      []HTTPParam       `json:"params"`
	Headers     map[string]string `json:"headers,omitempty"` // e.g. an API key, from the user's settings
}

// HTTPParam is one argument the model fills in.
type HTTPParam struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Required    bool   `json:"required"`
}

// HTTPCall is one request about to be made, as shown to the user.
type HTTPCall struct {
	Tool   string `json:"tool"`
	Method string `json:"method"` // "MCP" for a tool of an MCP server
	URL    string `json:"url"`    // for MCP, the server's command or URL
	// Arguments are the exact arguments of an MCP call, as JSON.
	Arguments string `json:"arguments,omitempty"`
	Agent     string `json:"agent,omitempty"`
	// Allowed: the agent's allow-list names this tool (Definition.Allow),
	// so the call needs no question; it is still shown.
	Allowed bool `json:"allowed,omitempty"`
}

// ErrDenied is returned by a Confirm function when the user says no.
var ErrDenied = errors.New("the user did not allow this call")

var (
	toolName    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	placeholder = regexp.MustCompile(`\{([a-z][a-z0-9_]{0,39})\}`)
)

// HTTPToolPrefix marks user-defined tools in Definition.Tools.
const HTTPToolPrefix = "http:"

// Validate checks a tool definition.
func (h HTTPTool) Validate() error {
	if !toolName.MatchString(h.Name) || slices.Contains(KnownTools, h.Name) {
		return fmt.Errorf("tool name %q: use lower-case letters, digits and _, and not a built-in tool's name", h.Name)
	}
	if h.Method != "GET" && h.Method != "POST" {
		return fmt.Errorf("tool %s: method must be GET or POST", h.Name)
	}
	u, err := url.Parse(placeholder.ReplaceAllString(h.URL, "x"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("tool %s: the URL must start with http:// or https://", h.Name)
	}
	if rest, ok := strings.CutPrefix(h.URL[strings.Index(h.URL, "://")+3:], ""); ok && strings.Contains(strings.SplitN(rest, "/", 2)[0], "{") {
		return fmt.Errorf("tool %s: parameters may not change the host", h.Name)
	}
	declared := map[string]bool{}
	for _, p := range h.Params {
		if !toolName.MatchString(p.Name) {
			return fmt.Errorf("tool %s: parameter %q: use lower-case letters, digits and _", h.Name, p.Name)
		}
		declared[p.Name] = true
	}
	for _, m := range placeholder.FindAllStringSubmatch(h.URL, -1) {
		if !declared[m[1]] {
			return fmt.Errorf("tool %s: {%s} in the URL is not a declared parameter", h.Name, m[1])
		}
	}
	return nil
}

func (h HTTPTool) spec() llm.Tool {
	props := map[string]any{}
	var required []string
	for _, p := range h.Params {
		props[p.Name] = map[string]string{"type": "string", "description": p.Description}
		if p.Required {
			required = append(required, p.Name)
		}
	}
	schema, _ := json.Marshal(map[string]any{"type": "object", "properties": props, "required": required})
	return llm.Tool{Name: h.Name, Description: h.Description, Parameters: schema}
}

// request builds the call from the model's arguments: every value is
// escaped into the URL (it can never change the host or add parameters),
// and for POST the arguments also go as a JSON body.
func (h HTTPTool) request(args map[string]any) (HTTPCall, []byte, error) {
	vals := map[string]string{}
	for _, p := range h.Params {
		v, ok := args[p.Name]
		if !ok || v == nil {
			if p.Required {
				return HTTPCall{}, nil, fmt.Errorf("missing argument %q", p.Name)
			}
			continue
		}
		vals[p.Name] = fmt.Sprint(v)
	}
	u := placeholder.ReplaceAllStringFunc(h.URL, func(m string) string {
		return url.QueryEscape(vals[m[1:len(m)-1]])
	})
	var body []byte
	if h.Method == "POST" {
		body, _ = json.Marshal(vals)
	}
	return HTTPCall{Tool: h.Name, Method: h.Method, URL: u}, body, nil
}

const httpToolTimeout = 15 * time.Second
const httpToolMaxBody = 32 << 10

// callHTTP confirms (when the runner asks for it) and makes the request; the
// status and the first 32 KB of the answer go back to the model.
func (t *turn) callHTTP(ctx context.Context, h HTTPTool, args map[string]any) (string, error) {
	call, body, err := h.request(args)
	if err != nil {
		return "", err
	}
	call.Agent, call.Allowed = t.def.Name, slices.Contains(t.def.Allow, HTTPToolPrefix+h.Name)
	if t.r.Confirm != nil {
		if err := t.r.Confirm(ctx, call); err != nil {
			return "", fmt.Errorf("%s %s was not made: %v", call.Method, call.URL, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, httpToolTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, call.URL, rd)
	if err != nil {
		return "", err
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("the request failed: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, httpToolMaxBody))
	return fmt.Sprintf("HTTP %d\n%s", res.StatusCode, b), nil
}

// httpTool finds an enabled user-defined tool by the name the model used.
func (t *turn) httpTool(name string) (HTTPTool, bool) {
	if t.r.HTTPTools == nil || !slices.Contains(t.def.Tools, HTTPToolPrefix+name) {
		return HTTPTool{}, false
	}
	for _, h := range t.r.HTTPTools() {
		if h.Name == name {
			return h, true
		}
	}
	return HTTPTool{}, false
}
