package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamafake"
)

// TestSafeEscapesControls: names lose every control and format rune,
// passage text keeps its line breaks, tabs and every script.
func TestSafeEscapesControls(t *testing.T) {
	for in, want := range map[string]string{
		"evil\x1b]0;pwned\x07.md": `evil\x1b]0;pwned\a.md`,
		"a\nb\tc":                 `a\nb\tc`,
		"rtl\u202egpj.exe":        `rtl\u202egpj.exe`,
		"caf\xe9":                 `caf\xe9`,
		"甜屑 bakery/prices.md":     "甜屑 bakery/prices.md",
		"csi\u009b31m":            `csi\u009b31m`,
		`C:\Users\me\doc.md`:      `C:\Users\me\doc.md`,
	} {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"line one\nline\ttwo":       "line one\nline\ttwo",
		"\x1b[2J\x1b[31mred\x1b[0m": `\x1b[2J\x1b[31mred\x1b[0m`,
		"bell\a and del\x7f":        `bell\a and del\x7f`,
		"蛋糕\r\n":                    "蛋糕\\r\n",
	} {
		if got := safeText(in); got != want {
			t.Errorf("safeText(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	s := &safeStream{w: &b}
	for _, tok := range []string{"ca", "ke \x1b", "[2J \xe8\x9b", "\x8b\xe7\xb3\x95"} { // 蛋糕 split across tokens
		s.write(tok)
	}
	s.flush()
	if b.String() != `cake \x1b[2J 蛋糕` {
		t.Errorf("stream: %q", b.String())
	}
}

// TestDocumentTextCannotDriveTheTerminal: a file name and a passage full of
// escape sequences come out of ingest, search, kb docs, ask and agent list
// escaped; --json keeps them (JSON-escaped).
func TestDocumentTextCannotDriveTheTerminal(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	evil := "prices\x1b]0;pwned\x07.md"
	write(t, docs, evil, "# Prices\n\nA chocolate cake costs 38 euros.\x1b[2J\x1b[31m Pay \x9b0m at the counter.\n")
	write(t, docs, "broken\x1b[5m.pdf", "%PDF-1.4 not a pdf")
	fake := ollamafake.New(t)
	var all strings.Builder
	r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs)
	all.WriteString(r.stdout + r.stderr)
	if !strings.Contains(r.stderr, `broken\x1b[5m.pdf`) {
		t.Errorf("the failed file should be named, escaped: %q", r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "search", "--kb", "shop", "chocolate cake")
	all.WriteString(r.stdout + r.stderr)
	if !strings.Contains(r.stdout, `prices\x1b]0;pwned\a.md`) || !strings.Contains(r.stdout, "38 euros") {
		t.Errorf("search should show the name and text escaped: %q", r.stdout)
	}
	r = atoll(t, "--data", data, "kb", "docs", "shop")
	all.WriteString(r.stdout + r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, `prices\x1b]0;pwned\a.md`) {
		t.Errorf("kb docs: %d %q %q", r.code, r.stdout, r.stderr)
	}
	atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel)
	fake.Script(ollamafake.Reply{Tokens: []string{"It costs 38 euros", " [1].\x1b]52;c;", "bWFsaWNl\x07"}}, ollamafake.Reply{JSON: map[string]any{"questions": []string{"Q\x1b[1m?"}}})
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ask", "--agent", "baker", "How much is a chocolate cake?")
	all.WriteString(r.stdout + r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, `prices\x1b]0;pwned\a.md`) || !strings.Contains(r.stdout, `\x1b]52;c;`) {
		t.Errorf("ask: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = atoll(t, "--data", data, "agent", "list")
	all.WriteString(r.stdout + r.stderr)
	if out := all.String(); strings.ContainsAny(out, "\x1b\x07\u009b") {
		t.Errorf("a control character reached the output:\n%q", out)
	}
	r = atoll(t, "--data", data, "kb", "docs", "shop", "--json")
	var rows []docRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("kb docs --json: %v %s", err, r.stdout)
	}
	if !strings.HasSuffix(rows[1].Path, evil) || rows[1].Status != "ok" || rows[1].Passages == 0 || rows[1].Pending != 0 || rows[0].Status != "failed" {
		t.Errorf("kb docs --json keeps the real name and counts: %+v", rows)
	}
}

// TestLongJobsSayWhatTheyDo: off a terminal, ingest prints a line at least
// every progressEvery while one slow embedding batch runs, and the summary
// counts what was embedded, with which model.
func TestLongJobsSayWhatTheyDo(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	for _, n := range []string{"a", "b", "c"} {
		write(t, docs, n+".md", "# "+n+"\n\n"+strings.Repeat("Cakes and bread from the "+n+" oven. ", 40))
	}
	fake := ollamafake.New(t)
	fake.SetEmbedDelay(func([]string) time.Duration { return 400 * time.Millisecond })
	var out, errb bytes.Buffer
	e := newEnv(&out, &errb)
	e.progressEvery = 50 * time.Millisecond
	if code := e.run([]string{"--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs}); code != 0 {
		t.Fatalf("ingest: %d %s", code, errb.String())
	}
	log := errb.String()
	// The job itself is silent while the batch is embedded: the lines come
	// from the timer.
	if n := strings.Count(log, "shop: read 3/3 files"); n < 3 {
		t.Errorf("want a progress line every 50 ms during a 400 ms batch, got %d:\n%s", n, log)
	}
	if !regexp.MustCompile(`shop: embedding (\d+)/(\d+) passages with fake-embed\n`).MatchString(log) {
		t.Errorf("no line for the embedding phase:\n%s", log)
	}
	m := regexp.MustCompile(`(\d+) passages read, (\d+) passages embedded with fake-embed`).FindStringSubmatch(log)
	if m == nil || m[2] == "0" {
		t.Fatalf("the summary should count embedded passages:\n%s", log)
	}

	// A pull says what it does, line by line, off a terminal too.
	fake.Pullable(ollamafake.Model{Name: "new-chat", Capabilities: []string{"completion", "tools"}})
	r := atoll(t, "--ollama", fake.URL, "pull", "new-chat")
	if r.code != 0 || !strings.Contains(r.stderr, "new-chat: pulling manifest\n") || !strings.Contains(r.stderr, "new-chat: pulling ") || !strings.Contains(r.stderr, "new-chat is installed") {
		t.Errorf("pull: %d %q", r.code, r.stderr)
	}

	// Another model for the same knowledge base: refused unless confirmed.
	fake.AddModel(ollamafake.Model{Name: "other-embed", Embedding: true, Capabilities: []string{"embedding"}})
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", "other-embed", docs)
	if r.code != 2 || !strings.Contains(r.stderr, "--reembed") || !strings.Contains(r.stderr, "fake-embed") {
		t.Fatalf("a silent switch of embedding model: %d %q", r.code, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "kb", "list", "--json")
	if !strings.Contains(r.stdout, `"embedModel": "fake-embed"`) {
		t.Fatalf("the refused run changed the model: %s", r.stdout)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", "other-embed", "--reembed", docs)
	if r.code != 0 || !strings.Contains(r.stderr, "Switching") || !strings.Contains(r.stderr, "passages embedded with other-embed") || strings.Contains(r.stderr, " 0 passages embedded") {
		t.Fatalf("confirmed switch: %d %q", r.code, r.stderr)
	}
	// Without --embed-model the knowledge base's own model is kept.
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", docs)
	if r.code != 0 || !strings.Contains(r.stderr, "3 unchanged") || !strings.Contains(r.stderr, "with other-embed") {
		t.Fatalf("re-ingest: %d %q", r.code, r.stderr)
	}
}

// TestWarningsBeforeWastedTime: a model that is not installed, or that
// cannot call the tools an agent needs, is named on create, new and ask,
// with what happens instead and the models that can.
func TestWarningsBeforeWastedTime(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	form := write(t, docs, "form.json.txt", `{"fields": [{"name": "name", "label": "Name", "type": "text", "required": true}]}`)
	fake := ollamafake.New(t)
	fake.AddModel(ollamafake.Model{Name: "plain-chat", ContextLength: 8192, Capabilities: []string{"completion"}})
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs+"/faq-en.md"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := atoll(t, "--data", data, "--ollama", fake.URL, "agent", "create", "baker", "--kb", "shop", "--model", "plain-chat", "--lead-form", form)
	if r.code != 0 || !strings.Contains(r.stderr, "plain-chat cannot call tools") || !strings.Contains(r.stderr, "never save a lead") || !strings.Contains(r.stderr, "fake-chat") {
		t.Fatalf("agent create with a model that cannot call tools: %d %q", r.code, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "leads", "list", "--agent", "baker")
	if !strings.Contains(r.stdout, "It has a lead form, but") || !strings.Contains(r.stdout, "cannot call tools") {
		t.Errorf("leads list should say why no lead comes: %q", r.stdout)
	}
	fake.Script(ollamafake.Reply{Text: "A cake costs 38 euros [1]."})
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ask", "--agent", "baker", "--json", "How much is a chocolate cake?")
	if r.code != 0 || !strings.Contains(r.stderr, "cannot call tools") {
		t.Fatalf("ask should warn: %d %q", r.code, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "agent", "create", "ghost", "--kb", "shop", "--model", "qwen9:70b")
	if r.code != 0 || !strings.Contains(r.stderr, "atoll pull qwen9:70b") {
		t.Fatalf("agent create with a missing model: %d %q", r.code, r.stderr)
	}
	before := len(fake.Chats()) + len(fake.EmbedCalls())
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ask", "--agent", "ghost", "How much is a chocolate cake?")
	if r.code != 1 || !strings.Contains(r.stderr, "atoll pull qwen9:70b") || len(fake.Chats())+len(fake.EmbedCalls()) != before {
		t.Fatalf("ask with a missing model should stop at once: %d %q", r.code, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "agent", "new", "--kb", "shop", "--model", "qwen9:70b", "--yes", "a bakery assistant")
	if r.code != 1 || !strings.Contains(r.stderr, "atoll pull qwen9:70b") {
		t.Fatalf("agent new with a missing model: %d %q", r.code, r.stderr)
	}
	// agent new: a drafted lead form on a model without tools is named before saving.
	fake.Script(ollamafake.Reply{Text: "not json"}, ollamafake.Reply{Text: "still not"})
	r = atoll(t, "--data", data, "--ollama", fake.URL, "agent", "new", "--kb", "shop", "--model", "plain-chat", "--yes", "a customer-service agent for my bakery that takes cake orders")
	if r.code != 0 || !strings.Contains(r.stderr, "plain-chat cannot call tools") || !strings.Contains(r.stdout, "Name:        Bakery assistant\n") {
		t.Fatalf("agent new: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestAgentTestOutput: one progress line per question off a terminal, one
// result per line, and the previous run's time in local time.
func TestAgentTestOutput(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	qs := write(t, docs, "qs.jsonl", `{"q": "How much is a chocolate cake?", "must": ["38"]}`+"\n"+`{"q": "When are you open?", "must": ["Tuesday"]}`+"\n")
	fake := ollamafake.New(t)
	atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs+"/faq-en.md")
	atoll(t, "--data", data, "--ollama", fake.URL, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel)
	fake.OnChat(func(req ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Text: "It costs 38 euros and we open Tuesday [1]."}
	})
	for run := 1; run <= 2; run++ {
		r := atoll(t, "--data", data, "--ollama", fake.URL, "agent", "test", "baker", "--questions", qs)
		if r.code != 0 {
			t.Fatalf("run %d: %d %s", run, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "1/2 questions\n2/2 questions\n") {
			t.Errorf("run %d: progress should be one line per question: %q", run, r.stderr)
		}
		if run == 2 {
			m := regexp.MustCompile(`since the run of (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d): `).FindStringSubmatch(r.stdout)
			if m == nil || strings.Contains(r.stdout, "Z:") {
				t.Fatalf("the previous run should be shown in local time: %q", r.stdout)
			}
			if at, err := time.ParseInLocation("2006-01-02 15:04:05", m[1], time.Local); err != nil || time.Since(at) > time.Hour || time.Since(at) < -time.Minute {
				t.Errorf("previous run at %q is not local now: %v", m[1], err)
			}
		}
	}
}
