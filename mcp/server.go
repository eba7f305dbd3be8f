// Package mcp connects Atoll to the Model Context Protocol both ways: a
// server (NewServer) that lets any MCP client search the user's knowledge
// bases and ask an agent, and a client (Manager) through which agents call
// the tools of MCP servers the user configured. Both use the official Go SDK.
package mcp

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"atoll/agent"
	"atoll/rag"
	"atoll/store"
)

// Retriever searches knowledge bases (knowledge.Searcher satisfies it).
type Retriever interface {
	Retrieve(ctx context.Context, kbs []string, query string, k int) ([]rag.Hit, error)
}

// ServerOptions is what `atoll mcp` serves.
type ServerOptions struct {
	Store     *store.Store
	Retriever Retriever
	// KBs are the knowledge bases offered; every one must exist.
	KBs []string
	// Agent, when set, adds the ask tool, answered by Runner.
	Agent   *agent.Definition
	Runner  *agent.Runner
	Version string
}

// Limits on what a client can ask for: passages per search and the size of
// one document read as a resource.
const (
	maxK             = 20
	maxQuery         = 2000
	maxResourceRunes = 1 << 20
)

// Passage is one search result as MCP clients get it.
type Passage struct {
	KB       string   `json:"kb"`
	File     string   `json:"file"`
	Page     int      `json:"page,omitempty"`
	Headings []string `json:"headings,omitempty"`
	Score    float64  `json:"score"`
	Text     string   `json:"text"`
	URI      string   `json:"uri" jsonschema:"the document as a resource"`
}

// SearchInput is search_knowledge's arguments.
type SearchInput struct {
	Query string `json:"query" jsonschema:"what to look for, in the documents' own words"`
	K     int    `json:"k,omitempty" jsonschema:"how many passages to return (1-20; default 5)"`
}

// SearchOutput is search_knowledge's structured result.
type SearchOutput struct {
	Passages []Passage `json:"passages"`
}

// Document is one entry of list_documents.
type Document struct {
	KB     string `json:"kb"`
	File   string `json:"file"`
	Name   string `json:"name"`
	Format string `json:"format"`
	Pages  int    `json:"pages,omitempty"`
	Chunks int    `json:"chunks"`
	URI    string `json:"uri"`
}

// DocumentsOutput is list_documents' structured result.
type DocumentsOutput struct {
	Documents []Document `json:"documents"`
}

// AskInput is ask's arguments.
type AskInput struct {
	Question string `json:"question" jsonschema:"the question for the agent"`
}

// Citation is one source of an answer.
type Citation struct {
	N    int    `json:"n"`
	File string `json:"file"`
	Page int    `json:"page,omitempty"`
	Text string `json:"text"`
}

// AskOutput is ask's structured result.
type AskOutput struct {
	Answer     string     `json:"answer"`
	Citations  []Citation `json:"citations"`
	NotCovered bool       `json:"notCovered,omitempty"`
}

// DocURI names a document as an MCP resource.
func DocURI(kb, path string) string {
	return "atoll://kb/" + url.PathEscape(kb) + "/" + url.PathEscape(path)
}

func parseDocURI(uri string) (kb, path string, ok bool) {
	rest, ok := strings.CutPrefix(uri, "atoll://kb/")
	if !ok {
		return "", "", false
	}
	k, p, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", false
	}
	kb, err1 := url.PathUnescape(k)
	path, err2 := url.PathUnescape(p)
	return kb, path, err1 == nil && err2 == nil
}

// NewServer builds the MCP server for `atoll mcp`. It only reads: nothing a
// client sends can change a knowledge base or an agent.
func NewServer(opt ServerOptions) (*sdk.Server, error) {
	if len(opt.KBs) == 0 {
		return nil, fmt.Errorf("no knowledge base to serve: name one with --kb NAME or an agent that has one")
	}
	for _, name := range opt.KBs {
		if _, err := opt.Store.KB(name); err != nil {
			return nil, fmt.Errorf("knowledge base %q can't be opened (%v): see `atoll kb list`", name, err)
		}
	}
	if opt.Agent != nil && opt.Runner == nil {
		return nil, fmt.Errorf("an agent needs a runner to answer")
	}
	srv := sdk.NewServer(&sdk.Implementation{Name: "atoll", Title: "Atoll knowledge", Version: opt.Version}, &sdk.ServerOptions{
		Instructions: "Search the user's private documents with search_knowledge and cite file and page. Knowledge bases: " + strings.Join(opt.KBs, ", ") + ".",
	})
	s := &server{opt: opt}
	sdk.AddTool(srv, &sdk.Tool{
		Name:        "search_knowledge",
		Description: "Search the user's documents (knowledge bases: " + strings.Join(opt.KBs, ", ") + "). Returns the best passages with their file, page and score.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true},
	}, s.search)
	sdk.AddTool(srv, &sdk.Tool{
		Name:        "list_documents",
		Description: "List the documents in the knowledge bases, each with its resource URI.",
		Annotations: &sdk.ToolAnnotations{ReadOnlyHint: true},
	}, s.listDocuments)
	if opt.Agent != nil {
		sdk.AddTool(srv, &sdk.Tool{
			Name:        "ask",
			Description: fmt.Sprintf("Ask the agent %q a question; it answers from its documents with numbered citations. %s", opt.Agent.Name, opt.Agent.Description),
		}, s.ask)
	}
	for _, d := range s.documents() {
		srv.AddResource(&sdk.Resource{URI: d.URI, Name: d.Name, Title: d.File, MIMEType: "text/plain",
			Description: fmt.Sprintf("%s in the knowledge base %s", d.File, d.KB)}, s.readResource)
	}
	return srv, nil
}

type server struct{ opt ServerOptions }

func (s *server) search(ctx context.Context, _ *sdk.CallToolRequest, in SearchInput) (*sdk.CallToolResult, SearchOutput, error) {
	q := strings.TrimSpace(in.Query)
	if q == "" {
		return nil, SearchOutput{}, fmt.Errorf("the query is empty: say what to look for")
	}
	if r := []rune(q); len(r) > maxQuery {
		q = string(r[:maxQuery])
	}
	k := in.K
	if k <= 0 {
		k = 5
	}
	k = min(k, maxK)
	hits, err := s.opt.Retriever.Retrieve(ctx, s.opt.KBs, q, k)
	if err != nil {
		return nil, SearchOutput{}, fmt.Errorf("the search failed: %v", err)
	}
	out := SearchOutput{Passages: []Passage{}}
	var b strings.Builder
	for i, h := range hits {
		p := Passage{KB: h.KB, File: h.Source, Page: h.Page, Headings: h.Headings, Score: h.Score, Text: strings.TrimSpace(h.Text), URI: DocURI(h.KB, h.Source)}
		out.Passages = append(out.Passages, p)
		fmt.Fprintf(&b, "[%d] %s", i+1, filepath.Base(p.File))
		if p.Page > 0 {
			fmt.Fprintf(&b, ", page %d", p.Page)
		}
		fmt.Fprintf(&b, " (score %.3f, %s)\n%s\n\n", p.Score, p.File, p.Text)
	}
	if len(hits) == 0 {
		b.WriteString("No passage matches. Try other words.")
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: strings.TrimSpace(b.String())}}}, out, nil
}

func (s *server) documents() []Document {
	var out []Document
	for _, name := range s.opt.KBs {
		kb, err := s.opt.Store.KB(name)
		if err != nil {
			continue
		}
		for _, d := range kb.Docs() {
			if d.Status != store.StatusOK {
				continue
			}
			full, _ := kb.Doc(d.Path)
			out = append(out, Document{KB: name, File: d.Path, Name: d.Name, Format: d.Format, Pages: d.Pages, Chunks: len(full.Chunks), URI: DocURI(name, d.Path)})
		}
	}
	return out
}

func (s *server) listDocuments(context.Context, *sdk.CallToolRequest, struct{}) (*sdk.CallToolResult, DocumentsOutput, error) {
	out := DocumentsOutput{Documents: s.documents()}
	if out.Documents == nil {
		out.Documents = []Document{}
	}
	var b strings.Builder
	for _, d := range out.Documents {
		fmt.Fprintf(&b, "%s (%s, %s", d.File, d.KB, d.Format)
		if d.Pages > 0 {
			fmt.Fprintf(&b, ", %d pages", d.Pages)
		}
		fmt.Fprintf(&b, ") %s\n", d.URI)
	}
	if len(out.Documents) == 0 {
		b.WriteString("The knowledge bases have no documents yet.")
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: strings.TrimSpace(b.String())}}}, out, nil
}

func (s *server) readResource(_ context.Context, req *sdk.ReadResourceRequest) (*sdk.ReadResourceResult, error) {
	uri := req.Params.URI
	kbName, path, ok := parseDocURI(uri)
	if !ok || !contains(s.opt.KBs, kbName) {
		return nil, sdk.ResourceNotFoundError(uri)
	}
	kb, err := s.opt.Store.KB(kbName)
	if err != nil {
		return nil, sdk.ResourceNotFoundError(uri)
	}
	d, ok := kb.Doc(path)
	if !ok || d.Status != store.StatusOK {
		return nil, sdk.ResourceNotFoundError(uri)
	}
	return &sdk.ReadResourceResult{Contents: []*sdk.ResourceContents{{URI: uri, MIMEType: "text/plain", Text: documentText(d)}}}, nil
}

// documentText rebuilds a document's text from its chunks, dropping the
// overlap neighbouring chunks share and marking pages, up to maxResourceRunes.
func documentText(d store.Doc) string {
	chunks := append([]store.Chunk(nil), d.Chunks...)
	sort.SliceStable(chunks, func(i, j int) bool { return chunks[i].Start < chunks[j].Start })
	var b strings.Builder
	covered, page, n := 0, 0, 0
	for _, c := range chunks {
		r := []rune(c.Text)
		if skip := covered - c.Start; skip > 0 {
			if skip >= len(r) {
				continue
			}
			r = r[skip:]
		}
		if c.Page > 0 && c.Page != page {
			page = c.Page
			fmt.Fprintf(&b, "\n\n--- page %d ---\n\n", page)
		} else if b.Len() > 0 && c.Start >= covered {
			b.WriteString("\n\n")
		}
		if n+len(r) > maxResourceRunes {
			b.WriteString(string(r[:maxResourceRunes-n]))
			b.WriteString("\n\n[… the rest of this document is left out: it is longer than 1M characters]")
			break
		}
		n += len(r)
		b.WriteString(string(r))
		covered = max(covered, c.End)
	}
	return strings.TrimSpace(b.String())
}

func (s *server) ask(ctx context.Context, _ *sdk.CallToolRequest, in AskInput) (*sdk.CallToolResult, AskOutput, error) {
	q := strings.TrimSpace(in.Question)
	if q == "" {
		return nil, AskOutput{}, fmt.Errorf("the question is empty")
	}
	if r := []rune(q); len(r) > maxQuery {
		q = string(r[:maxQuery])
	}
	// Ephemeral: a client's questions leave no conversations or memories.
	ans, err := s.opt.Runner.AskWith(ctx, *s.opt.Agent, agent.AskOptions{Ephemeral: true}, q, nil)
	if err != nil {
		return nil, AskOutput{}, fmt.Errorf("the agent could not answer: %v", err)
	}
	out := AskOutput{Answer: ans.Answer, Citations: []Citation{}, NotCovered: ans.NotCovered}
	var b strings.Builder
	b.WriteString(ans.Answer)
	for _, c := range ans.Citations {
		if !c.Used {
			continue
		}
		out.Citations = append(out.Citations, Citation{N: c.N, File: c.Source, Page: c.Page, Text: c.Text})
		fmt.Fprintf(&b, "\n[%d] %s", c.N, c.Source)
		if c.Page > 0 {
			fmt.Fprintf(&b, ", page %d", c.Page)
		}
	}
	return &sdk.CallToolResult{Content: []sdk.Content{&sdk.TextContent{Text: b.String()}}}, out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
