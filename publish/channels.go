package publish

import (
	"context"
	"net/url"
	"time"
)

// Channel is one messaging channel of a published agent, as the hub shows
// it: Config holds the plain settings and each secret masked (••••1234),
// never the secret itself.
type Channel struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	Agent   string            `json:"agent"`
	Webhook string            `json:"webhook"` // to paste into the platform
	APIBase string            `json:"api_base,omitempty"`
	Config  map[string]string `json:"config"`
	Status  ChannelStatus     `json:"status"`
}

// ChannelStatus is a channel's health on the hub replica that answered.
type ChannelStatus struct {
	LastMessage time.Time `json:"last_message,omitzero"`
	LastReply   time.Time `json:"last_reply,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	TokenExpiry time.Time `json:"token_expiry,omitzero"`
	Received    int64     `json:"received"`
	Answered    int64     `json:"answered"`
	Failed      int64     `json:"failed"`
	Duplicates  int64     `json:"duplicates"`
	Rejected    int64     `json:"rejected"`
}

// Channels lists an agent's channels on the hub.
func Channels(ctx context.Context, hubURL, token, agent string) ([]Channel, error) {
	var out struct {
		Channels []Channel `json:"channels"`
	}
	err := adminCall(ctx, hubURL, token, "GET", agentPath(agent)+"/channels", nil, &out, "list the agent's channels")
	if out.Channels == nil {
		out.Channels = []Channel{}
	}
	return out.Channels, err
}

// AddChannel configures a new channel of kind for an agent; settings are
// the kind's fields (secrets included: the hub seals them). apiBase ""
// is the platform's own API.
func AddChannel(ctx context.Context, hubURL, token, agent, kind string, settings map[string]string, apiBase string) (Channel, error) {
	var c Channel
	in := map[string]any{"kind": kind, "settings": settings, "api_base": apiBase}
	err := adminCall(ctx, hubURL, token, "POST", agentPath(agent)+"/channels", in, &c, "add the channel")
	return c, err
}

// RemoveChannel disconnects one of an agent's channels.
func RemoveChannel(ctx context.Context, hubURL, token, agent, id string) error {
	return adminCall(ctx, hubURL, token, "DELETE", agentPath(agent)+"/channels/"+url.PathEscape(id), nil, nil, "remove the channel")
}

// SendChannelTest sends text to a user or chat (to) through the channel's
// platform, from the hub.
func SendChannelTest(ctx context.Context, hubURL, token, agent, id, to, text string) error {
	return adminCall(ctx, hubURL, token, "POST", agentPath(agent)+"/channels/"+url.PathEscape(id)+"/test", map[string]string{"to": to, "text": text}, nil, "send the test message")
}
