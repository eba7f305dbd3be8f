package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"atoll/internal/ollamafake"
	"atoll/internal/testbin"
	"atoll/mcp"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.CleanUp()
	os.Exit(code)
}

// runAtoll runs the built command to prepare a data folder.
func runAtoll(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(testbin.Atoll(t), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("atoll %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// bakery makes a data folder with the knowledge base "shop" (a five-page
// PDF price list and a Markdown FAQ) and the agent "baker" over it.
func bakery(t *testing.T, fake *ollamafake.Server) string {
	t.Helper()
	data, docs := t.TempDir(), t.TempDir()
	pdf, err := os.ReadFile("../knowledge/testdata/five-pages.pdf")
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(docs, "prices.pdf"), pdf, 0o644))
	must(t, os.WriteFile(filepath.Join(docs, "faq.md"), []byte("# Opening hours\n\nWe are closed on Mondays. Birthday cakes need three days' notice.\n"), 0o644))
	runAtoll(t, "--data", data, "--ollama", fake.URL, "ingest", "--kb", "shop", "--embed-model", ollamafake.DefaultEmbedModel, docs)
	runAtoll(t, "--data", data, "--ollama", fake.URL, "agent", "create", "baker", "--kb", "shop", "--model", ollamafake.DefaultChatModel, "--system", "You are the bakery's assistant.")
	return data
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestServeOverStdio runs `atoll mcp` as a subprocess and drives it with
// the Go SDK's own client over its stdin and stdout, as Claude Desktop does.
func TestServeOverStdio(t *testing.T) {
	fake := ollamafake.New(t)
	data := bakery(t, fake)
	fake.Script(ollamafake.Reply{Text: "A brioche costs 5 euros [1]."})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.Command(testbin.Atoll(t), "--data", data, "--ollama", fake.URL, "mcp", "--kb", "shop", "--agent", "baker")
	cmd.Stderr = &stderr
	client := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer cs.Close()

	tools, err := cs.ListTools(ctx, nil)
	must(t, err)
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "ask,list_documents,search_knowledge" {
		t.Fatalf("tools = %v", names)
	}

	// search_knowledge: passages with file, page and score.
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "search_knowledge", Arguments: map[string]any{"query": "brioche price", "k": 3}})
	must(t, err)
	if res.IsError {
		t.Fatalf("search failed: %v", text(res))
	}
	var found mcp.SearchOutput
	remarshal(t, res.StructuredContent, &found)
	if len(found.Passages) == 0 || len(found.Passages) > 3 {
		t.Fatalf("passages = %+v", found.Passages)
	}
	top := found.Passages[0]
	if filepath.Base(top.File) != "prices.pdf" || top.Page != 3 || top.Score <= 0 || !strings.Contains(top.Text, "brioche 5 euros") || top.KB != "shop" {
		t.Fatalf("top passage = %+v", top)
	}
	if !strings.Contains(text(res), "prices.pdf, page 3") {
		t.Fatalf("text content lacks the citation: %s", text(res))
	}

	// An empty query is the tool's error, for the model to see.
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "search_knowledge", Arguments: map[string]any{"query": " "}})
	must(t, err)
	if !res.IsError || !strings.Contains(text(res), "empty") {
		t.Fatalf("empty query: error=%v %s", res.IsError, text(res))
	}

	// list_documents and resources agree.
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "list_documents", Arguments: map[string]any{}})
	must(t, err)
	var docs mcp.DocumentsOutput
	remarshal(t, res.StructuredContent, &docs)
	if len(docs.Documents) != 2 {
		t.Fatalf("documents = %+v", docs.Documents)
	}
	resources, err := cs.ListResources(ctx, nil)
	must(t, err)
	if len(resources.Resources) != 2 {
		t.Fatalf("resources = %+v", resources.Resources)
	}
	var pdfURI string
	for _, d := range docs.Documents {
		if d.Name == "prices.pdf" {
			pdfURI = d.URI
			if d.Pages != 5 {
				t.Errorf("prices.pdf pages = %d", d.Pages)
			}
		}
	}
	read, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: pdfURI})
	must(t, err)
	body := read.Contents[0].Text
	for _, want := range []string{"--- page 1 ---", "croissant 2 euros", "--- page 5 ---", "cake 38 euros"} {
		if !strings.Contains(body, want) {
			t.Fatalf("resource text lacks %q:\n%s", want, body)
		}
	}
	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: mcp.DocURI("shop", "/etc/passwd")}); err == nil {
		t.Fatal("reading a path that is not a document worked")
	}
	if _, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: mcp.DocURI("other", docs.Documents[0].File)}); err == nil {
		t.Fatal("reading from a knowledge base that is not served worked")
	}

	// ask: the agent answers with its citation.
	res, err = cs.CallTool(ctx, &sdk.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "How much is a brioche?"}})
	must(t, err)
	if res.IsError {
		t.Fatalf("ask failed: %s", text(res))
	}
	var ans mcp.AskOutput
	remarshal(t, res.StructuredContent, &ans)
	if ans.Answer != "A brioche costs 5 euros [1]." || len(ans.Citations) != 1 || ans.Citations[0].N != 1 || filepath.Base(ans.Citations[0].File) == "" {
		t.Fatalf("answer = %+v", ans)
	}
	if !strings.Contains(text(res), "[1] ") {
		t.Fatalf("ask text lacks the citation list: %s", text(res))
	}
	// The question reached the model with the passages.
	chats := fake.Chats()
	if len(chats) == 0 || !strings.Contains(string(chats[len(chats)-1].Raw), "brioche 5 euros") {
		t.Fatalf("the model did not get the passage")
	}
	// Nothing was written: asking over MCP leaves no conversation.
	if entries, _ := os.ReadDir(filepath.Join(data, "conversations")); len(entries) != 0 {
		t.Fatalf("ask stored %d conversations", len(entries))
	}
}

// TestServeRefusesUnknownKB: a knowledge base that does not exist is a
// sentence on stderr and exit code 2, before any protocol starts.
func TestServeRefusesUnknownKB(t *testing.T) {
	cmd := exec.Command(testbin.Atoll(t), "--data", t.TempDir(), "mcp", "--kb", "nothing")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nothing") || strings.Contains(string(out), "goroutine") {
		t.Fatalf("err=%v out=%s", err, out)
	}
}

func text(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func remarshal(t *testing.T, from, to any) {
	t.Helper()
	b, err := json.Marshal(from)
	must(t, err)
	must(t, json.Unmarshal(b, to))
}
