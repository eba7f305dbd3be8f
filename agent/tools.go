package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"atoll/llm"
	"atoll/rag"
)

// The built-in tools an agent can enable in Definition.Tools. save_lead is
// offered when the agent has a lead form.
const (
	ToolSearchKnowledge = "search_knowledge"
	ToolSaveLead        = "save_lead"
	ToolCurrentDatetime = "current_datetime"
	ToolCalculate       = "calculate"
)

// KnownTools lists the tool names Definition.Tools accepts.
var KnownTools = []string{ToolSearchKnowledge, ToolSaveLead, ToolCurrentDatetime, ToolCalculate}

// MaxToolSteps bounds the rounds of tool calls in one turn. After the last
// round the model is asked once more without tools, so it has to answer.
const MaxToolSteps = 4

// maxGiven bounds the passages one turn may collect through searches, so a
// model searching in a loop cannot push the question out of its context.
const maxGiven = 24

// ToolUse records one tool call of a turn, for the interface and tests.
type ToolUse struct {
	Name string `json:"name"` // the function the model called
	// Tool is the tool as Definition.Tools names it ("calculate",
	// "http:NAME", "mcp:SERVER/TOOL"), empty for a tool the agent lacks;
	// test sets check calls by it.
	Tool      string         `json:"tool,omitempty"`
	Arguments map[string]any `json:"arguments"`
	Result    string         `json:"result"`
	Error     bool           `json:"error"` // refused, malformed or failed
}

// enabledTools is what the model is offered: the agent's known tools, with
// save_lead only when there is a form to fill and search_knowledge only
// when there is something to search.
func enabledTools(def Definition) []string {
	var out []string
	for _, name := range def.Tools {
		if name == ToolSaveLead && def.LeadForm == nil || name == ToolSearchKnowledge && len(def.KBs) == 0 {
			continue
		}
		if (slices.Contains(KnownTools, name) || strings.HasPrefix(name, HTTPToolPrefix) || validMCPTool(name)) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if def.LeadForm != nil && !slices.Contains(out, ToolSaveLead) {
		out = append(out, ToolSaveLead)
	}
	return out
}

// turn is the state of one answer that may call tools: the passages given
// so far (numbered across calls, they become the answer's citations) and
// what was called.
type turn struct {
	r       *Runner
	def     Definition
	conv    string
	enabled []string
	given   []rag.Hit
	uses    []ToolUse
	lead    *Lead
	leads   int // save_lead calls so far
	// dryRun validates save_lead without storing (test-set runs must not
	// fill the leads list with test people).
	dryRun bool
}

func (t *turn) has(name string) bool { return slices.Contains(t.enabled, name) }

func (t *turn) specs() []llm.Tool {
	var out []llm.Tool
	for _, name := range t.enabled {
		switch name {
		case ToolSearchKnowledge:
			out = append(out, llm.Tool{Name: name,
				Description: "Search the agent's documents. Returns numbered passages to cite as [n].",
				Parameters:  json.RawMessage(`{"type":"object","properties":{"query":{"type":"string","description":"what to look for, in the documents' words"}},"required":["query"]}`)})
		case ToolCalculate:
			out = append(out, llm.Tool{Name: name,
				Description: "Evaluate an arithmetic expression with + - * / ^ and parentheses, e.g. (38 * 3) / 4.",
				Parameters:  json.RawMessage(`{"type":"object","properties":{"expression":{"type":"string","description":"the arithmetic expression"}},"required":["expression"]}`)})
		case ToolCurrentDatetime:
			out = append(out, llm.Tool{Name: name,
				Description: "The current date, time, weekday and time zone.",
				Parameters:  json.RawMessage(`{"type":"object","properties":{}}`)})
		case ToolSaveLead:
			out = append(out, llm.Tool{Name: name,
				Description: "Save the user's contact details after they have confirmed them.",
				Parameters:  t.def.LeadForm.schema()})
		default:
			if h, ok := t.httpTool(strings.TrimPrefix(name, HTTPToolPrefix)); ok {
				out = append(out, h.spec())
			} else if m, ok := t.mcpSpec(name); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// instructions are added to the agent's own system prompt.
func (t *turn) instructions(lang string, prefetched bool) string {
	var b []string
	switch {
	case t.has(ToolSearchKnowledge):
		b = append(b, "Before answering a question about the documents, search them with the search_knowledge tool. "+
			"Its results are numbered passages: after each statement that uses one, cite its number in square brackets, like [1] or [2][3]. "+
			"If the passages do not contain the answer, say that the documents don't cover it; do not guess or make it up.")
	case prefetched:
		b = append(b, "Answer questions about the documents using only the numbered passages given with the question. "+
			"After each statement that uses a passage, cite its number in square brackets, like [1] or [2][3]. "+
			"If the passages do not contain the answer, say that the documents don't cover it; do not guess or make it up.")
	}
	if t.has(ToolCalculate) {
		b = append(b, "Use the calculate tool for arithmetic instead of working it out yourself.")
	}
	if t.has(ToolCurrentDatetime) {
		b = append(b, "Use the current_datetime tool when the answer depends on today's date or the time.")
	}
	if t.has(ToolSaveLead) {
		b = append(b, t.def.LeadForm.instruction())
	}
	if lang == "zh" {
		b = append(b, "用中文回答。")
	} else {
		b = append(b, "Answer in English.")
	}
	return strings.Join(b, "\n")
}

// call runs one tool call. Whatever goes wrong — a tool the agent has not
// enabled, missing or mistyped arguments, a failing search — becomes the
// tool's result for the model to act on, never an error of the turn.
func (t *turn) call(ctx context.Context, tc llm.ToolCall) string {
	use := ToolUse{Name: tc.Name, Tool: t.toolID(tc.Name), Arguments: tc.Arguments}
	res, err := t.run(ctx, tc)
	if err != nil {
		use.Error = true
		res = "Error: " + err.Error()
	}
	use.Result = res
	t.uses = append(t.uses, use)
	return res
}

// toolID maps the function name the model called to the agent's tool, as
// run resolves it.
func (t *turn) toolID(fn string) string {
	if h, ok := t.httpTool(fn); ok {
		return HTTPToolPrefix + h.Name
	}
	if server, tool, ok := t.mcpTool(fn); ok {
		return MCPToolPrefix + server + "/" + tool
	}
	if t.has(fn) {
		return fn
	}
	return ""
}

func (t *turn) run(ctx context.Context, tc llm.ToolCall) (string, error) {
	if h, ok := t.httpTool(tc.Name); ok {
		return t.callHTTP(ctx, h, tc.Arguments)
	}
	if server, tool, ok := t.mcpTool(tc.Name); ok {
		return t.callMCP(ctx, server, tool, tc.Arguments)
	}
	if !t.has(tc.Name) {
		return "", fmt.Errorf("the tool %q is not available to this agent; answer without it", tc.Name)
	}
	switch tc.Name {
	case ToolSearchKnowledge:
		q, err := stringArg(tc.Arguments, "query")
		if err != nil {
			return "", err
		}
		return t.search(ctx, q)
	case ToolCalculate:
		expr, err := stringArg(tc.Arguments, "expression")
		if err != nil {
			return "", err
		}
		v, err := Calculate(expr)
		if err != nil {
			return "", fmt.Errorf("couldn't calculate %q: %v", expr, err)
		}
		return expr + " = " + FormatNumber(v), nil
	case ToolCurrentDatetime:
		now := t.r.now()
		return fmt.Sprintf("%s, %s (time zone %s)", now.Weekday(), now.Format("2006-01-02 15:04"), now.Format("MST -07:00")), nil
	case ToolSaveLead:
		return t.saveLead(ctx, tc.Arguments)
	}
	return "", fmt.Errorf("the tool %q is not available to this agent; answer without it", tc.Name)
}

func stringArg(args map[string]any, name string) (string, error) {
	v, ok := args[name]
	if !ok {
		return "", fmt.Errorf("the argument %q is missing", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the argument %q must be a string, not %T", name, v)
	}
	if s = strings.TrimSpace(s); s == "" {
		return "", fmt.Errorf("the argument %q is empty", name)
	}
	return s, nil
}

func (t *turn) search(ctx context.Context, q string) (string, error) {
	if len(t.def.KBs) == 0 || t.r.Retriever == nil {
		return "", fmt.Errorf("this agent has no documents to search")
	}
	if len(t.given) >= maxGiven {
		return "", fmt.Errorf("enough passages were found already (%d); answer from them", len(t.given))
	}
	hits, err := t.r.Retriever.Retrieve(ctx, t.def.KBs, q, t.r.K)
	if err != nil {
		return "", fmt.Errorf("the search failed: %v", err)
	}
	if len(hits) == 0 {
		return "No passage matches. Try other words, or tell the user the documents don't cover it.", nil
	}
	return "Passages (cite by number):\n\n" + t.number(hits), nil
}

// number gives each hit its citation number, continuing from earlier calls;
// a passage already given keeps its number.
func (t *turn) number(hits []rag.Hit) string {
	var blocks []string
	for _, h := range hits {
		n := slices.IndexFunc(t.given, func(g rag.Hit) bool { return samePassage(g, h) }) + 1
		if n == 0 {
			if len(t.given) >= maxGiven {
				break
			}
			if r := []rune(h.Text); len(r) > 1500 {
				h.Text = string(r[:1500]) + "…"
			}
			t.given = append(t.given, h)
			n = len(t.given)
		}
		blocks = append(blocks, passageText(n, t.given[n-1]))
	}
	return strings.Join(blocks, "\n\n")
}

func samePassage(a, b rag.Hit) bool {
	if a.ID != "" || b.ID != "" {
		return a.ID == b.ID
	}
	return a.Source == b.Source && a.Start == b.Start && a.End == b.End
}

func passageText(n int, h rag.Hit) string {
	label := filepath.Base(strings.ReplaceAll(h.Source, "\\", "/"))
	if h.Page > 0 {
		label += fmt.Sprintf(", page %d", h.Page)
	}
	if len(h.Headings) > 0 {
		label += " — " + strings.Join(h.Headings, " > ")
	}
	return fmt.Sprintf("[%d] (%s)\n%s", n, label, strings.TrimSpace(h.Text))
}

func (t *turn) saveLead(ctx context.Context, args map[string]any) (string, error) {
	values, err := t.def.LeadForm.check(args)
	if err != nil {
		return "", err
	}
	if t.dryRun {
		return "Saved. Thank the user and tell them they will be contacted.", nil
	}
	t.leads++
	var ld Lead
	var merged bool
	switch {
	case t.r.SaveLead != nil:
		ld, merged, err = t.r.SaveLead(ctx, t.def.Name, t.conv, t.leads, *t.def.LeadForm, values, t.r.now())
	case t.r.Leads != nil:
		ld, merged, err = t.r.Leads.Save(t.def.Name, t.conv, *t.def.LeadForm, values, t.r.now())
	default:
		return "", fmt.Errorf("leads cannot be saved here")
	}
	if err != nil {
		return "", fmt.Errorf("the lead could not be stored: %v", err)
	}
	t.lead = &ld
	if merged {
		return "Saved: the details were added to this person's existing contact. Thank the user.", nil
	}
	return "Saved. Thank the user and tell them they will be contacted.", nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// EnabledTools lists the tools the agent would offer its model: those it
// names that can work (save_lead needs a lead form, search_knowledge a
// knowledge base), plus save_lead whenever it has a lead form.
func (d Definition) EnabledTools() []string { return enabledTools(d) }
