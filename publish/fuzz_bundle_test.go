package publish

import (
	"archive/zip"
	"bytes"
	"testing"

	"atoll/store"
)

// FuzzManifest feeds arbitrary manifest.json bytes through Read: it must
// refuse with ErrInvalid or accept a manifest that passes its own checks,
// never panic, and never accept one that lists entries the zip lacks.
func FuzzManifest(f *testing.F) {
	f.Add([]byte(`{"format":"atoll-bundle","version":1,"created":"2026-01-01T00:00:00Z","agent":{"name":"a","model":"m"},"chatModel":{"name":"m"},"knowledgeBases":[],"files":[]}`))
	f.Add([]byte(`{"format":"atoll-bundle","version":1,"created":"2026-01-01T00:00:00Z","agent":{"name":"a","model":"m","kbs":["k"]},"chatModel":{"name":"m"},"knowledgeBases":[{"name":"k","documents":1,"chunks":1}],"files":[{"path":"kb/k/chunks.jsonl","size":2,"sha256":"00"}]}`))
	f.Add([]byte(`{"files":[{"path":"../x"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create(ManifestName)
		w.Write(manifest)
		zw.Close()
		b, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()), DefaultLimits)
		if err != nil {
			return
		}
		if len(b.Manifest.Files) != 0 || len(b.Manifest.KnowledgeBases) != 0 {
			t.Fatalf("accepted a manifest listing entries the zip does not have: %+v", b.Manifest)
		}
		if err := b.Manifest.check(); err != nil {
			t.Fatalf("accepted a manifest that fails its own check: %v", err)
		}
	})
}

// FuzzChunksReader feeds arbitrary chunks.jsonl bytes through the line
// reader and the document checks: no panic, no line over the limit handed
// on, and every accepted document has a unique non-empty path and chunks
// whose keys are the hashes of their texts.
func FuzzChunksReader(f *testing.F) {
	f.Add([]byte(`{"path":"a.md","chunks":[{"id":"1","key":"` + keyOf("hi") + `","text":"hi","end":2}]}` + "\n\n\n"))
	f.Add([]byte("\n\r\n \t\n{\"path\":\"b\"}\n{\"path\":\"b\"}"))
	f.Add([]byte(`{"path":"x","source":"sources/k/x"}`))
	f.Add(bytes.Repeat([]byte("x"), 5000))
	const max = 4096
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &Bundle{want: map[string]File{}}
		kb := &KnowledgeBase{Name: "k", Documents: 1 << 20, Chunks: 1 << 20}
		c := b.newKBCheck(kb, map[string]bool{})
		seen := map[string]bool{}
		_ = eachLine(bytes.NewReader(data), max, c.entry, func(n int, line []byte) error {
			if len(line) > max {
				t.Fatalf("line %d of %d bytes passed a %d-byte limit", n, len(line), max)
			}
			doc, err := c.line(n, line)
			if err != nil || doc == nil {
				return err
			}
			if doc.Path == "" || seen[doc.Path] {
				t.Fatalf("accepted an empty or repeated path %q", doc.Path)
			}
			seen[doc.Path] = true
			for _, ch := range doc.Chunks {
				if ch.Key != keyOf(ch.Text) {
					t.Fatal("accepted a chunk whose key is not its text's hash")
				}
			}
			return nil
		})
	})
}

func keyOf(s string) string { return store.TextKey(s) }
