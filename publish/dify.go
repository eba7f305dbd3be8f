package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"atoll/agent"
	"atoll/store"
)

// DifyDSLVersion is the Dify app DSL version written. Dify accepts older
// minor versions with a warning; at 0.1.5 and below it also works out the
// plugin dependencies (the Ollama model provider) from model_config itself,
// so the file need not name a marketplace package and hash.
const DifyDSLVersion = "0.1.5"

// DifyProvider is Dify's Ollama model provider (a plugin since Dify 1.0).
const DifyProvider = "langgenius/ollama/ollama"

// DifyApp builds the Dify DSL of an agent-chat app for def. Knowledge cannot
// be linked in the DSL (Dify datasets are per-workspace ids), so
// dataset_configs is left empty; ExportDify writes the files to upload.
func DifyApp(def agent.Definition) ([]byte, error) {
	params := map[string]any{"temperature": def.Temperature}
	if def.NumCtx > 0 {
		params["num_ctx"] = def.NumCtx
	}
	starters := def.Starters
	if starters == nil {
		starters = []string{}
	}
	off := map[string]any{"enabled": false}
	doc := map[string]any{
		"version": DifyDSLVersion,
		"kind":    "app",
		"app": map[string]any{
			"name":                    def.Name,
			"mode":                    "agent-chat",
			"icon":                    difyIcon(def.Avatar),
			"icon_background":         "#FFEAD5",
			"description":             def.Description,
			"use_icon_as_answer_icon": false,
		},
		"model_config": map[string]any{
			"model": map[string]any{
				"provider":          DifyProvider,
				"name":              def.Model,
				"mode":              "chat",
				"completion_params": params,
			},
			"pre_prompt":                       def.System,
			"prompt_type":                      "simple",
			"opening_statement":                def.Opening,
			"suggested_questions":              starters,
			"suggested_questions_after_answer": map[string]any{"enabled": def.Followups},
			"retriever_resource":               map[string]any{"enabled": true},
			"agent_mode": map[string]any{
				"enabled":       true,
				"strategy":      "function_call",
				"max_iteration": 5,
				"tools":         []any{},
			},
			"dataset_configs": map[string]any{
				"retrieval_model":  "multiple",
				"top_k":            4,
				"reranking_enable": false,
				"datasets":         map[string]any{"datasets": []any{}},
			},
			"dataset_query_variable":   "",
			"user_input_form":          []any{},
			"chat_prompt_config":       map[string]any{},
			"completion_prompt_config": map[string]any{},
			"external_data_tools":      []any{},
			"annotation_reply":         off,
			"more_like_this":           off,
			"sensitive_word_avoidance": off,
			"speech_to_text":           off,
			"text_to_speech":           off,
			"file_upload":              map[string]any{"image": map[string]any{"enabled": false}},
		},
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// difyIcon keeps an emoji avatar; anything else (an image path) becomes the
// default robot.
func difyIcon(avatar string) string {
	if avatar != "" && len([]rune(avatar)) <= 2 && !strings.ContainsAny(avatar, "/\\.") {
		return avatar
	}
	return "🤖"
}

// ExportDify writes, into dir (created; it must be empty if it exists),
// <agent>.yml with the Dify DSL, and knowledge/<kb>/ with a file per
// document to upload to a Dify knowledge base: the original file when it is
// still on disk unchanged, else the chunk texts as Markdown.
func (x *Exporter) ExportDify(ctx context.Context, dir, name string) ([]string, error) {
	def, err := x.Agents.Get(name)
	if err != nil {
		return nil, fmt.Errorf("agent %q does not exist: `atoll agent list` shows the agents", name)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: choose a new folder for the Dify export", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	dsl, err := DifyApp(def)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, sourceName(def.Name)+".yml"), dsl, 0o600); err != nil {
		return nil, err
	}
	var warnings []string
	for _, kbName := range def.KBs {
		kb, err := x.Store.KB(kbName)
		if err != nil {
			return warnings, fmt.Errorf("agent %q uses knowledge base %q, which cannot be opened: %w", name, kbName, err)
		}
		kdir := filepath.Join(dir, "knowledge", sourceName(kbName))
		if err := os.MkdirAll(kdir, 0o700); err != nil {
			return warnings, err
		}
		taken := map[string]bool{}
		for _, sum := range kb.Docs() {
			if err := ctx.Err(); err != nil {
				return warnings, err
			}
			if sum.Status != store.StatusOK {
				continue
			}
			d, ok := kb.Doc(sum.Path)
			if !ok {
				continue
			}
			base := sourceName(filepath.Base(d.Path))
			copied, err := copyIfUnchanged(d, filepath.Join(kdir, uniqueName(base, taken)))
			if err != nil {
				return warnings, err
			}
			if copied {
				continue
			}
			delete(taken, strings.ToLower(base))
			md := uniqueName(strings.TrimSuffix(base, filepath.Ext(base))+".md", taken)
			if err := os.WriteFile(filepath.Join(kdir, md), []byte(chunkMarkdown(d)), 0o600); err != nil {
				return warnings, err
			}
			warnings = append(warnings, fmt.Sprintf("%s is not on disk as it was ingested: its extracted text was written as %s", d.Path, md))
		}
	}
	if len(def.KBs) > 0 {
		warnings = append(warnings, "Dify cannot link knowledge in an app file: create a knowledge base in Dify, upload the files under knowledge/, and add it to the app's Context")
	}
	return warnings, nil
}

func copyIfUnchanged(d store.Doc, dst string) (bool, error) {
	f, err := os.Open(d.Path)
	if err != nil {
		return false, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || (d.Size != 0 && st.Size() != d.Size) {
		return false, nil
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(out, f)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err == nil, err
}

// chunkMarkdown rebuilds a document from its chunks: headings as Markdown
// headings when they change, passages in order.
func chunkMarkdown(d store.Doc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", d.Name)
	var last []string
	for _, c := range d.Chunks {
		if strings.Join(c.Headings, "\x00") != strings.Join(last, "\x00") && len(c.Headings) > 0 {
			fmt.Fprintf(&b, "## %s\n\n", strings.Join(c.Headings, " > "))
		}
		last = c.Headings
		b.WriteString(strings.TrimSpace(c.Text))
		b.WriteString("\n\n")
	}
	return b.String()
}
