// Package publish moves agents between machines and to other platforms: the
// portable .atoll bundle (an agent, its knowledge bases' chunks and vectors,
// optionally the original files) and exports for Dify and Ollama Modelfiles.
//
// A bundle is untrusted input. Reading one (Read) checks everything — names,
// sizes while inflating, checksums, schema, vector shapes — and only a fully
// valid bundle can be installed into a data folder (Bundle.Install).
package publish

import (
	"encoding/hex"
	"fmt"
	"time"

	"atoll/agent"
	"atoll/llm"
)

// Format identifies the bundle format; Version is bumped whenever a reader
// of the previous version could misread a bundle (a field whose meaning
// changes, a new entry that must not be ignored). Fields added to version 1
// must be optional: a version 1 reader ignores fields it does not know.
const (
	Format  = "atoll-bundle"
	Version = 1
)

// Entry names inside the zip.
const (
	ManifestName = "manifest.json"
	chunksFile   = "chunks.jsonl"
	vectorsFile  = "vectors.bin"
)

// Manifest is manifest.json.
type Manifest struct {
	Format         string           `json:"format"`
	Version        int              `json:"version"`
	Created        time.Time        `json:"created"`
	Generator      string           `json:"generator,omitempty"`
	Agent          agent.Definition `json:"agent"`
	ChatModel      Model            `json:"chatModel"`
	KnowledgeBases []KnowledgeBase  `json:"knowledgeBases"`
	Files          []File           `json:"files"`
}

// Model identifies an Ollama model as precisely as the exporting machine
// knew it. Only Name is required; Note says why the rest may be missing.
type Model struct {
	Name          string `json:"name"`
	Family        string `json:"family,omitempty"`
	ParameterSize string `json:"parameterSize,omitempty"`
	Quantization  string `json:"quantization,omitempty"`
	Digest        string `json:"digest,omitempty"`
	Note          string `json:"note,omitempty"`
}

// KnowledgeBase describes one knowledge base in the bundle.
type KnowledgeBase struct {
	Name       string `json:"name"`
	EmbedModel Model  `json:"embedModel"` // Name "" when the knowledge base was never embedded
	Dims       int    `json:"dims"`       // length of every vector in vectors.bin; 0 when there are none
	Documents  int    `json:"documents"`
	Chunks     int    `json:"chunks"`
	Vectors    int    `json:"vectors"` // records in vectors.bin
	Sources    int    `json:"sources"` // original files under sources/<name>/
}

// File is one zip entry other than manifest.json.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Document is one line of kb/<name>/chunks.jsonl.
type Document struct {
	Path   string  `json:"path"`
	Name   string  `json:"name"`
	Format string  `json:"format"`
	Hash   string  `json:"hash"`
	Size   int64   `json:"size,omitempty"`
	Pages  int     `json:"pages"`
	Source string  `json:"source,omitempty"` // the entry holding the original file, when exported with sources
	Chunks []Chunk `json:"chunks"`
}

// Chunk is one passage of a Document. Key is store.TextKey(Text).
type Chunk struct {
	ID       string   `json:"id"`
	Key      string   `json:"key"`
	Page     int      `json:"page"`
	Headings []string `json:"headings,omitempty"`
	Start    int      `json:"start"`
	End      int      `json:"end"`
	Text     string   `json:"text"`
}

func kbEntry(kb, file string) string { return "kb/" + kb + "/" + file }

func modelFrom(info llm.ModelInfo) Model {
	return Model{Name: info.Name, Family: info.Family, ParameterSize: info.ParameterSize,
		Quantization: info.Quantization, Digest: info.Digest}
}

// check validates the manifest's own schema; entries are checked against it
// by Read.
func (m *Manifest) check() error {
	if m.Format != Format {
		return fmt.Errorf("this is not an Atoll bundle (format %q, want %q)", m.Format, Format)
	}
	if m.Version != Version {
		if m.Version > Version {
			return fmt.Errorf("the bundle is format version %d and this Atoll reads version %d: update Atoll to import it", m.Version, Version)
		}
		return fmt.Errorf("the bundle has format version %d, which this Atoll does not read (it reads version %d)", m.Version, Version)
	}
	if m.Created.IsZero() {
		return fmt.Errorf("the manifest has no creation time")
	}
	if err := m.Agent.Validate(); err != nil {
		return fmt.Errorf("the bundle's agent: %w", err)
	}
	if m.ChatModel.Name == "" {
		return fmt.Errorf("the manifest names no chat model")
	}
	kbs := map[string]bool{}
	for _, kb := range m.KnowledgeBases {
		if err := validKBName(kb.Name); err != nil {
			return fmt.Errorf("the bundle's knowledge base: %w", err)
		}
		if kbs[kb.Name] {
			return fmt.Errorf("the manifest lists knowledge base %q twice", kb.Name)
		}
		kbs[kb.Name] = true
		if kb.Dims < 0 || kb.Documents < 0 || kb.Chunks < 0 || kb.Vectors < 0 || kb.Sources < 0 {
			return fmt.Errorf("knowledge base %q has a negative count", kb.Name)
		}
		if kb.Vectors > 0 && (kb.EmbedModel.Name == "" || kb.Dims == 0 || kb.Dims > maxDims) {
			return fmt.Errorf("knowledge base %q has vectors but no embedding model or a bad dimension count (%d)", kb.Name, kb.Dims)
		}
	}
	for _, name := range m.Agent.KBs {
		if !kbs[name] {
			return fmt.Errorf("the agent uses knowledge base %q, which the bundle does not contain", name)
		}
	}
	seen := map[string]bool{}
	for _, f := range m.Files {
		if err := safeName(f.Path); err != nil {
			return err
		}
		if f.Path == ManifestName {
			return fmt.Errorf("the manifest lists itself")
		}
		if seen[f.Path] {
			return fmt.Errorf("the manifest lists %q twice", f.Path)
		}
		seen[f.Path] = true
		if f.Size < 0 {
			return fmt.Errorf("the manifest gives %q a negative size", f.Path)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 {
			return fmt.Errorf("the manifest's checksum of %q is not a SHA-256", f.Path)
		}
	}
	for _, kb := range m.KnowledgeBases {
		if !seen[kbEntry(kb.Name, chunksFile)] {
			return fmt.Errorf("the bundle has no %s", kbEntry(kb.Name, chunksFile))
		}
		if (kb.Vectors > 0) != seen[kbEntry(kb.Name, vectorsFile)] {
			return fmt.Errorf("the manifest's vector count of knowledge base %q does not match its files", kb.Name)
		}
	}
	return nil
}
