package publish

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ollama/ollama/parser"
	"gopkg.in/yaml.v3"

	"atoll/agent"
	"atoll/store"
)

func TestModelfileQuoting(t *testing.T) {
	prompts := []string{
		"Plain prompt.",
		`Say """I do not know""" when unsure.`,
		"Ends with a quote: \"yes\"",
		`"Starts with a quote`,
		`""`,
		"Four \"\"\"\" quotes\nand a second line\twith a tab",
		"Windows\r\nline ends and a trailing space ",
		`Triple at the end """`,
	}
	for _, p := range prompts {
		def := agent.Definition{Name: "Helper", Model: "qwen2.5:7b", System: p, Opening: p, Temperature: 0.3, NumCtx: 8192}
		text, _, err := Modelfile(def, "atoll test", false)
		if err != nil {
			t.Fatal(err)
		}
		mf, err := parser.ParseFile(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%q: Ollama cannot parse:\n%s\n%v", p, text, err)
		}
		got := map[string]string{}
		for _, c := range mf.Commands {
			got[c.Name] = c.Args
		}
		want, _ := modelfileString(p)
		want = strings.TrimSuffix(strings.TrimPrefix(want, `"""`), `"""`)
		if got["model"] != "qwen2.5:7b" || got["temperature"] != "0.3" || got["num_ctx"] != "8192" ||
			got["system"] != want || got["message"] != "assistant: "+want {
			t.Errorf("%q: parsed back as %q", p, got)
		}
		if !strings.Contains(p, `"""`) && !strings.Contains(p, "\r") && got["system"] != p {
			t.Errorf("%q changed to %q", p, got["system"])
		}
	}
}

func TestModelfileRefusesKnowledge(t *testing.T) {
	def := agent.Definition{Name: "Helper", Model: "m", KBs: []string{"manuals"}}
	if _, _, err := Modelfile(def, "", false); err == nil || !strings.Contains(err.Error(), "--without-knowledge") {
		t.Fatalf("got %v", err)
	}
	text, warnings, err := Modelfile(def, "", true)
	if err != nil || !strings.Contains(text, "FROM m\n") || len(warnings) == 0 {
		t.Fatalf("%q %v %v", text, warnings, err)
	}
}

func TestDifyApp(t *testing.T) {
	def := agent.Definition{Name: "Help: desk #1", Description: "Answers from 'the' manuals", Model: "qwen2.5:7b",
		System: "Line one\nLine two: \"quoted\"\n- not a list", Opening: "Hi! I'm here.", Starters: []string{"How do I descale?", "yes"},
		Temperature: 0.4, NumCtx: 4096, Followups: true}
	b, err := DifyApp(def)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version string `yaml:"version"`
		Kind    string `yaml:"kind"`
		App     struct {
			Name, Mode, Description string
		} `yaml:"app"`
		ModelConfig struct {
			Model struct {
				Provider, Name, Mode string
				CompletionParams     map[string]any `yaml:"completion_params"`
			} `yaml:"model"`
			PrePrompt                     string         `yaml:"pre_prompt"`
			OpeningStatement              string         `yaml:"opening_statement"`
			SuggestedQuestions            []string       `yaml:"suggested_questions"`
			SuggestedQuestionsAfterAnswer map[string]any `yaml:"suggested_questions_after_answer"`
			AgentMode                     map[string]any `yaml:"agent_mode"`
		} `yaml:"model_config"`
	}
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	mc := got.ModelConfig
	if got.Version != DifyDSLVersion || got.Kind != "app" || got.App.Mode != "agent-chat" || got.App.Name != def.Name ||
		got.App.Description != def.Description || mc.Model.Provider != DifyProvider || mc.Model.Name != def.Model ||
		mc.Model.Mode != "chat" || mc.Model.CompletionParams["temperature"] != 0.4 || mc.Model.CompletionParams["num_ctx"] != 4096 ||
		mc.PrePrompt != def.System || mc.OpeningStatement != def.Opening || !reflect.DeepEqual(mc.SuggestedQuestions, def.Starters) ||
		mc.SuggestedQuestionsAfterAnswer["enabled"] != true || mc.AgentMode["enabled"] != true {
		t.Fatalf("parsed back as %+v\n%s", got, b)
	}
}

func TestExportDify(t *testing.T) {
	src := source(t, "")
	dir := t.TempDir()
	onDisk := filepath.Join(dir, "guide.txt")
	os.WriteFile(onDisk, []byte("the original"), 0o600)
	kb, _ := src.store.KB("manuals")
	kb.Put(store.Doc{Path: onDisk, Name: "guide.txt", Size: 12, Status: store.StatusOK, Chunks: []store.Chunk{{Text: "the original"}}})

	out := filepath.Join(dir, "dify")
	x := &Exporter{Store: src.store, Agents: src.agents}
	if _, err := x.ExportDify(context.Background(), out, "Helpdesk"); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, strings.TrimPrefix(p, out+"/"))
		}
		return nil
	})
	sort.Strings(files)
	want := []string{"Helpdesk.yml", "knowledge/manuals/guide.txt", "knowledge/manuals/kettle.md", "knowledge/manuals/oven.md", "knowledge/manuals/warranty.md"}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("files %q, want %q", files, want)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "knowledge/manuals/guide.txt")); string(b) != "the original" {
		t.Fatalf("original not copied: %q", b)
	}
	md, _ := os.ReadFile(filepath.Join(out, "knowledge/manuals/kettle.md"))
	if !strings.Contains(string(md), "Descale the kettle monthly with citric acid.") || !strings.Contains(string(md), "## Manual") {
		t.Fatalf("chunk markdown %q", md)
	}
	if _, err := x.ExportDify(context.Background(), out, "Helpdesk"); err == nil {
		t.Fatal("exported into a folder that is not empty")
	}
}
