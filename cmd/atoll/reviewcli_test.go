package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"atoll/hub"
	"atoll/internal/ollamafake"
	"atoll/internal/testbin"
	"atoll/llm"
	"atoll/review"
)

// review pull's usage errors, kept beside the table in cli_test.go.
func init() {
	usageErrors["review pull"] = [][]string{{}, {"--agent"}, {"--agent", "baker", "extra"}, {"--agent", "../x"}}
}

// TestReviewPull: a customer votes an answer of the published agent down
// with a comment; review pull brings it back once, a second pull brings
// nothing, a changed comment replaces the item, an up-vote drops it; the
// errors a user meets are sentences.
func TestReviewPull(t *testing.T) {
	fake := ollamafake.New(t)
	data, docs, hubDir := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, docs, "faq-en.md", bakeryEN)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--tools", "search_knowledge"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := atoll(t, "--data", data, "review", "pull", "--agent", "baker"); r.code != 1 || !strings.Contains(r.stderr, "not published") || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
		t.Fatalf("pull before publishing: %d %q", r.code, r.stderr)
	}
	c, _ := llm.New(fake.URL)
	h, err := hub.New(hub.Config{Dir: hubDir, Model: c, Embedder: c, Import: hub.Importer(c)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	tok := strings.TrimSpace(atoll(t, "--data", hubDir, "hub", "token", "create", "--label", "test").stdout)
	if r := atoll(t, "--data", data, "--ollama", fake.URL, "publish", "--agent", "baker", "--to", srv.URL, "--token", tok); r.code != 0 {
		t.Fatalf("publish: %d %s %s", r.code, r.stdout, r.stderr)
	}

	ask := func(q string) (conv, msg string) {
		t.Helper()
		// The agent searches its knowledge first, so the answer counts as
		// covered and only a vote down puts it in the queue.
		fake.Script(
			ollamafake.Reply{ToolCalls: []ollamafake.ToolCall{{Name: "search_knowledge", Arguments: map[string]any{"query": "chocolate cake"}}}},
			ollamafake.Reply{Text: "It costs 40 euros [1]."},
		)
		b, _ := json.Marshal(map[string]any{"model": "baker", "messages": []map[string]string{{"role": "user", "content": q}}})
		res, err := http.Post(srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct {
			Atoll struct{ Conversation, Message string }
		}
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Atoll.Conversation == "" {
			t.Fatalf("chat: %v %+v", err, out)
		}
		return out.Atoll.Conversation, out.Atoll.Message
	}
	vote := func(conv, msg string, rating int, comment string) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"conversation": conv, "message": msg, "rating": rating, "comment": comment})
		res, err := http.Post(srv.URL+"/api/feedback?agent=baker", "application/json", bytes.NewReader(b))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("vote: %v %v", err, res.Status)
		}
		res.Body.Close()
	}
	pull := func() (review.PullResult, []review.Item) {
		t.Helper()
		r := atoll(t, "--data", data, "review", "pull", "--agent", "baker", "--json")
		var res review.PullResult
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil {
			t.Fatalf("review pull: %d %s %s", r.code, r.stdout, r.stderr)
		}
		items, err := review.NewQueue(review.QueueDir(data)).Items("baker")
		if err != nil {
			t.Fatal(err)
		}
		return res, items
	}

	conv, msg := ask("How much is a chocolate cake?")
	conv2, msg2 := ask("Do you deliver?")
	vote(conv, msg, -1, "Wrong: it is 38 euros.")
	vote(conv2, msg2, 1, "")
	r := atoll(t, "--data", data, "review", "pull", "--agent", "baker")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "1 new item for baker (1 voted down, 0 not covered); see them in the window's Review screen." {
		t.Fatalf("review pull: %d %q %s", r.code, r.stdout, r.stderr)
	}
	items, _ := review.NewQueue(review.QueueDir(data)).Items("baker")
	if len(items) != 1 || items[0].Comment != "Wrong: it is 38 euros." || items[0].Question != "How much is a chocolate cake?" ||
		items[0].Origin != review.Hub || items[0].Answer != "It costs 40 euros [1]." || len(items[0].Passages) == 0 || !items[0].Passages[0].Used {
		t.Fatalf("pulled items: %+v", items)
	}
	if res, items := pull(); res.New != 0 || res.Updated != 0 || len(items) != 1 {
		t.Fatalf("a second pull: %+v %d items", res, len(items))
	}
	vote(conv, msg, -1, "Wrong: a chocolate cake is 38 euros.")
	conv3, msg3 := ask("Are you open on Sunday?")
	vote(conv3, msg3, -1, "")
	if res, items := pull(); res.New != 1 || res.Updated != 1 || len(items) != 2 || items[1].Comment != "Wrong: a chocolate cake is 38 euros." {
		t.Fatalf("after a changed comment: %+v %+v", res, items)
	}
	vote(conv, msg, 1, "")
	if res, items := pull(); res.Resolved != 1 || len(items) != 1 || items[0].Conversation != conv3 {
		t.Fatalf("after an up-vote: %+v %+v", res, items)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "review", "baker.jsonl")); strings.Count(string(b), "\n") != 4 {
		t.Fatalf("the queue file:\n%s", b)
	}

	// The errors: a token the hub refuses, a hub that is gone.
	os.WriteFile(filepath.Join(data, "publish.json"), []byte(`{"url": "`+srv.URL+`", "token": "atl_wrong"}`), 0o600)
	if r := atoll(t, "--data", data, "review", "pull", "--agent", "baker"); r.code != 1 || !strings.Contains(r.stderr, "refused the publisher token") {
		t.Fatalf("a refused token: %d %s", r.code, r.stderr)
	}
	os.WriteFile(filepath.Join(data, "publish.json"), []byte(`{"url": "http://127.0.0.1:9", "token": "`+tok+`"}`), 0o600)
	if r := atoll(t, "--data", data, "review", "pull", "--agent", "baker"); r.code != 1 || !strings.Contains(r.stderr, "couldn't reach the hub at http://127.0.0.1:9") {
		t.Fatalf("an unreachable hub: %d %s", r.code, r.stderr)
	}
}

// TestReviewPullKilled: `kill -9` of a review pull between two pages keeps
// the items it wrote, and the next pull neither loses nor repeats any.
func TestReviewPullKilled(t *testing.T) {
	const pages, per = 3, 50
	page := func(n int) review.Page {
		var p review.Page
		for i := range per {
			p.Items = append(p.Items, review.Item{ID: review.ItemID(fmt.Sprintf("c%d", n), fmt.Sprint(i+1)), Origin: review.Hub, Agent: "baker",
				Question: fmt.Sprintf("Question %d of page %d?", i, n), Answer: "An answer.", Rating: -1, At: time.Now()})
		}
		p.Next = fmt.Sprint(n + 1)
		return p
	}
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := 0
		fmt.Sscan(r.URL.Query().Get("since"), &n)
		if n == 1 {
			// The second page waits until the first pull is killed.
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		p := review.Page{Next: r.URL.Query().Get("since")}
		if n < pages {
			p = page(n)
		}
		json.NewEncoder(w).Encode(p)
	}))
	defer srv.Close()
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "publish.json"), []byte(`{"url": "`+srv.URL+`", "token": "atl_x"}`), 0o600)

	cmd := exec.Command(testbin.Atoll(t), "--data", data, "review", "pull", "--agent", "baker")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(data, "review", "baker.cursor")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(cursor); err == nil && strings.Contains(string(b), `"1"`) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the first page was never saved")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	if state, _ := cmd.Process.Wait(); state.Success() {
		t.Fatal("the pull finished before it was killed")
	}
	once.Do(func() { close(release) })
	if items, err := review.NewQueue(review.QueueDir(data)).Items("baker"); err != nil || len(items) != per {
		t.Fatalf("after the kill: %d items (%v), want the first page's %d", len(items), err, per)
	}
	r := atoll(t, "--data", data, "review", "pull", "--agent", "baker", "--json")
	var res review.PullResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.New != per*(pages-1) || res.Total != per*pages {
		t.Fatalf("the pull after the kill: %d %s %s", r.code, r.stdout, r.stderr)
	}
	b, _ := os.ReadFile(filepath.Join(data, "review", "baker.jsonl"))
	if n := strings.Count(string(b), "\n"); n != per*pages {
		t.Fatalf("%d lines for %d items", n, per*pages)
	}
}
