package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/internal/ollamatest"
)

func TestMain(m *testing.M) { os.Exit(ollamatest.RunMain(m)) }

type result struct {
	code           int
	stdout, stderr string
}

func atoll(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return result{code, out.String(), errb.String()}
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const bakeryEN = `# Sweet Crumb Bakery FAQ

## Opening hours

We are open Tuesday to Sunday from 7 am to 6 pm. We are closed on Mondays.

## Cake orders

Custom birthday cakes need at least 48 hours notice. A 20 cm chocolate cake costs 38 euros.
`

const bakeryZH = `# 甜屑面包店常见问题

## 营业时间

我们周二至周日早上七点到晚上六点营业，周一休息。

## 蛋糕预订

定制生日蛋糕需要至少提前四十八小时预订。二十厘米巧克力蛋糕售价三十八欧元。
`

func TestUsage(t *testing.T) {
	if r := atoll(t); r.code != 2 || !strings.Contains(r.stdout, "Commands:") {
		t.Fatalf("no args: code %d, out %q", r.code, r.stdout)
	}
	if r := atoll(t, "--help"); r.code != 0 {
		t.Fatalf("--help: code %d", r.code)
	}
	if r := atoll(t, "frobnicate"); r.code != 2 {
		t.Fatalf("unknown command: code %d", r.code)
	}
	data := t.TempDir()
	if r := atoll(t, "--data", data, "ingest", "somefile"); r.code != 2 || !strings.Contains(r.stderr, "--kb") {
		t.Fatalf("ingest without --kb: code %d, stderr %q", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "search", "--kb", "x"); r.code != 2 {
		t.Fatalf("search without query: code %d", r.code)
	}
	if r := atoll(t, "--data", data, "ask", "--agent", "a"); r.code != 2 {
		t.Fatalf("ask without question: code %d", r.code)
	}
	for _, cmd := range []string{"ingest", "search", "ask", "eval", "serve"} {
		r := atoll(t, cmd, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "--data") {
			t.Errorf("%s --help: code %d, stdout %q", cmd, r.code, r.stdout)
		}
	}
}

// TestIngestBadFilesAndPending: one bad file fails alone (exit 1, named on
// stderr); with Ollama unreachable the text is stored and searchable at once,
// embeddings are pending, and a later run with Ollama up fills them in.
func TestIngestBadFilesAndPending(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	write(t, docs, "faq-zh.md", bakeryZH)
	write(t, docs, "empty.txt", "")
	write(t, docs, "broken.pdf", "%PDF-1.4\nthis is not really a pdf")
	write(t, docs, "logo.bmp", "BM")
	write(t, docs, "old.tar.gz", "x")
	write(t, docs, "older.gz", "x")

	r := atoll(t, "--data", data, "--ollama", "http://127.0.0.1:9", "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (two bad files); stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"empty.txt", "broken.pdf", "2 ok, 2 failed", "Embeddings pending",
		"3 other files in the folders were left out: not a type Atoll reads (.gz ×2, .bmp ×1)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Count(r.stderr, "Embeddings pending") != 1 {
		t.Errorf("the pending notice should be one line:\n%s", r.stderr)
	}

	// Lexical search works with Ollama down.
	r = atoll(t, "--data", data, "--ollama", "http://127.0.0.1:9", "search", "--kb", "shop", "--json", "--k", "3", "chocolate cake price")
	if r.code != 0 {
		t.Fatalf("search: %d %s", r.code, r.stderr)
	}
	var hits []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil {
		t.Fatalf("search --json is not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(hits) == 0 || !strings.HasSuffix(hits[0]["source"].(string), "faq-en.md") || !strings.Contains(hits[0]["text"].(string), "38 euros") {
		t.Fatalf("best hit should be the English FAQ's cake passage: %v", hits)
	}
	for _, k := range []string{"source", "page", "text", "score"} {
		if _, ok := hits[0][k]; !ok {
			t.Errorf("hit lacks %q: %v", k, hits[0])
		}
	}
	r = atoll(t, "--data", data, "search", "--kb", "shop", "--json", "巧克力蛋糕多少钱")
	if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil || len(hits) == 0 || !strings.HasSuffix(hits[0]["source"].(string), "faq-zh.md") {
		t.Fatalf("Chinese query should find the Chinese FAQ: %v %s", err, r.stdout)
	}

	// Filter by source: only that file's passages.
	r = atoll(t, "--data", data, "search", "--kb", "shop", "--json", "--source", "faq-zh.md", "cake 蛋糕")
	if err := json.Unmarshal([]byte(r.stdout), &hits); err != nil || len(hits) == 0 {
		t.Fatalf("search --source: %v %s %s", err, r.stdout, r.stderr)
	}
	for _, h := range hits {
		if !strings.HasSuffix(h["source"].(string), "faq-zh.md") {
			t.Fatalf("--source let another file through: %v", h["source"])
		}
	}
	if r := atoll(t, "--data", data, "search", "--kb", "shop", "--source", "missing.md", "cake"); r.code != 1 || !strings.Contains(r.stderr, "no document matches") {
		t.Fatalf("unknown --source: %d %s", r.code, r.stderr)
	}

	// Ollama back: the next run embeds what was pending and skips unchanged files.
	fake := ollamafake.New(t)
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", docs)
	if !strings.Contains(r.stderr, "2 unchanged") || strings.Contains(r.stderr, "Embeddings pending") {
		t.Fatalf("second run should skip unchanged files and embed everything:\n%s", r.stderr)
	}
	r = atoll(t, "--data", data, "kb", "list", "--json")
	var kbs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &kbs); err != nil || len(kbs) != 1 {
		t.Fatalf("kb list --json: %v %s", err, r.stdout)
	}
	if kbs[0]["pending"].(float64) != 0 || kbs[0]["docs"].(float64) != 4 || kbs[0]["failed"].(float64) != 2 {
		t.Fatalf("kb list: %v", kbs[0])
	}

	// A changed file is replaced, a deleted one removed (folder source).
	write(t, docs, "faq-en.md", strings.ReplaceAll(bakeryEN, "38 euros", "41 euros"))
	os.Remove(filepath.Join(docs, "faq-zh.md"))
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", docs)
	if !strings.Contains(r.stderr, "1 removed") {
		t.Fatalf("deleted file should be removed:\n%s", r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", fake.URL, "search", "--kb", "shop", "--json", "chocolate cake price")
	if !strings.Contains(r.stdout, "41 euros") || strings.Contains(r.stdout, "38 euros") {
		t.Fatalf("changed file should be re-read:\n%s", r.stdout)
	}

	if r := atoll(t, "--data", data, "kb", "rm", "shop"); r.code != 0 {
		t.Fatalf("kb rm: %d %s", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "kb", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("after rm: %s", r.stdout)
	}
}

// TestAskContract drives ask --json with a scripted model: every passage given
// is listed in order, `used` marks the cited ones, and an invented citation
// number is dropped from the answer.
func TestAskContract(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	fake := ollamafake.New(t)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatalf("ingest: %d %s", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--system", "You are the bakery's assistant."); r.code != 0 {
		t.Fatalf("agent create: %d %s", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "create", "ghost", "--kb", "nope", "--model", "m"); r.code == 0 {
		t.Fatalf("agent create with a missing knowledge base should fail")
	}
	r := atoll(t, "--data", data, "agent", "list", "--json")
	if !strings.Contains(r.stdout, `"name": "baker"`) {
		t.Fatalf("agent list: %s", r.stdout)
	}
	// History: a second save, then restore the first.
	atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--system", "A different prompt.")
	if r := atoll(t, "--data", data, "agent", "versions", "baker"); !strings.Contains(r.stdout, "v2") || !strings.Contains(r.stdout, "v1") {
		t.Fatalf("versions: %s", r.stdout)
	}
	if r := atoll(t, "--data", data, "agent", "restore", "baker", "--version", "1"); r.code != 0 || !strings.Contains(r.stderr, "as version 3") {
		t.Fatalf("restore: %d %s", r.code, r.stderr)
	}
	fake.Script(
		ollamafake.Reply{Text: "A 20 cm chocolate cake costs 38 euros [1]. See also [9]."},
		ollamafake.Reply{JSON: map[string]any{"questions": []string{"How early must I order?", "Do you deliver?", "Are you open on Mondays?"}}},
	)
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ask", "--agent", "baker", "--json", "How much is a chocolate cake?")
	if r.code != 0 {
		t.Fatalf("ask: %d %s", r.code, r.stderr)
	}
	var out struct {
		Answer    string `json:"answer"`
		Citations []struct {
			N      int    `json:"n"`
			Source string `json:"source"`
			Page   int    `json:"page"`
			Text   string `json:"text"`
			Used   bool   `json:"used"`
		} `json:"citations"`
		Followups []string `json:"followups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("ask --json: %v\n%s", err, r.stdout)
	}
	if strings.Contains(out.Answer, "[9]") || !strings.Contains(out.Answer, "[1]") {
		t.Errorf("invented citation should be dropped, real one kept: %q", out.Answer)
	}
	if len(out.Citations) == 0 || out.Citations[0].N != 1 || !out.Citations[0].Used || !strings.HasSuffix(out.Citations[0].Source, "faq-en.md") {
		t.Fatalf("citations: %+v", out.Citations)
	}
	for i, c := range out.Citations {
		if c.N != i+1 || c.Text == "" {
			t.Errorf("citation %d: %+v", i, c)
		}
		if i > 0 && c.Used {
			t.Errorf("only [1] was cited: %+v", c)
		}
	}
	if len(out.Followups) != 3 {
		t.Errorf("followups: %v", out.Followups)
	}
	// The model received the numbered passages.
	reqs := fake.Chats()
	if len(reqs) == 0 || !strings.Contains(reqs[0].Messages[len(reqs[0].Messages)-1].Content+reqs[0].Messages[0].Content, "[1]") {
		t.Errorf("prompt lacks numbered passages")
	}

	// Not covered: nothing relevant, no model call, an honest answer.
	before := len(fake.Chats())
	r = atoll(t, "--data", data, "--ollama", fake.URL, "ask", "--agent", "baker", "--json", "What is the airspeed velocity of an unladen swallow?")
	if r.code != 0 || !strings.Contains(strings.ToLower(r.stdout), "document") {
		t.Fatalf("not-covered answer: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if len(fake.Chats()) != before {
		t.Errorf("a question the documents do not cover should not reach the model")
	}

	// Ollama down: a sentence that says what to do.
	r = atoll(t, "--data", data, "--ollama", "http://127.0.0.1:9", "ask", "--agent", "baker", "How much is a chocolate cake?")
	if r.code != 1 || !strings.Contains(r.stderr, "ollama serve") {
		t.Fatalf("ask with Ollama down: %d %q", r.code, r.stderr)
	}
}

// TestRealOllama runs the command line against a real Ollama server with a
// tiny generated model: real embeddings, real streaming.
func TestRealOllama(t *testing.T) {
	srv := ollamatest.Shared(t)
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	write(t, docs, "faq-zh.md", bakeryZH)
	r := atoll(t, "--data", data, "--ollama", srv.URL, "ingest", "--kb", "shop", "--embed-model", srv.EmbedModel, docs)
	if r.code != 0 || strings.Contains(r.stderr, "pending") {
		t.Fatalf("ingest against real Ollama: %d\n%s", r.code, r.stderr)
	}
	r = atoll(t, "--data", data, "kb", "list", "--json")
	if !strings.Contains(r.stdout, `"pending": 0`) {
		t.Fatalf("all chunks should be embedded: %s", r.stdout)
	}
	r = atoll(t, "--data", data, "--ollama", srv.URL, "search", "--kb", "shop", "--json", "birthday cake notice")
	if r.code != 0 || !strings.Contains(r.stdout, "48 hours") {
		t.Fatalf("hybrid search: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", srv.ChatModel); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// Greedy decoding: the tiny model's weights are random, so only a
	// temperature of 0 makes its (gibberish) answer the same on every run.
	repo := agent.NewRepo(filepath.Join(data, "agents"))
	def, _ := repo.Get("baker")
	def.Temperature = 0
	if _, err := repo.Save(def); err != nil {
		t.Fatal(err)
	}
	r = atoll(t, "--data", data, "--ollama", srv.URL, "ask", "--agent", "baker", "--json", "How much notice do birthday cakes need?")
	if r.code != 0 {
		t.Fatalf("ask: %d %s", r.code, r.stderr)
	}
	var out struct {
		Answer    string            `json:"answer"`
		Citations []json.RawMessage `json:"citations"`
		Followups []string          `json:"followups"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if out.Answer == "" || len(out.Citations) == 0 || out.Followups == nil {
		t.Fatalf("answer %q, %d citations, followups %v", out.Answer, len(out.Citations), out.Followups)
	}
	// Streaming mode prints the tokens as they come.
	r = atoll(t, "--data", data, "--ollama", srv.URL, "ask", "--agent", "baker", "How much notice do birthday cakes need?")
	if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
		t.Fatalf("streamed ask: %d %q %s", r.code, r.stdout, r.stderr)
	}
	// A model that is not installed: the sentence says how to get it.
	// It is said when the agent is saved, and again, at once, on ask.
	if r := atoll(t, "--data", data, "--ollama", srv.URL, "agent", "create", "nomodel", "--kb", "shop", "--model", "not-installed-model"); r.code != 0 || !strings.Contains(r.stderr, "atoll pull not-installed-model") {
		t.Fatalf("agent create with a missing model: %d %q", r.code, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", srv.URL, "ask", "--agent", "nomodel", "How much notice do birthday cakes need?")
	if r.code != 1 || !strings.Contains(r.stderr, "atoll pull not-installed-model") || r.stdout != "" {
		t.Fatalf("missing model: %d %q", r.code, r.stderr)
	}
}

// TestAgentNew drafts the bakery agent from one sentence with a scripted
// model and saves it with --yes; an invalid draft twice gives the template.
func TestAgentNew(t *testing.T) {
	data, docs := t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	fake := ollamafake.New(t)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatal(r.stderr)
	}
	fake.Script(ollamafake.Reply{JSON: map[string]any{
		"name": "Crumb Orders", "description": "Answers bakery questions and takes cake orders.",
		"system":      "You are the friendly assistant of Sweet Crumb Bakery. Answer from the documents and cite [n].",
		"opening":     "Hi! Want to order a cake?",
		"starters":    []string{"What cakes do you sell?", "How much is a birthday cake?", "When are you open?"},
		"lead_fields": []map[string]any{{"name": "name", "label": "Name", "type": "text", "required": true}, {"name": "phone", "label": "Phone", "type": "phone", "required": true}},
	}})
	r := atoll(t, "--data", data, "--ollama", fake.URL, "agent", "new", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--yes", "a customer-service agent for my bakery that answers about prices and takes cake orders")
	if r.code != 0 || !strings.Contains(r.stdout, "Lead form:") || !strings.Contains(r.stderr, `Saved agent "Crumb Orders"`) {
		t.Fatalf("agent new: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = atoll(t, "--data", data, "agent", "list", "--json")
	if !strings.Contains(r.stdout, `"save_lead"`) || !strings.Contains(r.stdout, `"phone"`) {
		t.Fatalf("the saved agent should carry its lead form and tool: %s", r.stdout)
	}
	fake.Script(ollamafake.Reply{Text: "no"}, ollamafake.Reply{Text: "still no"})
	r = atoll(t, "--data", data, "--ollama", fake.URL, "agent", "new", "--model", ollamafake.DefaultChatModel, "--yes", "为我的面包店做一个接受蛋糕预订的客服")
	if r.code != 0 || !strings.Contains(r.stderr, "模板") || !strings.Contains(r.stdout, "姓名") {
		t.Fatalf("fallback template: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestModelsAndPull: the model list (with the GPU line) and a pull against
// the real Ollama test server, which cannot reach the registry here.
func TestModelsAndPull(t *testing.T) {
	srv := ollamatest.Shared(t)
	data := t.TempDir()
	r := atoll(t, "--data", data, "--ollama", srv.URL, "models")
	if r.code != 0 || !strings.Contains(r.stdout, "tiny") || !strings.Contains(r.stdout, "FITS GPU") {
		t.Fatalf("models: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = atoll(t, "--data", data, "--ollama", srv.URL, "models", "--json")
	if !strings.Contains(r.stdout, `"gpu"`) || !strings.Contains(r.stdout, `"capabilities"`) {
		t.Fatalf("models --json: %s", r.stdout)
	}
	r = atoll(t, "--data", data, "--ollama", srv.URL, "pull", "atoll-test/no-such-model-7f3a")
	if r.code != 1 || !strings.Contains(r.stderr, "GGUF") {
		t.Fatalf("offline pull should say how to import a GGUF file: %d %s", r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "--ollama", "http://127.0.0.1:9", "models"); r.code != 1 || !strings.Contains(r.stderr, "ollama serve") {
		t.Fatalf("models with Ollama down: %d %s", r.code, r.stderr)
	}
}
