package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"atoll/channels"
	"atoll/hubstore"
)

// The Publish screen's channel routes: like the key routes, each acts only
// in the token's workspace, and on one of its published agents.

const (
	// maxChannelBody bounds a channel's settings (tokens and keys are short).
	maxChannelBody = 16 << 10
	// maxChannelsPerAgent bounds what one publisher can make the hub run:
	// every channel holds an adapter (and a token cache) in memory on every
	// replica.
	maxChannelsPerAgent = 20
	// channelLoadWait is how long a route waits for a channel just stored
	// (through another replica, say) to run here.
	channelLoadWait = 5 * time.Second
)

// InvalidChannelError is a config its kind refuses; the message is the
// sentence to show.
type InvalidChannelError struct{ Err error }

func (e *InvalidChannelError) Error() string { return e.Err.Error() }
func (e *InvalidChannelError) Unwrap() error { return e.Err }

// CheckChannel tells whether the hub can run cfg: the checks of a running
// hub's dispatcher (the ID, the kind's fields, the adapter's own checks such
// as a Telegram secret_token's alphabet or an EncodingAESKey's length), so
// that a channel that is stored also starts. The CLI and the admin API
// both call it.
func CheckChannel(cfg channels.Config) error { return checkChannel(cfg, nil) }

// checkChannel is CheckChannel on a hub that lets tenants' channels use
// apiBases.
func checkChannel(cfg channels.Config, apiBases []string) error {
	d := channels.New(channels.Options{Workers: 1, Queue: 1, APIBases: apiBases})
	defer d.Close()
	if _, err := d.Add(cfg); err != nil {
		return &InvalidChannelError{err}
	}
	return nil
}

// SaveChannel checks cfg, seals its secrets and stores it: the hubs pick
// it up through their change feed. An *InvalidChannelError is the user's
// to fix; hubstore.ErrNotFound means the agent is not published in
// cfg.Workspace; hubstore.ErrAlreadyExists that another workspace has
// the ID.
func SaveChannel(ctx context.Context, st hubstore.Storage, sealer *channels.Sealer, cfg channels.Config) (channels.Stored, error) {
	return saveChannel(ctx, st, sealer, cfg, nil)
}

func saveChannel(ctx context.Context, st hubstore.Storage, sealer *channels.Sealer, cfg channels.Config, apiBases []string) (channels.Stored, error) {
	if err := checkChannel(cfg, apiBases); err != nil {
		return channels.Stored{}, err
	}
	stored, err := channels.Seal(cfg, sealer)
	if err != nil {
		return channels.Stored{}, err
	}
	return stored, ChannelStore{St: st}.Put(ctx, stored)
}

// WebhookURL is the address a platform posts a channel's callbacks to,
// on the hub whose public address is base.
func WebhookURL(base, id string) string {
	return strings.TrimRight(base, "/") + "/ch/" + url.PathEscape(id)
}

// publicBase is the hub's address as the client reached it. Behind a
// trusted proxy (the same --trusted-proxy ranges that make X-Forwarded-For
// believed) the proxy's X-Forwarded-Proto and X-Forwarded-Host win, so a
// hub behind a TLS-terminating proxy hands out https webhooks; from anyone
// else those headers are ignored.
func (h *Hub) publicBase(r *http.Request) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && h.trusted(ap.Addr().Unmap()) {
		if p := strings.ToLower(strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Proto")))); p == "http" || p == "https" {
			scheme = p
		}
		if fh := strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Host"))); saneHost(fh) {
			host = fh
		}
	}
	return scheme + "://" + host
}

func firstValue(s string) string { v, _, _ := strings.Cut(s, ","); return v }

// saneHost accepts a host[:port] and nothing that could add a path,
// query or user to the webhook URL.
func saneHost(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

// channelView is one channel as the admin API shows it: never a secret.
type channelView struct {
	ID      string            `json:"id"`
	Kind    channels.Kind     `json:"kind"`
	Agent   string            `json:"agent"`
	Webhook string            `json:"webhook"`
	APIBase string            `json:"api_base,omitempty"`
	Config  map[string]string `json:"config"`
	Status  channels.Status   `json:"status"`
}

// redactURL drops a password from an api_base (a proxy's credentials).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// view builds a channel's view from its row and the dispatcher of this
// replica (counters and last times are this replica's; listChannels puts
// in the replicas' shared ones).
func (h *Hub) channelView(r *http.Request, c hubstore.Channel) channelView {
	v := channelView{ID: c.ID, Kind: channels.Kind(c.Kind), Agent: c.Agent, Webhook: WebhookURL(h.publicBase(r), c.ID), Config: map[string]string{}}
	v.Status = channels.Status{ID: c.ID, Kind: v.Kind, Agent: c.Agent}
	var st channels.Stored
	if err := json.Unmarshal(c.Config, &st); err != nil {
		v.Status.LastError = "the channel's stored settings cannot be read; remove it and add it again"
		return v
	}
	st.ID, st.Workspace, st.Agent, st.Kind = c.ID, c.Workspace, c.Agent, v.Kind
	v.APIBase = redactURL(st.APIBase)
	cfg, openErr := st.Open(h.channels.sealer)
	if openErr != nil {
		// Show which settings are there without them.
		for k, val := range st.Settings {
			v.Config[k] = val
		}
		for k := range st.Secrets {
			v.Config[k] = "••••"
		}
		v.Status.LastError = fmt.Sprintf("the channel does not run: its secrets cannot be opened with this hub's key (%s or $%s); add the channel again", ChannelKeyFile, channels.KeyEnv)
		return v
	}
	v.Config = channels.PublicView(cfg).Settings
	if ch, ok := h.channels.d.Get(c.ID); ok {
		v.Status = ch.Status()
	} else if err := checkChannel(cfg, h.cfg.ChannelAPIBases); err != nil {
		v.Status.LastError = "the channel does not run: " + err.Error()
	}
	v.Status.Workspace = ""
	return v
}

// agentChannels returns the rows of the workspace's agent's channels, or
// answers the request (404 when the agent is not published there).
func (h *Hub) agentChannels(w http.ResponseWriter, r *http.Request) (string, []hubstore.Channel, bool) {
	ws, name := workspaceOf(r), r.PathValue("name")
	if _, err := h.st.Agent(r.Context(), ws, name); err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return ws, nil, false
	}
	all, err := h.st.AllChannels(r.Context())
	if err != nil {
		h.storeErr(w, r, err, "")
		return ws, nil, false
	}
	var out []hubstore.Channel
	for _, c := range all {
		if c.Workspace == ws && c.Agent == name {
			out = append(out, c)
		}
	}
	return ws, out, true
}

// ensureLoaded brings this replica's dispatcher in step with rows (and
// with gone, channels just deleted) now, instead of when the change feed
// gets there: the window asks for a channel's status or a test message
// right after adding it, maybe on another replica.
func (hc *hubChannels) ensureLoaded(ctx context.Context, rows []hubstore.Channel, gone ...string) {
	hc.mu.Lock()
	stale := false
	for _, c := range rows {
		if at, ok := hc.loaded[c.ID]; !ok || !at.Equal(c.Updated) {
			stale = true
		}
	}
	for _, id := range gone {
		if _, ok := hc.loaded[id]; ok {
			stale = true
		}
	}
	hc.mu.Unlock()
	if stale {
		hc.sync(ctx)
	}
}

func (h *Hub) listChannels(w http.ResponseWriter, r *http.Request) {
	ws, rows, ok := h.agentChannels(w, r)
	if !ok {
		return
	}
	h.channels.ensureLoaded(r.Context(), rows)
	shared, err := h.channels.sharedStatus(r.Context(), ws)
	if err != nil {
		h.storeErr(w, r, err, "")
		return
	}
	out := []channelView{}
	for _, c := range rows {
		v := h.channelView(r, c)
		v.Status = withShared(v.Status, shared[c.ID])
		out = append(out, v)
	}
	writeJSON(w, map[string]any{"channels": out})
}

// addChannel: {"kind": "telegram", "settings": {"bot_token": "…"}, "api_base": ""}.
func (h *Hub) addChannel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Kind     string            `json:"kind"`
		Settings map[string]string `json:"settings"`
		APIBase  string            `json:"api_base"`
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChannelBody))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a channel's settings must fit in %d KB", maxChannelBody>>10))
		return
	}
	if err := json.Unmarshal(raw, &body); err != nil || strings.TrimSpace(body.Kind) == "" {
		writeErr(w, http.StatusBadRequest, `the body must be {"kind": "telegram", "settings": {"key": "value"}, "api_base": ""}`)
		return
	}
	ws, rows, ok := h.agentChannels(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if len(rows) >= maxChannelsPerAgent {
		writeErr(w, http.StatusConflict, fmt.Sprintf("agent %q already has %d channels, the most an agent can have; remove one first", name, len(rows)))
		return
	}
	if body.Settings == nil {
		body.Settings = map[string]string{}
	}
	cfg := channels.Config{ID: hubstore.NewID(), Kind: channels.Kind(strings.TrimSpace(body.Kind)), Workspace: ws, Agent: name,
		APIBase: strings.TrimSpace(body.APIBase), Settings: body.Settings, Tenant: true}
	_, err = saveChannel(r.Context(), h.st, h.channels.sealer, cfg, h.cfg.ChannelAPIBases)
	var inv *InvalidChannelError
	switch {
	case errors.As(err, &inv):
		writeErr(w, http.StatusBadRequest, inv.Error())
		return
	case err != nil:
		h.storeErr(w, r, err, notPublished(name))
		return
	}
	rows, err = h.channelRows(r.Context(), ws, name, cfg.ID)
	if err != nil || len(rows) == 0 {
		h.storeErr(w, r, errOr(err, hubstore.ErrNotFound), notPublished(name))
		return
	}
	h.channels.ensureLoaded(r.Context(), rows)
	h.logFor(r).Info("channel added", "workspace", ws, "agent", name, "channel", cfg.ID, "kind", cfg.Kind)
	writeJSON(w, h.channelView(r, rows[0]))
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// channelRows returns the row of channel id if it is the workspace's
// agent's (none otherwise).
func (h *Hub) channelRows(ctx context.Context, ws, name, id string) ([]hubstore.Channel, error) {
	all, err := h.st.AllChannels(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.ID == id && c.Workspace == ws && c.Agent == name {
			return []hubstore.Channel{c}, nil
		}
	}
	return nil, nil
}

// oneChannel finds the channel of the route, or answers 404.
func (h *Hub) oneChannel(w http.ResponseWriter, r *http.Request) (hubstore.Channel, bool) {
	ws, name, id := workspaceOf(r), r.PathValue("name"), r.PathValue("id")
	if _, err := h.st.Agent(r.Context(), ws, name); err != nil {
		h.storeErr(w, r, err, notPublished(name))
		return hubstore.Channel{}, false
	}
	rows, err := h.channelRows(r.Context(), ws, name, id)
	if err != nil {
		h.storeErr(w, r, err, "")
		return hubstore.Channel{}, false
	}
	if len(rows) == 0 {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("agent %q has no channel with id %q; GET /api/agents/%s/channels lists them", name, id, name))
		return hubstore.Channel{}, false
	}
	return rows[0], true
}

func (h *Hub) removeChannel(w http.ResponseWriter, r *http.Request) {
	c, ok := h.oneChannel(w, r)
	if !ok {
		return
	}
	if err := h.st.DeleteChannel(r.Context(), c.Workspace, c.ID); err != nil {
		h.storeErr(w, r, err, fmt.Sprintf("there is no channel with id %q", c.ID))
		return
	}
	h.channels.ensureLoaded(r.Context(), nil, c.ID)
	h.logFor(r).Info("channel removed", "workspace", c.Workspace, "agent", c.Agent, "channel", c.ID)
	writeJSON(w, map[string]any{"removed": c.ID})
}

// testChannel sends {"to": "…", "text": "…"} through the channel's send
// API, from this replica: the channel is loaded here first if the change
// feed has not brought it yet.
func (h *Hub) testChannel(w http.ResponseWriter, r *http.Request) {
	var body struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChannelBody))
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a test message must fit in %d KB", maxChannelBody>>10))
		return
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		writeErr(w, http.StatusBadRequest, `the body must be {"to": "a user or chat ID", "text": "the message"}`)
		return
	}
	if strings.TrimSpace(body.To) == "" {
		writeErr(w, http.StatusBadRequest, "a test message needs a recipient: the platform's user or chat ID")
		return
	}
	if strings.TrimSpace(body.Text) == "" {
		body.Text = "This is a test message from Atoll."
	}
	c, ok := h.oneChannel(w, r)
	if !ok {
		return
	}
	hc := h.channels
	rows := []hubstore.Channel{c}
	deadline := time.Now().Add(channelLoadWait)
	for {
		hc.ensureLoaded(r.Context(), rows)
		if _, running := hc.d.Get(c.ID); running {
			break
		}
		hc.mu.Lock()
		at, tried := hc.loaded[c.ID]
		hc.mu.Unlock()
		if tried && at.Equal(c.Updated) {
			// Loaded and refused: say why.
			writeErr(w, http.StatusConflict, h.channelView(r, c).Status.LastError)
			return
		}
		// A sync that read the list before this channel was stored can
		// still be applying it; the change feed brings it next.
		if time.Now().After(deadline) || r.Context().Err() != nil {
			writeErr(w, http.StatusServiceUnavailable, "the channel is not running on this hub yet; try again in a moment")
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := hc.d.SendTest(ctx, c.ID, strings.TrimSpace(body.To), body.Text); err != nil {
		writeErr(w, http.StatusBadGateway, sentence(channels.Clean(err.Error(), maxTestError)))
		return
	}
	writeJSON(w, map[string]any{"sent": true})
}

// maxTestError bounds the error a test message answers with: the
// platform's own text in it is cut shorter still (channels.CallJSON).
const maxTestError = 600

// sentence ends a platform's error text as one sentence.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "the platform refused the message"
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
