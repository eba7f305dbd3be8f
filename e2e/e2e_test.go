// Package e2e drives the real frontend in headless Chromium against the real
// app server (`atoll serve`'s handler) backed by a real Ollama server with a
// tiny generated model. `make test` builds the frontend first and sets
// ATOLL_REQUIRE_E2E=1, so a missing browser or build fails there instead of
// skipping.
package e2e

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"atoll/agent"
	"atoll/app"
	"atoll/frontend"
	"atoll/internal/ollamafake"
	"atoll/internal/ollamatest"
	"atoll/server"
	"atoll/store"
)

func TestMain(m *testing.M) { os.Exit(ollamatest.RunMain(m)) }

func need(t *testing.T, what string) {
	if os.Getenv("ATOLL_REQUIRE_E2E") == "1" {
		t.Fatalf("end-to-end prerequisite missing: %s", what)
	}
	t.Skipf("skipping the browser tests: %s (make test installs and builds everything)", what)
}

func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("ATOLL_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	need(t, "Chromium is not installed")
	return ""
}

type env struct {
	t    *testing.T
	url  string
	data string
	ctx  context.Context
	shot string
}

// start runs the app server and a browser on a fresh data folder. Each seed
// fills that folder BEFORE the app opens it: the running app opens every
// knowledge base in the background two seconds after it starts (pending
// embeddings), and a knowledge base it holds open does not see records
// written through a second store handle. Data written after start can
// therefore show up only in part (on a busy machine 537 of 2000 documents).
func start(t *testing.T, ollamaURL string, seed ...func(data string)) *env {
	t.Helper()
	ui, err := fs.Sub(frontend.Dist, "dist")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(ui, "index.html"); err != nil {
		need(t, "the frontend is not built (run make build)")
	}
	exe := chromium(t)
	data := t.TempDir()
	for _, fill := range seed {
		fill(data)
	}
	broker := server.NewBroker()
	a, err := app.New(app.Config{DataDir: data, OllamaURL: ollamaURL, Version: "e2e"}, broker, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	s := &server.Server{App: a, UI: ui, Upload: filepath.Join(data, "uploads")}
	ts := httptest.NewServer(s.Handler(broker))
	t.Cleanup(ts.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1280, 820),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first run starts the browser; a timeout on that context would stop
	// the whole browser, so steps get their own deadlines (see run).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("Chromium did not start: %v", err)
	}
	shots := filepath.Join("..", "test-artifacts", "screenshots")
	os.MkdirAll(shots, 0o755)
	return &env{t: t, url: ts.URL, data: data, ctx: ctx, shot: shots}
}

// stepDeadline bounds one step of a test. It is generous because the
// machines that run the suite are busy (load 3-8 on 2 cores): a correct build
// finishes each step in seconds, a broken one still fails, only later.
const stepDeadline = 3 * time.Minute

func (e *env) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, stepDeadline)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		html, _ := chromedp.Run(e.ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		e.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		if len(html) > 3000 {
			html = html[:3000]
		}
		e.t.Fatalf("%s: %v\npage: %s", what, err, html)
	}
}

// eval runs a JavaScript expression and returns its value.
func eval[T any](e *env, expr string) T {
	e.t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		e.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (e *env) screenshot(name string) {
	if png, err := chromedp.Run(e.ctx, chromedp.CaptureScreenshot()); err == nil {
		os.WriteFile(filepath.Join(e.shot, name+".png"), png, 0o644)
	}
}

// seedKB writes a knowledge base with the given documents into a data
// folder (for start's seed, before the app runs).
func seedKB(t *testing.T, data, name string, docs ...store.Doc) {
	t.Helper()
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Create(name, ""); err != nil {
		t.Fatal(err)
	}
	kb, err := st.KB(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if err := kb.Put(d); err != nil {
			t.Fatal(err)
		}
	}
}

// seedAgent saves an agent definition into a data folder.
func seedAgent(t *testing.T, data string, d agent.Definition) {
	t.Helper()
	if _, err := agent.NewRepo(filepath.Join(data, "agents")).Save(d); err != nil {
		t.Fatal(err)
	}
}

// waitJS polls until the JavaScript expression is true.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			if ok, err := chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise)(ctx, t); err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(150 * time.Millisecond):
			}
		}
	})
}

func tid(id string) chromedp.CSS { return chromedp.CSS(fmt.Sprintf(`[data-testid="%s"]`, id)) }

// waitText polls until the element's text satisfies ok.
func waitText(sel chromedp.CSS, ok func(string) bool, out *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			if s, err := chromedp.Run(ctx, chromedp.Text(sel, chromedp.NodeVisible)); err == nil && ok(s) {
				if out != nil {
					*out = s
				}
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", sel, ctx.Err())
			case <-time.After(150 * time.Millisecond):
			}
		}
	})
}

const zhDoc = `# 甜屑面包店常见问题

## 蛋糕预订

定制生日蛋糕需要至少提前四十八小时预订。二十厘米巧克力蛋糕售价三十八欧元。

## 安全测试

<script>window.__xss = 1</script>
<img src="x" onerror="window.__xss = 2">
[点我](javascript:window.__xss=3)
`

const enDoc = `# Sweet Crumb Bakery

## Cake orders

Custom birthday cakes need at least 48 hours notice. A 20 cm chocolate cake costs 38 euros.

## Delivery

We deliver within 5 km of the shop for 4 euros.
`

func TestBrowserFlow(t *testing.T) {
	srv := ollamatest.Shared(t)
	e := start(t, srv.URL)
	files := t.TempDir()
	zh := filepath.Join(files, "常见问题.md")
	en := filepath.Join(files, "bakery.md")
	os.WriteFile(zh, []byte(zhDoc), 0o644)
	os.WriteFile(en, []byte(enDoc), 0o644)
	uploads := []string{zh, en}
	if pdf := samplePDF(); pdf != "" {
		uploads = append(uploads, pdf)
	}

	e.run("open", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(tid("nav-knowledge")))
	e.screenshot("knowledge-empty")

	// Settings first: default models for the tiny test server.
	e.run("settings",
		chromedp.Click(tid("nav-settings")),
		chromedp.WaitVisible(tid("settings-language")),
	)
	e.screenshot("settings")

	e.run("create kb",
		chromedp.Click(tid("nav-knowledge")),
		chromedp.WaitVisible(tid("kb-new")),
		chromedp.Click(tid("kb-new")),
		chromedp.WaitVisible(tid("kb-create-name")),
		chromedp.SendKeys(tid("kb-create-name"), "bakery"),
		chromedp.SetValue(tid("kb-create-embed"), srv.EmbedModel),
		chromedp.Click(tid("kb-create-submit")),
		chromedp.WaitVisible(tid("kb-row-bakery")),
		chromedp.Click(tid("kb-row-bakery")),
	)
	var done string
	e.run("upload",
		chromedp.SetUploadFiles(tid("upload-input"), uploads, chromedp.NodeReady),
		waitText(tid("ingest-done"), func(s string) bool { return s != "" }, &done),
	)
	if !strings.Contains(done, fmt.Sprint(len(uploads))) {
		t.Errorf("ingest summary should count %d files ok: %q", len(uploads), done)
	}
	docs := eval[int](e, `document.querySelectorAll('[data-testid="doc-row"]').length`)
	if docs != len(uploads) {
		t.Fatalf("documents listed: %d, want %d", docs, len(uploads))
	}
	e.screenshot("knowledge")

	// The document with script payloads: open its chunks; nothing may run.
	e.run("open chunks",
		chromedp.Click(chromedp.Search(`//*[@data-testid="doc-row"][contains(., "常见问题")]//*[@data-testid="doc-open"]`)),
		chromedp.WaitVisible(tid("chunks-panel")),
	)
	e.screenshot("chunks")
	e.run("close chunks", chromedp.Click(tid("chunks-close")), chromedp.WaitNotPresent(tid("chunks-panel")))

	e.run("search",
		chromedp.SendKeys(tid("kb-search"), "巧克力蛋糕"),
		chromedp.Click(tid("kb-search-submit")),
		chromedp.WaitVisible(tid("search-hit")),
	)
	if hit := eval[string](e, `document.querySelector('[data-testid="search-hit"]').textContent`); !strings.Contains(hit, "常见问题") {
		t.Errorf("the Chinese query's best hit should be the Chinese file: %q", hit)
	}

	// An agent from one sentence, reviewed, then saved.
	e.run("draft agent",
		chromedp.Click(tid("nav-agents")),
		chromedp.WaitVisible(tid("agent-sentence")),
		chromedp.SendKeys(tid("agent-sentence"), "a customer-service agent for my bakery that answers about prices and takes cake orders"),
		chromedp.Click(tid("agent-draft")),
		chromedp.WaitVisible(tid("agent-draft-note")),
	)
	if name := eval[string](e, `document.querySelector('[data-testid="agent-name"]').value`); name == "" {
		t.Fatal("the draft has no name")
	}
	if !eval[bool](e, `!!document.querySelector('[data-testid="agent-lead-form"]') && document.querySelector('[data-testid="agent-tool-save_lead"]').checked`) {
		t.Fatal("a sentence about taking orders should give the draft a lead form and the save_lead tool")
	}
	e.screenshot("agents")
	e.run("save agent",
		// Greedy decoding keeps the random-weight test model's answer the
		// same on every run (at 0.3 it may stop before its first token).
		chromedp.SetValue(tid("agent-temperature"), "0"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`document.querySelector('[data-testid="agent-temperature"]').dispatchEvent(new Event('input', {bubbles: true})), null`)(ctx, t)
			return err
		}),
		chromedp.Click(tid("agent-kb-bakery")),
		chromedp.Click(tid("agent-save")),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid^="agent-row-"]`)),
	)

	// The agent's test set runs from the editor.
	e.run("test set",
		chromedp.WaitVisible(tid("testset-questions")),
		chromedp.SetValue(tid("testset-questions"), `{"q": "How much notice do birthday cakes need?", "source": "bakery.md", "must": ["48"]}`),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`document.querySelector('[data-testid="testset-questions"]').dispatchEvent(new Event('input', {bubbles: true})), null`)(ctx, t)
			return err
		}),
		chromedp.Click(tid("testset-run")),
		waitText(tid("testset-summary"), func(s string) bool { return strings.Contains(s, "retrieval 1/1") }, nil),
	)

	// Ask; the answer streams; a citation opens the side panel.
	var answer string
	e.run("ask",
		chromedp.Click(tid("nav-chat")),
		// The composer is disabled until the agent list has loaded and an
		// agent is chosen (slow on a busy machine); a disabled field takes
		// no keys.
		chromedp.WaitEnabled(tid("chat-input")),
		chromedp.SendKeys(tid("chat-input"), "How much notice do birthday cakes need?"),
		chromedp.WaitEnabled(tid("chat-send")),
		// Enter sends (the keyboard contract), the same path as the Send button.
		chromedp.SendKeys(tid("chat-input"), kb.Enter),
		waitText(tid("answer"), func(s string) bool { return strings.TrimSpace(s) != "" }, &answer),
		chromedp.WaitVisible(tid("source-1")),
	)
	// The tiny test model's vectors are random, so which passage ranks first
	// varies; open the one from the bakery file and check its passage.
	e.run("citation panel",
		chromedp.Click(chromedp.Search(`//button[starts-with(@data-testid, "source-")][contains(., "bakery.md")]`)),
		waitText(tid("cite-panel"), func(s string) bool { return strings.Contains(s, "48 hours") }, nil),
	)
	e.screenshot("chat")

	// A PDF source shows its page, rendered by pdf.js, with the passage marked.
	if eval[bool](e, `!!document.evaluate('//button[starts-with(@data-testid, "source-")][contains(., ".pdf")]', document, null, 9, null).singleNodeValue`) {
		e.run("pdf page",
			chromedp.Click(chromedp.Search(`//button[starts-with(@data-testid, "source-")][contains(., ".pdf")]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="cite-pdf"][data-state="ready"]`)),
		)
		if n := eval[string](e, `document.querySelector('[data-testid="cite-pdf"]').dataset.highlighted`); n == "0" {
			t.Errorf("the PDF page shows no highlighted passage text")
		}
		if h := eval[float64](e, `document.querySelector('[data-testid="cite-pdf"] canvas').getBoundingClientRect().height`); h < 100 {
			t.Errorf("the PDF page is not visible: %.0f px high", h)
		}
		e.screenshot("chat-pdf")
	} else {
		t.Log("no PDF passage was given for this question; the PDF preview was not exercised")
	}

	if xss := eval[any](e, `window.__xss ?? null`); xss != nil {
		t.Fatalf("a document's HTML ran in the page: window.__xss = %v", xss)
	}

	e.run("models", chromedp.Click(tid("nav-models")), chromedp.WaitVisible(tid("ollama-status")))
	e.screenshot("models")

	// Language switches live; theme toggles.
	var nav string
	e.run("language",
		chromedp.Click(tid("nav-settings")),
		chromedp.WaitVisible(tid("settings-language")),
		chromedp.SetValue(tid("settings-language"), "zh-CN"),
		dispatchChange("settings-language"),
		waitText(tid("nav-knowledge"), func(s string) bool { return strings.Contains(s, "知识") }, &nav),
	)
	e.screenshot("settings-zh")
	e.run("theme",
		chromedp.SetValue(tid("settings-theme"), "dark"),
		dispatchChange("settings-theme"),
		waitJS(`document.documentElement.dataset.theme === 'dark'`),
	)
	// The memory switch is saved at once: the server has it without any
	// other click.
	e.run("memory switch",
		chromedp.Click(tid("settings-memory")),
		waitJS(`fetch('/api/call/GetSettings', {method: 'POST', body: '[]'}).then(r => r.json()).then(s => s.memoryOff === true)`),
	)
	e.run("knowledge dark", chromedp.Click(tid("nav-knowledge")), chromedp.WaitVisible(tid("kb-row-bakery")))
	e.screenshot("knowledge-dark-zh")
}

// TestOllamaDownScreen: with no Ollama, the Models screen says what to do.
func TestOllamaDownScreen(t *testing.T) {
	e := start(t, "http://127.0.0.1:9")
	e.run("models",
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(tid("nav-models")),
		chromedp.Click(tid("nav-models")),
		waitText(tid("ollama-fix"), func(s string) bool { return strings.Contains(s, "ollama serve") }, nil),
	)
	e.screenshot("models-ollama-down")
}

// dispatchChange tells the page a select's value changed (SetValue does not).
func dispatchChange(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](fmt.Sprintf(`document.querySelector('[data-testid="%s"]').dispatchEvent(new Event('change', {bubbles: true})), null`, id))(ctx, t)
		return err
	})
}

func samplePDF() string {
	for _, p := range []string{"../ingest/testdata/sample.pdf", "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"} {
		if abs, err := filepath.Abs(p); err == nil {
			if _, err := os.Stat(abs); err == nil {
				return abs
			}
		}
	}
	return ""
}

// TestManyDocumentsStaySmooth: a knowledge base with 2000 documents renders
// only the rows in view, and scrolling reaches the last one.
func TestManyDocumentsStaySmooth(t *testing.T) {
	var docs []store.Doc
	for i := 0; i < 2000; i++ {
		p := fmt.Sprintf("/docs/file%04d.md", i)
		docs = append(docs, store.Doc{Path: p, Name: filepath.Base(p), Hash: p, Status: store.StatusOK, Chunks: []store.Chunk{{Text: "text of " + p}}})
	}
	e := start(t, "http://127.0.0.1:9", func(data string) { seedKB(t, data, "big", docs...) })
	e.run("open big", chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(tid("kb-row-big")), chromedp.Click(tid("kb-row-big")), chromedp.WaitVisible(tid("doc-row")))
	if h := eval[int](e, `document.querySelector('[data-testid="doc-scroll"]').scrollHeight`); h < 2000*49 {
		t.Fatalf("the list scrolls over %d px, less than 2000 rows of 49 px: not every document is in it", h)
	}
	if n := eval[int](e, `document.querySelectorAll('[data-testid="doc-row"]').length`); n > 100 {
		t.Fatalf("%d document rows in the page; only those in view should be", n)
	}
	e.run("scroll to the end",
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`(() => { const s = document.querySelector('[data-testid="doc-scroll"]'); s.scrollTop = s.scrollHeight; s.dispatchEvent(new Event('scroll')); return null; })()`)(ctx, t)
			return err
		}),
		waitText(chromedp.CSS(`[data-testid="doc-row"][data-name="file1999.md"]`), func(s string) bool { return strings.Contains(s, "file1999.md") }, nil),
	)
	if n := eval[int](e, `document.querySelectorAll('[data-testid="doc-row"]').length`); n > 100 {
		t.Fatalf("%d document rows in the page at the end; only those in view should be", n)
	}
}

// TestMemoryList: what an agent remembers is listed on its editor, and can
// be forgotten one by one.
func TestMemoryList(t *testing.T) {
	e := start(t, "http://127.0.0.1:9", func(data string) {
		seedAgent(t, data, agent.Definition{Name: "baker", Model: "m", Memory: true})
		if _, err := agent.NewMemories(filepath.Join(data, "memory")).Add("baker", "local", "", []string{"Prefers sugar-free cakes", "Company: Sweet Crumb"}, time.Now()); err != nil {
			t.Fatal(err)
		}
	})
	e.run("memory list",
		chromedp.Navigate(e.url+"/#/agents"),
		chromedp.WaitVisible(tid("agent-row-baker")),
		chromedp.Click(tid("agent-row-baker")),
		waitText(tid("memory-panel"), func(s string) bool { return strings.Contains(s, "sugar-free") && strings.Contains(s, "Sweet Crumb") }, nil),
		chromedp.Click(chromedp.Search(`//*[@data-testid="memory-fact"][contains(., "sugar-free")]//button[contains(., "Forget")]`)),
		waitText(tid("memory-panel"), func(s string) bool { return !strings.Contains(s, "sugar-free") && strings.Contains(s, "Sweet Crumb") }, nil),
	)
	e.screenshot("memory")
}

// TestOwnToolAsksFirst: a tool of the user's is defined in Settings, enabled
// on an agent, and when the (scripted) model calls it the window shows the
// exact request and runs it only after Allow.
func TestOwnToolAsksFirst(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, `{"in_stock": 12}`)
	}))
	defer target.Close()
	fake := ollamafake.New(t)
	e := start(t, fake.URL, func(data string) {
		seedAgent(t, data, agent.Definition{Name: "shop", Model: ollamafake.DefaultChatModel})
	})
	tool := fmt.Sprintf(`[{"name": "check_stock", "description": "Stock of an item", "method": "GET", "url": "%s/stock?item={item}", "params": [{"name": "item", "required": true}]}]`, target.URL)
	e.run("define the tool",
		chromedp.Navigate(e.url+"/#/settings"),
		chromedp.WaitVisible(tid("settings-tools-json")),
		chromedp.SetValue(tid("settings-tools-json"), tool),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`document.querySelector('[data-testid="settings-tools-json"]').dispatchEvent(new Event('input', {bubbles: true})), null`)(ctx, t)
			return err
		}),
		chromedp.Click(tid("settings-tools-save")),
		chromedp.WaitVisible(tid("settings-tools-saved")),
	)
	e.run("enable it on the agent",
		chromedp.Navigate(e.url+"/#/agents"),
		chromedp.WaitVisible(tid("agent-row-shop")),
		chromedp.Click(tid("agent-row-shop")),
		chromedp.WaitVisible(tid("agent-tool-http-check_stock")),
		chromedp.Click(tid("agent-tool-http-check_stock")),
		chromedp.Click(tid("agent-save")),
		waitText(tid("agent-version"), func(s string) bool { return strings.Contains(s, "2") }, nil),
	)
	fake.Script(
		ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "check_stock", Arguments: map[string]any{"item": "croissant"}}}},
		ollamafake.Reply{Text: "We have 12 croissants."},
	)
	e.run("ask",
		chromedp.Navigate(e.url+"/#/chat"),
		// The composer is disabled until the agent list has loaded and an
		// agent is chosen (slow on a busy machine); a disabled field takes
		// no keys.
		chromedp.WaitEnabled(tid("chat-input")),
		chromedp.SendKeys(tid("chat-input"), "Do you have croissants?"),
		chromedp.WaitEnabled(tid("chat-send")),
		chromedp.SendKeys(tid("chat-input"), kb.Enter),
		waitText(tid("tool-confirm"), func(s string) bool { return strings.Contains(s, "GET "+target.URL+"/stock?item=croissant") }, nil),
	)
	if hits.Load() != 0 {
		t.Fatal("the request ran before the user allowed it")
	}
	e.screenshot("tool-confirm")
	e.run("allow",
		chromedp.Click(tid("tool-allow")),
		waitText(tid("answer"), func(s string) bool { return strings.Contains(s, "12 croissants") }, nil),
	)
	if hits.Load() != 1 {
		t.Fatalf("allowed call made %d times", hits.Load())
	}
}
