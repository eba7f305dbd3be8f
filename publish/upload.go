package publish

import (
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
// not nil, is called with the bytes sent so far.
func Upload(ctx context.Context, hubURL, token string, bundle io.Reader, size int64, progress func(sent, total int64)) (Published, error) {
	hubURL = strings.TrimRight(strings.TrimSpace(hubURL), "/")
	if err := CheckToken(ctx, hubURL, token); err != nil {
		return Published{}, err
	}
	body := &uploadCounter{r: bundle, total: size, fn: progress}
	req, err := http.NewRequestWithContext(ctx, "POST", hubURL+"/api/publish", body)
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
