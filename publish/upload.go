package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Published is the hub's answer to a publication.
type Published struct {
	Agent   string `json:"agent"`
	Version int    `json:"version"`
	Chat    string `json:"chat"`   // absolute address of the public chat page
	Widget  string `json:"widget"` // the <script> tag for other sites
	API     string `json:"api"`    // the OpenAI-compatible endpoint
}

// Upload sends a bundle to a hub with a publisher token. progress, when not
// nil, is called with the bytes sent so far.
func Upload(ctx context.Context, hubURL, token string, bundle io.Reader, size int64, progress func(sent, total int64)) (Published, error) {
	hubURL = strings.TrimRight(hubURL, "/")
	body := &uploadCounter{r: bundle, total: size, fn: progress}
	req, err := http.NewRequestWithContext(ctx, "POST", hubURL+"/api/publish", body)
	if err != nil {
		return Published{}, fmt.Errorf("%q is not a hub address: %w", hubURL, err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/zip")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Published{}, fmt.Errorf("couldn't reach the hub at %s: %w", hubURL, err)
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
