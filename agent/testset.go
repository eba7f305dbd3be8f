package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"atoll/llm"
	"atoll/store"
)

// TestQuestion is one line of a test set (JSONL).
type TestQuestion struct {
	Q       string   `json:"q"`
	Source  string   `json:"source,omitempty"` // a file name expected among the answer's passages
	Must    []string `json:"must,omitempty"`   // phrases the answer must contain (any case)
	MustNot []string `json:"must_not,omitempty"`
	// Tools must each be called while answering, NoTools must not; both
	// name tools as Definition.Tools does ("mcp:everything/echo").
	Tools   []string `json:"tools,omitempty"`
	NoTools []string `json:"no_tools,omitempty"`
}

// TestResult is how one question fared.
type TestResult struct {
	Q       string   `json:"q"`
	Answer  string   `json:"answer"`
	Sources []string `json:"sources"` // file names of the passages given
	// Retrieval and AnswerOK are "pass", "fail" or "" (nothing to check).
	Retrieval string   `json:"retrieval"`
	AnswerOK  string   `json:"answerCheck"`
	Missing   []string `json:"missing,omitempty"`   // must phrases not found
	Forbidden []string `json:"forbidden,omitempty"` // must_not phrases found
	// Called are the tools called while answering (as Definition.Tools
	// names them, each once, refused calls included); ToolsMissing and
	// ToolsForbidden break the question's tools and no_tools checks, which
	// count in AnswerOK.
	Called         []string `json:"called"`
	ToolsMissing   []string `json:"toolsMissing,omitempty"`
	ToolsForbidden []string `json:"toolsForbidden,omitempty"`
	Error          string   `json:"error,omitempty"`
	// Change compares with the previous run of the same question:
	// "better", "worse", "same" or "new".
	Change  string  `json:"change"`
	Seconds float64 `json:"seconds"`
}

// TestRun is one run of a test set, stored as
// DATA/agents/<name>/tests/<time>.json.
type TestRun struct {
	ID              string       `json:"id"` // the file name without .json
	Agent           string       `json:"agent"`
	Version         int          `json:"version"`
	Model           string       `json:"model"`
	Started         time.Time    `json:"started"`
	Seconds         float64      `json:"seconds"`
	Previous        string       `json:"previous,omitempty"` // the run compared with
	RetrievalPassed int          `json:"retrievalPassed"`
	RetrievalTotal  int          `json:"retrievalTotal"`
	AnswerPassed    int          `json:"answerPassed"`
	AnswerTotal     int          `json:"answerTotal"`
	Better          int          `json:"better"`
	Worse           int          `json:"worse"`
	Results         []TestResult `json:"results"`
}

// ParseTestSet reads a test set: one JSON object a line; blank lines and
// lines starting with # or // are skipped.
func ParseTestSet(r io.Reader) ([]TestQuestion, error) {
	var out []TestQuestion
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "//") {
			continue
		}
		var q TestQuestion
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&q); err != nil {
			return nil, fmt.Errorf("line %d of the test set: %v (expected {\"q\": ..., \"source\": ..., \"must\": [...], \"must_not\": [...], \"tools\": [...], \"no_tools\": [...]})", n, err)
		}
		if strings.TrimSpace(q.Q) == "" {
			return nil, fmt.Errorf("line %d of the test set has no question (\"q\")", n)
		}
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("the test set has no questions")
	}
	return out, nil
}

// TestRuns stores test runs under DATA/agents/<name>/tests.
type TestRuns struct{ dir string }

// NewTestRuns uses dir (DATA/agents, the agent definitions' folder).
func NewTestRuns(dir string) *TestRuns { return &TestRuns{dir: dir} }

func (s *TestRuns) folder(agent string) (string, error) {
	if !agentName.MatchString(agent) {
		return "", fmt.Errorf("%q: %w", agent, ErrNotFound)
	}
	return filepath.Join(s.dir, agent, "tests"), nil
}

// List returns the ids of an agent's runs, oldest first.
func (s *TestRuns) List(agent string) ([]string, error) {
	dir, err := s.folder(agent)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // ids are UTC times, so this is time order
	return ids, nil
}

// Get loads one run.
func (s *TestRuns) Get(agent, id string) (TestRun, error) {
	dir, err := s.folder(agent)
	if err != nil {
		return TestRun{}, err
	}
	if strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return TestRun{}, fmt.Errorf("test run %q not found", id)
	}
	b, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		return TestRun{}, fmt.Errorf("test run %q of %q not found", id, agent)
	}
	var run TestRun
	if err := json.Unmarshal(b, &run); err != nil {
		return TestRun{}, fmt.Errorf("test run %q of %q is damaged: %w", id, agent, err)
	}
	return run, nil
}

// Run asks every question as def without saving conversations, scores
// retrieval and answer separately, compares each question with the
// previous run, and stores the run. progress (may be nil) is called after
// each question. A question whose answer fails (a stream cut short) is
// scored as failed and the run goes on; Ollama unreachable, the model
// missing or a cancelled context stop the run without storing it.
func (s *TestRuns) Run(ctx context.Context, r *Runner, def Definition, qs []TestQuestion, progress func(done, total int)) (TestRun, error) {
	dir, err := s.folder(def.Name)
	if err != nil {
		return TestRun{}, err
	}
	start := r.now().UTC()
	run := TestRun{Agent: def.Name, Version: def.Version, Model: def.Model, Started: start, Results: []TestResult{}}
	for i, q := range qs {
		t0 := time.Now()
		ans, err := r.AskWith(ctx, def, AskOptions{Ephemeral: true}, q.Q, nil)
		if ctx.Err() != nil {
			return TestRun{}, ctx.Err()
		}
		if errors.Is(err, llm.ErrUnavailable) || errors.Is(err, llm.ErrModelNotFound) {
			// Every other question would fail the same way: a run that
			// scores the setup, not the agent, is not worth storing.
			return TestRun{}, err
		}
		res := TestResult{Q: q.Q, Answer: ans.Answer, Sources: []string{}, Called: []string{}, Seconds: time.Since(t0).Seconds()}
		if err != nil {
			res.Error = llm.Sentence(err)
		}
		for _, c := range ans.Citations {
			name := filepath.Base(strings.ReplaceAll(c.Source, "\\", "/"))
			if !slices.Contains(res.Sources, name) {
				res.Sources = append(res.Sources, name)
			}
		}
		for _, u := range ans.Tools {
			id := u.Tool
			if id == "" {
				id = u.Name // a tool the agent does not have: still a call
			}
			if !slices.Contains(res.Called, id) {
				res.Called = append(res.Called, id)
			}
		}
		score(&res, q)
		if res.Retrieval != "" {
			run.RetrievalTotal++
			if res.Retrieval == "pass" {
				run.RetrievalPassed++
			}
		}
		if res.AnswerOK != "" {
			run.AnswerTotal++
			if res.AnswerOK == "pass" {
				run.AnswerPassed++
			}
		}
		run.Results = append(run.Results, res)
		if progress != nil {
			progress(i+1, len(qs))
		}
	}
	run.Seconds = time.Since(start).Seconds()

	ids, err := s.List(def.Name)
	if err != nil {
		return TestRun{}, err
	}
	var prev map[string]TestResult
	if len(ids) > 0 {
		if p, err := s.Get(def.Name, ids[len(ids)-1]); err == nil {
			run.Previous = p.ID
			prev = map[string]TestResult{}
			for _, pr := range p.Results {
				prev[pr.Q] = pr
			}
		}
	}
	for i := range run.Results {
		res := &run.Results[i]
		old, ok := prev[res.Q]
		switch {
		case !ok:
			res.Change = "new"
		case points(*res) > points(old):
			res.Change = "better"
			run.Better++
		case points(*res) < points(old):
			res.Change = "worse"
			run.Worse++
		default:
			res.Change = "same"
		}
	}

	run.ID = start.Format("20060102T150405.000000000Z")
	if len(ids) > 0 && run.ID <= ids[len(ids)-1] {
		run.ID = ids[len(ids)-1] + "-1" // a clock that went back must not reorder runs
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return TestRun{}, fmt.Errorf("couldn't create the test runs folder of %q: %w", def.Name, err)
	}
	b, _ := json.MarshalIndent(run, "", "  ")
	path := filepath.Join(dir, run.ID+".json")
	if err := store.WriteFileAtomic(path, b, 0o600); err != nil {
		return TestRun{}, fmt.Errorf("couldn't store the test run of %q: %w", def.Name, err)
	}
	return run, nil
}

// score checks retrieval (the expected file among the passages) and the
// answer (must / must_not phrases, case-insensitive) separately.
func score(res *TestResult, q TestQuestion) {
	if want := strings.TrimSpace(q.Source); want != "" {
		res.Retrieval = "fail"
		base := strings.ToLower(filepath.Base(strings.ReplaceAll(want, "\\", "/")))
		for _, s := range res.Sources {
			if strings.ToLower(s) == base {
				res.Retrieval = "pass"
			}
		}
	}
	if len(q.Must) == 0 && len(q.MustNot) == 0 && len(q.Tools) == 0 && len(q.NoTools) == 0 {
		return
	}
	for _, tl := range q.Tools {
		if !slices.Contains(res.Called, tl) {
			res.ToolsMissing = append(res.ToolsMissing, tl)
		}
	}
	for _, tl := range q.NoTools {
		if slices.Contains(res.Called, tl) {
			res.ToolsForbidden = append(res.ToolsForbidden, tl)
		}
	}
	low := strings.ToLower(res.Answer)
	for _, m := range q.Must {
		if !strings.Contains(low, strings.ToLower(m)) {
			res.Missing = append(res.Missing, m)
		}
	}
	for _, m := range q.MustNot {
		if strings.Contains(low, strings.ToLower(m)) {
			res.Forbidden = append(res.Forbidden, m)
		}
	}
	res.AnswerOK = "pass"
	if len(res.Missing) > 0 || len(res.Forbidden) > 0 || len(res.ToolsMissing) > 0 || len(res.ToolsForbidden) > 0 || res.Error != "" {
		res.AnswerOK = "fail"
	}
}

// points orders results for the comparison: a pass counts one, and within
// a failing answer fewer broken phrases count as better.
func points(r TestResult) float64 {
	p := 0.0
	if r.Retrieval == "pass" {
		p++
	}
	if r.AnswerOK == "pass" {
		p++
	}
	return p - 0.01*float64(len(r.Missing)+len(r.Forbidden)+len(r.ToolsMissing)+len(r.ToolsForbidden))
}

// testSetFile is an agent's own test set: the questions its last
// `agent test` ran, kept beside its versions so publishing can run them first.
func testSetFile(agentsDir, name string) string {
	return filepath.Join(agentsDir, name, "testset.jsonl")
}

// SaveTestSet keeps data (JSON lines) as the agent's test set.
func SaveTestSet(agentsDir, name string, data []byte) error {
	if !agentName.MatchString(name) {
		return ErrNotFound
	}
	return os.WriteFile(testSetFile(agentsDir, name), data, 0o600)
}

// LoadTestSet returns the agent's test set, or nil when it has none.
func LoadTestSet(agentsDir, name string) ([]TestQuestion, error) {
	if !agentName.MatchString(name) {
		return nil, ErrNotFound
	}
	f, err := os.Open(testSetFile(agentsDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseTestSet(f)
}

// Summary is one line for people: what passed and what changed.
func (r TestRun) Summary() string {
	s := fmt.Sprintf("retrieval %d/%d, answers %d/%d", r.RetrievalPassed, r.RetrievalTotal, r.AnswerPassed, r.AnswerTotal)
	if r.Previous != "" {
		s += fmt.Sprintf("; %d better, %d worse than the last run", r.Better, r.Worse)
	}
	return s
}

// TestSetJSONL writes questions as a test set, one JSON object a line.
func TestSetJSONL(qs []TestQuestion) (string, error) {
	var b strings.Builder
	for _, q := range qs {
		line, err := json.Marshal(q)
		if err != nil {
			return "", err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String(), nil
}
