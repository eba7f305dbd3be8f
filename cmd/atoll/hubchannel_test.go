package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/channels"
	"atoll/channels/channeltest"
	"atoll/channels/channeltest/fakes"
	"atoll/contact"
	"atoll/hub"
	"atoll/internal/ollamafake"
	"atoll/llm"
)

// The hub's channel commands' usage errors, kept beside the table in
// cli_test.go (which other commands' rows change often).
func init() {
	usageErrors["hub channel add"] = [][]string{{}, {"--agent", "baker"}, {"--kind", "telegram"}, {"--agent", "baker", "--kind", "fax"}, {"--agent", "baker", "--kind", "telegram"}, {"--agent", "baker", "--kind", "telegram", "--set", "novalue"}, {"--agent", "baker", "--kind", "telegram", "extra"}, {"--agent", "baker", "--kind", "telegram", "--set", "bot_token=1:a", "--set", "secret_token=not allowed!"}}
	usageErrors["hub channel list"] = [][]string{{"extra"}}
	usageErrors["hub channel rm"] = [][]string{{}, {"a", "b"}}
}

// channelModel scripts the agent's model for channel tests by what it is
// asked, so that messages on several channels at once get their own
// answers: a lead request calls save_lead, a question with "slow" in it
// waits for the gate, and every answer names the "edition" its system
// prompt gives (which version of the agent answered).
type channelModel struct {
	t    testing.TB
	mu   sync.Mutex
	gate chan struct{}
}

var (
	editionRE = regexp.MustCompile(`edition [A-Z]+`)
	leadRE    = regexp.MustCompile(`call me about a cake: ([^,]+), (\+[0-9 ]+)`)
)

func (m *channelModel) reply(req ollamafake.ChatRequest) ollamafake.Reply {
	last := req.Messages[len(req.Messages)-1]
	if last.Role == "tool" {
		return ollamafake.Reply{Text: "Thanks, we will call you."}
	}
	if l := leadRE.FindStringSubmatch(last.Content); l != nil {
		return ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "save_lead", Arguments: map[string]any{"name": l[1], "phone": l[2]}}}}
	}
	if strings.Contains(last.Content, "slow") {
		m.mu.Lock()
		g := m.gate
		m.mu.Unlock()
		select {
		case <-g:
		case <-m.t.Context().Done():
		}
	}
	return ollamafake.Reply{Text: "Birthday cakes need 48 hours notice (" + editionRE.FindString(req.Messages[0].Content) + ")."}
}

// hold makes slow questions wait until the returned func is called.
func (m *channelModel) hold() (release func()) {
	g := make(chan struct{})
	m.mu.Lock()
	m.gate = g
	m.mu.Unlock()
	return sync.OnceFunc(func() { close(g) })
}

// channelHub is an in-process hub with the agent baker (a lead form,
// search_knowledge and save_lead) published to it by the CLI.
type channelHub struct {
	fake          *ollamafake.Server
	model         *channelModel
	data, docs    string
	hubDir, token string
	h             *hub.Hub
	srv           *httptest.Server
}

func newChannelHub(t *testing.T) *channelHub {
	c := &channelHub{fake: ollamafake.New(t), model: &channelModel{t: t}, data: t.TempDir(), docs: t.TempDir(), hubDir: t.TempDir()}
	c.fake.OnChat(c.model.reply)
	c.model.hold()() // no slow questions until a test holds them
	write(t, c.docs, "faq-en.md", bakeryEN)
	if r := atoll(t, "--data", c.data, "--ollama", c.fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, c.docs); r.code != 0 {
		t.Fatal(r.stderr)
	}
	lc, _ := llm.New(c.fake.URL)
	h, err := hub.New(hub.Config{Dir: c.hubDir, Model: lc, Embedder: lc, Import: hub.Importer(lc)})
	if err != nil {
		t.Fatal(err)
	}
	c.h = h
	c.srv = httptest.NewServer(h.Handler())
	t.Cleanup(func() { c.srv.Close(); h.Close() })
	c.token = strings.TrimSpace(atoll(t, "--data", c.hubDir, "hub", "token", "create").stdout)
	c.publish(t, "ONE")
	return c
}

// publish saves baker as a new version whose system prompt names edition
// and publishes it.
func (c *channelHub) publish(t *testing.T, edition string) {
	t.Helper()
	form := write(t, c.docs, "form.json", `{"fields": [{"name": "name", "label": "Name", "type": "text", "required": true}, {"name": "phone", "label": "Phone", "type": "phone", "required": true}]}`)
	if r := atoll(t, "--data", c.data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--tools", "search_knowledge,save_lead", "--lead-form", form, "--system", "You answer for the bakery, edition "+edition+"."); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := atoll(t, "--data", c.data, "--ollama", c.fake.URL, "publish", "--agent", "baker", "--to", c.srv.URL, "--token", c.token, "--yes"); r.code != 0 {
		t.Fatalf("publish: %s %s", r.stdout, r.stderr)
	}
}

// addChannel adds a channel of p's kind for baker with the CLI, pointed
// at p, and waits for the running hub to serve it.
func (c *channelHub) addChannel(t *testing.T, p fakes.Platform) (id, webhook string) {
	t.Helper()
	args := []string{"--data", c.hubDir, "hub", "channel", "add", "--agent", "baker", "--kind", string(p.Kind()), "--api-base", p.APIBase(), "--url", c.srv.URL}
	for k, v := range p.Settings() {
		args = append(args, "--set", k+"="+v)
	}
	r := atoll(t, args...)
	if r.code != 0 {
		t.Fatalf("channel add: %d %s %s", r.code, r.stdout, r.stderr)
	}
	for _, l := range strings.Split(r.stdout, "\n") {
		if u, ok := strings.CutPrefix(l, "webhook: "); ok {
			webhook = u
		}
	}
	id = strings.TrimPrefix(webhook, c.srv.URL+"/ch/")
	if webhook == "" || id == webhook || id == "" {
		t.Fatalf("channel add printed no webhook URL on the hub: %q", r.stdout)
	}
	channeltest.WaitFor(t, "the running hub picking up the channel", func() bool { _, ok := c.h.Channels().Get(id); return ok })
	return id, webhook
}

func (c *channelHub) status(id string) channels.Status {
	ch, ok := c.h.Channels().Get(id)
	if !ok {
		return channels.Status{}
	}
	return ch.Status()
}

// leads are baker's leads in the default workspace.
func (c *channelHub) leads(t *testing.T) []contact.Lead {
	t.Helper()
	ws, err := c.h.Store().WorkspaceByName(t.Context(), hub.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	leads, err := c.h.Store().Leads(t.Context(), ws.ID, "baker")
	if err != nil {
		t.Fatal(err)
	}
	return leads
}

// asked counts the model's requests whose last message contains text.
func (c *channelHub) asked(text string) int {
	n := 0
	for _, ch := range c.fake.Chats() {
		if last := ch.Messages[len(ch.Messages)-1]; last.Role == "user" && strings.Contains(last.Content, text) {
			n++
		}
	}
	return n
}

// TestHubChannelsEveryKind: for every channel kind, against its fake
// platform: the channel is added with the CLI while the hub runs; a signed
// (encrypted where the platform has it) message is acknowledged within the
// platform's deadline while the model is still answering, and answered
// exactly once through the send API; the platform's retry is not answered
// again; a forged callback is refused with 401 and neither stored nor
// answered; a lead left on the channel lands in the workspace's leads with
// the channel; `channel list` masks the secrets and `channel rm` stops the
// webhook.
func TestHubChannelsEveryKind(t *testing.T) {
	c := newChannelHub(t)
	if r := atoll(t, "--data", c.hubDir, "hub", "channel", "add", "--agent", "nobody", "--kind", "telegram", "--set", "bot_token=x", "--set", "secret_token=y"); r.code != 1 || !strings.Contains(r.stderr, "publish it first") {
		t.Fatalf("a channel of an agent never published: %d %s", r.code, r.stderr)
	}
	for i, kind := range channels.Kinds() {
		t.Run(string(kind), func(t *testing.T) {
			p := fakes.New(t, kind)
			id, webhook := c.addChannel(t, p)
			fac, _ := channels.Lookup(kind)
			slow := "A slow one on " + string(kind) + ": how much notice do birthday cakes need?"

			release := c.model.hold()
			defer release()
			start := time.Now()
			if st := p.Deliver(t, webhook, 1, slow, false); st != http.StatusOK {
				t.Fatalf("a signed message: %d", st)
			}
			if took := time.Since(start); took > fac.Ack {
				t.Errorf("acknowledged after %v, past %s's %v", took, kind, fac.Ack)
			}
			channeltest.WaitFor(t, "the model to be asked", func() bool { return c.asked(slow) == 1 })
			if n := len(p.Replies()); n != 0 {
				t.Fatalf("%d replies before the model answered", n)
			}
			if st := p.Deliver(t, webhook, 1, slow, false); st != http.StatusOK {
				t.Fatalf("the platform's retry: %d", st)
			}
			if st := p.Deliver(t, webhook, 2, "Forged: what is the wifi password?", true); st != http.StatusUnauthorized {
				t.Fatalf("a forged message: %d, want 401", st)
			}
			release()
			channeltest.WaitFor(t, "the answer through the send API", func() bool { return len(p.Replies()) >= 1 })
			if r := p.Replies()[0]; !strings.Contains(r, "48 hours") {
				t.Fatalf("the reply %q is not the agent's answer", r)
			}

			name, phone := "Ann "+string(kind), fmt.Sprintf("+31 612 345 6%02d", i)
			if st := p.Deliver(t, webhook, 3, "Please call me about a cake: "+name+", "+phone, false); st != http.StatusOK {
				t.Fatalf("a signed message: %d", st)
			}
			channeltest.WaitFor(t, "two answers counted", func() bool { return c.status(id).Answered == 2 })
			st := c.status(id)
			dups := int64(1)
			if p.Pull() {
				dups = 0 // the retried notice pulls nothing new
			}
			if st.Received != 2 || st.Duplicates != dups || st.Rejected != 1 || st.Failed != 0 {
				t.Errorf("status %+v: want 2 received, %d duplicate, 1 rejected", st, dups)
			}
			if r := p.Replies(); len(r) != 2 || !strings.Contains(r[1], "call you") {
				t.Errorf("replies %q: want one per message", r)
			}
			if c.asked(slow) != 1 || c.asked("wifi") != 0 {
				t.Errorf("the model was asked the slow question %d times and the forged one %d times", c.asked(slow), c.asked("wifi"))
			}
			i := slices.IndexFunc(c.leads(t), func(l contact.Lead) bool { return l.Name == name })
			if i < 0 {
				t.Fatalf("no lead %q in %+v", name, c.leads(t))
			}
			if l := c.leads(t)[i]; l.Fields["channel"] != id || !strings.Contains(strings.ReplaceAll(l.Phone, " ", ""), strings.ReplaceAll(phone, " ", "")[1:]) {
				t.Errorf("the lead %+v: want channel %s and phone %s", l, id, phone)
			}

			r := atoll(t, "--data", c.hubDir, "hub", "channel", "list")
			if r.code != 0 || !strings.Contains(r.stdout, id) {
				t.Fatalf("channel list: %d %s %s", r.code, r.stdout, r.stderr)
			}
			// The list shows the counts the hub saved (every second).
			channeltest.WaitFor(t, "channel list --json to show the hub's counts", func() bool {
				r := atoll(t, "--data", c.hubDir, "hub", "channel", "list", "--json")
				var l []listedChannel
				if r.code != 0 || json.Unmarshal([]byte(r.stdout), &l) != nil {
					t.Fatalf("channel list --json: %d %s %s", r.code, r.stdout, r.stderr)
				}
				i := slices.IndexFunc(l, func(x listedChannel) bool { return x.ID == id })
				want := c.status(id)
				return i >= 0 && l[i].Status.Received == want.Received && l[i].Status.Answered == want.Answered && want.Answered >= 2 &&
					l[i].Status.Rejected == want.Rejected && l[i].Status.Duplicates == want.Duplicates && l[i].Status.LastReply.Equal(want.LastReply)
			})
			for _, f := range fac.Fields {
				if v := p.Settings()[f.Key]; f.Secret && v != "" && strings.Contains(r.stdout, v) {
					t.Errorf("channel list shows the secret %s: %s", f.Key, r.stdout)
				}
			}
			if r := atoll(t, "--data", c.hubDir, "hub", "channel", "rm", id); r.code != 0 {
				t.Fatalf("channel rm: %d %s", r.code, r.stderr)
			}
			channeltest.WaitFor(t, "the running hub dropping the channel", func() bool { _, ok := c.h.Channels().Get(id); return !ok })
			if st := p.Deliver(t, webhook, 4, "Still there?", false); st != http.StatusNotFound {
				t.Errorf("a message to a removed channel: %d, want 404", st)
			}
			if n := len(p.Replies()); n != 2 {
				t.Errorf("%d replies after the channel was removed", n)
			}
		})
	}
}

// TestHubChannelAddNamesTheFlag: on the command line a missing setting is
// named with the flag that gives it (the hub's API says it without flags,
// for the window).
func TestHubChannelAddNamesTheFlag(t *testing.T) {
	r := atoll(t, "--data", t.TempDir(), "hub", "channel", "add", "--agent", "baker", "--kind", "telegram", "--set", "bot_token=1:a")
	if r.code != 2 || !strings.Contains(r.stderr, "needs secret_token") || !strings.Contains(r.stderr, "--set secret_token=") {
		t.Fatalf("a missing setting: %d %q", r.code, r.stderr)
	}
}
