package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Published is the hub's answer to a publication.
type Published struct {
	Agent   string `json:"agent"`
	Version int    `json:"version"`
	Chat    string `json:"chat"`   // absolute address of the public chat page
	Widget  string `json:"widget"` // the <script> tag for other sites
	API     string `json:"api"`    // the OpenAI-compatible endpoint
}

// CheckTimeout bounds CheckToken: the hub answers it at once, so a longer
// wait means an address that does not answer.
const CheckTimeout = 5 * time.Second

// CheckToken asks the hub whether token is a valid publisher token, without
// sending anything else: an authenticated HEAD of the hub's leads inbox
// (GET /api/leads, which every hub has). A valid token gets 200, or 404 for
// the empty agent name; a wrong one 401. It answers within CheckTimeout.
func CheckToken(ctx context.Context, hubURL, token string) error {
	hubURL = strings.TrimRight(strings.TrimSpace(hubURL), "/")
	u, err := url.Parse(hubURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not a hub address: give it as https://host (or http:// on a local network)", hubURL)
	}
	if strings.TrimSpace(token) == "" {
		return errors.New("a publisher token is needed: the hub's owner creates one with `atoll hub token create`")
	}
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "HEAD", hubURL+"/api/leads?agent=", nil)
	if err != nil {
		return fmt.Errorf("%q is not a hub address: %w", hubURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("the hub at %s did not answer within %d seconds: check the address and your connection", hubURL, int(CheckTimeout/time.Second))
		}
		return fmt.Errorf("couldn't reach the hub at %s (%v): check the address and your connection", hubURL, unwrapURLError(err))
	}
	res.Body.Close()
	isJSON := strings.HasPrefix(res.Header.Get("Content-Type"), "application/json")
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return fmt.Errorf("the hub at %s refused the publisher token: check it, or ask the hub's owner for a new one (`atoll hub token create`)", hubURL)
	case res.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("the hub at %s is busy (too many requests): try again in a minute", hubURL)
	case (res.StatusCode == http.StatusOK || res.StatusCode == http.StatusNotFound) && isJSON:
		return nil
	default:
		return fmt.Errorf("%s does not answer like an Atoll hub (%s): check the address", hubURL, res.Status)
	}
}

// unwrapURLError drops net/http's "Head \"URL\":" prefix, which repeats
// the address the sentence already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Upload sends a bundle to a hub with a publisher token, after checking the
// token (CheckToken), so a wrong token or address costs no upload. The
// request also asks the hub to accept it before the body is sent
// (Expect: 100-continue), for a token withdrawn in between. progress, when
// not nil, is called with the bytes sent so far. as, when not empty,
// publishes under that name instead of the agent's own (the hub refuses a
// name another workspace published first and suggests this).
func Upload(ctx context.Context, hubURL, token string, bundle io.Reader, size int64, progress func(sent, total int64), as ...string) (Published, error) {
	hubURL = strings.TrimRight(strings.TrimSpace(hubURL), "/")
	if err := CheckToken(ctx, hubURL, token); err != nil {
		return Published{}, err
	}
	body := &uploadCounter{r: bundle, total: size, fn: progress}
	target := hubURL + "/api/publish"
	if len(as) > 0 && strings.TrimSpace(as[0]) != "" {
		target += "?as=" + url.QueryEscape(strings.TrimSpace(as[0]))
	}
	req, err := http.NewRequestWithContext(ctx, "POST", target, body)
	if err != nil {
		return Published{}, fmt.Errorf("%q is not a hub address: %w", hubURL, err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/zip")
	req.Header.Set("Expect", "100-continue")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Published{}, fmt.Errorf("couldn't reach the hub at %s (%v): check the address and your connection", hubURL, unwrapURLError(err))
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		var msg struct{ Error struct{ Message string } }
		_ = json.Unmarshal(b, &msg)
		if msg.Error.Message == "" {
			msg.Error.Message = strings.TrimSpace(string(b))
		}
		if res.StatusCode == http.StatusConflict {
			return Published{}, &NameTakenError{Message: msg.Error.Message}
		}
		return Published{}, fmt.Errorf("the hub refused the bundle (%s): %s", res.Status, msg.Error.Message)
	}
	var p Published
	if err := json.Unmarshal(b, &p); err != nil {
		return Published{}, fmt.Errorf("the hub's answer was not understood: %w", err)
	}
	p.Chat = hubURL + p.Chat
	p.API = hubURL + "/v1/chat/completions"
	return p, nil
}

// NameTakenError is the hub's refusal of a publication (409 Conflict)
// whose public name another workspace on the hub published first. Its
// text is the hub's, which names the command line's --as; the window says
// it in its own words.
type NameTakenError struct {
	Message string // the hub's reason
}

func (e *NameTakenError) Error() string {
	return "the hub refused the bundle (409 Conflict): " + e.Message
}

type uploadCounter struct {
	r     io.Reader
	sent  int64
	total int64
	fn    func(sent, total int64)
}

func (c *uploadCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sent += int64(n)
	if c.fn != nil && n > 0 {
		c.fn(c.sent, c.total)
	}
	return n, err
}

// RolledBack is the hub's answer to a rollback.
type RolledBack struct {
	Agent    string `json:"agent"`
	Version  int    `json:"version"`
	Restored int    `json:"restored"`
}

// Rollback asks a hub to publish the previous version of an agent again.
func Rollback(ctx context.Context, hubURL, token, agent string) (RolledBack, error) {
	hubURL = strings.TrimRight(hubURL, "/")
	req, err := http.NewRequestWithContext(ctx, "POST", hubURL+"/api/agents/"+url.PathEscape(agent)+"/rollback", nil)
	if err != nil {
		return RolledBack{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return RolledBack{}, fmt.Errorf("couldn't reach the hub at %s: %w", hubURL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		var msg struct{ Error struct{ Message string } }
		_ = json.Unmarshal(b, &msg)
		return RolledBack{}, fmt.Errorf("the hub refused the rollback (%s): %s", res.Status, msg.Error.Message)
	}
	var r RolledBack
	return r, json.Unmarshal(b, &r)
}

// FetchLeads returns the leads a published agent captured, from the hub's
// inbox. Each is returned as the hub stored it (agent.Lead's JSON).
func FetchLeads(ctx context.Context, hubURL, token, agentName string) ([]json.RawMessage, error) {
	hubURL = strings.TrimRight(hubURL, "/")
	req, err := http.NewRequestWithContext(ctx, "GET", hubURL+"/api/leads?agent="+url.QueryEscape(agentName), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the hub at %s: %w", hubURL, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var msg struct{ Error struct{ Message string } }
		_ = json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&msg)
		return nil, fmt.Errorf("the hub refused (%s): %s", res.Status, msg.Error.Message)
	}
	var out []json.RawMessage
	if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("the hub's answer was not a list of leads: %w", err)
	}
	return out, nil
}

// Key is one API key of a key-required agent. Secret is set only in
// CreateKey's answer: the hub stores its hash and never shows it again.
type Key struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Agent   string     `json:"agent"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
	Secret  string     `json:"key,omitempty"`
}

// UsageDay is one day's use of the workspace (Key "") or of one key.
type UsageDay struct {
	Day       string `json:"day"`
	Key       string `json:"key"`
	Requests  int64  `json:"requests"`
	TokensIn  int64  `json:"tokensIn"`
	TokensOut int64  `json:"tokensOut"`
	Errors    int64  `json:"errors"`
}

// adminTimeout bounds the small publisher calls below: each is one row or
// a short list on the hub.
const adminTimeout = 30 * time.Second

// adminCall sends one publisher request and decodes the JSON answer into
// out; a refusal becomes a sentence naming what was refused and the hub's
// reason.
func adminCall(ctx context.Context, hubURL, token, method, path string, in, out any, what string) error {
	hubURL = strings.TrimRight(strings.TrimSpace(hubURL), "/")
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	body, err := hubOpen(ctx, hubURL, token, method, path, in)
	var no *hubRefusal
	if errors.As(err, &no) {
		return fmt.Errorf("the hub refused to %s (%s): %s", what, no.status, no.reason())
	}
	if err != nil {
		return err
	}
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(body, 8<<20))
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("the hub's answer was not understood: %w", err)
		}
	}
	return nil
}

// hubOpen sends one publisher request to hubURL+path (in, when not nil, as
// JSON) and returns the body of the hub's 200 answer for the caller to
// decode and close. Another answer is a *hubRefusal for the caller to word;
// an address that is not one, or a hub that does not answer, is a sentence.
func hubOpen(ctx context.Context, hubURL, token, method, path string, in any) (io.ReadCloser, error) {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, hubURL+path, body)
	if err != nil {
		return nil, fmt.Errorf("%q is not a hub address: give it as https://host", hubURL)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("couldn't reach the hub at %s (%v): check the address and your connection", hubURL, unwrapURLError(err))
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		// A refusal is one short sentence; a larger answer is not the hub's.
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		var msg struct{ Error struct{ Message string } }
		_ = json.Unmarshal(b, &msg)
		return nil, &hubRefusal{code: res.StatusCode, status: res.Status, message: msg.Error.Message, text: strings.TrimSpace(string(b))}
	}
	return res.Body, nil
}

// hubRefusal is a hub's answer other than 200 OK.
type hubRefusal struct {
	code    int
	status  string // "401 Unauthorized"
	message string // the hub's reason, from its JSON error
	text    string // the whole answer, for a refusal that is not the hub's JSON
}

// reason is the hub's message, or the answer's text when it gave none (a
// proxy's page in front of the hub).
func (r *hubRefusal) reason() string {
	if r.message != "" {
		return r.message
	}
	return r.text
}

func (r *hubRefusal) Error() string {
	return fmt.Sprintf("the hub refused (%s): %s", r.status, r.reason())
}

func agentPath(agent string) string { return "/api/agents/" + url.PathEscape(agent) }

// SetAccess makes a published agent open ("open") or key-required ("key")
// for its public chat, widget and API.
func SetAccess(ctx context.Context, hubURL, token, agent, access string) error {
	if access != "open" && access != "key" {
		return fmt.Errorf("access must be \"open\" or \"key\", not %q", access)
	}
	return adminCall(ctx, hubURL, token, "PUT", agentPath(agent)+"/access", map[string]string{"access": access}, nil, "change the agent's access")
}

// Agent is one of the workspace's published agents.
type Agent struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	Latest  int    `json:"latest"`
	Access  string `json:"access"`
}

// WorkspaceAgents lists the token's workspace's published agents.
func WorkspaceAgents(ctx context.Context, hubURL, token string) ([]Agent, error) {
	var out []Agent
	err := adminCall(ctx, hubURL, token, "GET", "/api/workspace/agents", nil, &out, "list your agents")
	return out, err
}

// Keys lists an agent's API keys, revoked ones included (without secrets).
func Keys(ctx context.Context, hubURL, token, agent string) ([]Key, error) {
	out := []Key{}
	err := adminCall(ctx, hubURL, token, "GET", agentPath(agent)+"/keys", nil, &out, "list the agent's keys")
	return out, err
}

// CreateKey makes a named API key for an agent; the answer's Secret is the
// only time the key is shown.
func CreateKey(ctx context.Context, hubURL, token, agent, name string) (Key, error) {
	var k Key
	err := adminCall(ctx, hubURL, token, "POST", agentPath(agent)+"/keys", map[string]string{"name": name}, &k, "create a key")
	return k, err
}

// RevokeKey withdraws one of an agent's keys.
func RevokeKey(ctx context.Context, hubURL, token, agent, id string) error {
	return adminCall(ctx, hubURL, token, "DELETE", agentPath(agent)+"/keys/"+url.PathEscape(id), nil, nil, "revoke the key")
}

// Usage returns the workspace's use per day and each key's, over the last
// days days (UTC, today included; 1 to 366).
func Usage(ctx context.Context, hubURL, token string, days int) ([]UsageDay, error) {
	days = min(max(days, 1), 366)
	to := time.Now().UTC()
	from := to.AddDate(0, 0, -(days - 1))
	out := []UsageDay{}
	err := adminCall(ctx, hubURL, token, "GET", "/api/usage?from="+from.Format(time.DateOnly)+"&to="+to.Format(time.DateOnly), nil, &out, "show usage")
	return out, err
}
