package app

import (
	"context"
	"errors"
	"strings"

	"atoll/channels"
	_ "atoll/channels/all" // every kind's fields, for the form
	"atoll/publish"
)

// ChannelField is one setting of a channel kind, for the Publish screen's
// form: secrets are typed into password fields and never shown again.
type ChannelField struct {
	Key      string `json:"key"`
	Label    string `json:"label"`
	Help     string `json:"help"`
	Secret   bool   `json:"secret"`
	Required bool   `json:"required"`
}

// ChannelKind is a messaging platform the hub can answer on.
type ChannelKind struct {
	Kind string `json:"kind"`
	// Webhook says where on the platform the webhook URL goes.
	Webhook string         `json:"webhook"`
	Fields  []ChannelField `json:"fields"`
}

// ChannelKinds lists the kinds and their settings from the adapters
// themselves, so the form cannot drift from what the hub validates.
func (a *App) ChannelKinds() []ChannelKind {
	out := []ChannelKind{}
	for _, k := range channels.Kinds() {
		f, _ := channels.Lookup(k)
		ck := ChannelKind{Kind: string(k), Webhook: f.Webhook, Fields: []ChannelField{}}
		for _, fl := range f.Fields {
			ck.Fields = append(ck.Fields, ChannelField{Key: fl.Key, Label: fieldLabel(fl.Key), Help: fl.Help, Secret: fl.Secret, Required: fl.Required})
		}
		out = append(out, ck)
	}
	return out
}

// fieldLabel turns a setting's key into a label: "encoding_aes_key" →
// "Encoding AES key"; the platforms' own names, so not translated.
func fieldLabel(key string) string {
	words := strings.Split(key, "_")
	for i, w := range words {
		switch w {
		case "id", "aes", "api":
			words[i] = strings.ToUpper(w)
		}
	}
	s := strings.Join(words, " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Channels lists a published agent's messaging channels on the remembered
// hub (secrets masked).
func (a *App) Channels(agentName string) ([]publish.Channel, error) {
	out := []publish.Channel{}
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		out, err = publish.Channels(ctx, c.URL, c.Token, c.PublicName(agentName))
		return err
	})
	return out, err
}

// AddChannel configures a channel of kind for a published agent; the hub
// seals its secrets, and the answer's webhook is the URL to paste into
// the platform. Empty settings are left out; apiBase "" is the
// platform's own API.
func (a *App) AddChannel(agentName, kind string, settings map[string]string, apiBase string) (publish.Channel, error) {
	kind = strings.TrimSpace(kind)
	if kind == "" {
		return publish.Channel{}, errors.New("choose the platform the channel is on")
	}
	clean := map[string]string{}
	for k, v := range settings {
		if v = strings.TrimSpace(v); v != "" {
			clean[k] = v
		}
	}
	var ch publish.Channel
	err := a.hubCall(func(ctx context.Context, c publishConfig) (err error) {
		ch, err = publish.AddChannel(ctx, c.URL, c.Token, c.PublicName(agentName), kind, clean, strings.TrimSpace(apiBase))
		return err
	})
	return ch, err
}

// RemoveChannel disconnects a channel: the hub stops answering on it.
func (a *App) RemoveChannel(agentName, id string) error {
	return a.hubCall(func(ctx context.Context, c publishConfig) error {
		return publish.RemoveChannel(ctx, c.URL, c.Token, c.PublicName(agentName), id)
	})
}

// SendChannelTest sends text to a user or chat on the channel's platform
// (a Telegram chat ID, a Slack channel, a phone number…).
func (a *App) SendChannelTest(agentName, id, to, text string) error {
	if strings.TrimSpace(to) == "" {
		return errors.New("enter who gets the test message: the platform's user or chat ID")
	}
	return a.hubCall(func(ctx context.Context, c publishConfig) error {
		return publish.SendChannelTest(ctx, c.URL, c.Token, c.PublicName(agentName), id, strings.TrimSpace(to), text)
	})
}
