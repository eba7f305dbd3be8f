package publish

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/rag"
	"atoll/store"
)

type folder struct {
	dir    string
	store  *store.Store
	agents *agent.Repo
}

func newFolder(t *testing.T) *folder {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &folder{dir: dir, store: st, agents: agent.NewRepo(filepath.Join(dir, "agents"))}
}

// reopen closes the folder's store and opens it again, as a new process would.
func (f *folder) reopen(t *testing.T) {
	t.Helper()
	f.store.Close()
	st, err := store.Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	f.store = st
}

func (f *folder) target(models ModelLister) Target {
	return Target{Store: f.store, Agents: f.agents, Models: models}
}

var texts = map[string][]string{
	"/docs/oven.md": {
		"The oven preheats to 180 degrees in about ten minutes.",
		"Clean the oven door with warm soapy water, never with abrasive pads.",
		"Error E3 means the door sensor is not closed.",
	},
	"/docs/kettle.pdf": {
		"The kettle boils one litre of water in three minutes.",
		"Descale the kettle monthly with citric acid.",
	},
	"/docs/warranty.txt": {
		"The warranty covers parts and labour for two years from purchase.",
		"Keep the receipt: warranty claims need proof of purchase.",
	},
}

// source builds a data folder with one embedded knowledge base, written
// through the store directly, and an agent that uses it.
func source(t *testing.T, embedModel string) *folder {
	t.Helper()
	f := newFolder(t)
	if _, err := f.store.Create("manuals", embedModel); err != nil {
		t.Fatal(err)
	}
	kb, err := f.store.KB("manuals")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var vecs [][]float32
	paths := make([]string, 0, len(texts))
	for p := range texts {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		d := store.Doc{Path: p, Name: filepath.Base(p), Format: strings.TrimPrefix(filepath.Ext(p), "."), Hash: "h-" + p,
			Size: 100, Pages: 1, Status: store.StatusOK, Ingested: time.Now()}
		for i, tx := range texts[p] {
			d.Chunks = append(d.Chunks, store.Chunk{Page: 1, Headings: []string{"Manual"}, Start: i * 100, End: i*100 + len(tx), Text: tx})
			keys = append(keys, store.TextKey(tx))
			vecs = append(vecs, ollamafake.Vector(tx, 64))
		}
		if err := kb.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := kb.Put(store.Doc{Path: "/docs/broken.pdf", Name: "broken.pdf", Status: store.StatusFailed, Error: "encrypted"}); err != nil {
		t.Fatal(err)
	}
	if embedModel != "" {
		if err := kb.AddVectors(context.Background(), keys, vecs); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.agents.Save(agent.Definition{Name: "Helpdesk", System: "Answer from the manuals.", Opening: "Hi!",
		Starters: []string{"How do I descale?"}, Model: ollamafake.DefaultChatModel, KBs: []string{"manuals"}, Temperature: 0.3, Followups: true})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func export(t *testing.T, f *folder, models ModelShower, opt ExportOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	x := &Exporter{Store: f.store, Agents: f.agents, Models: models, Generator: "atoll test"}
	if _, _, err := x.Export(context.Background(), &buf, "Helpdesk", opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func importBundle(data []byte, t Target, lim Limits, opt ImportOptions) (Report, error) {
	b, err := Read(bytes.NewReader(data), int64(len(data)), lim)
	if err != nil {
		return Report{}, err
	}
	return b.Install(context.Background(), t, opt)
}

type result struct {
	ID, KB, Source, Text string
	Page                 int
	Score                float64
}

func results(hits []rag.Hit) []result {
	out := make([]result, len(hits))
	for i, h := range hits {
		out[i] = result{ID: h.ID, KB: h.KB, Source: h.Source, Text: h.Text, Page: h.Page, Score: h.Score}
	}
	return out
}

// asBundled is what the same results show after a bundle: the source
// folder's documents (/docs/*) under their root's name, "docs/...".
func asBundled(rs []result) []result {
	out := make([]result, len(rs))
	for i, r := range rs {
		r.Source = strings.TrimPrefix(r.Source, "/")
		out[i] = r
	}
	return out
}

func TestExportImportSearchesTheSame(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	src := source(t, ollamafake.DefaultEmbedModel)
	data := export(t, src, client, ExportOptions{})

	dst := newFolder(t)
	rep, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Agent != "Helpdesk" || rep.KnowledgeBases["manuals"] != "manuals" || len(rep.Pending) != 0 {
		t.Fatalf("report %+v", rep)
	}
	// Reopen both folders so both indexes are built the same way, from disk.
	src.reopen(t)
	dst.reopen(t)

	ctx := context.Background()
	for _, q := range []string{"descale kettle", "warranty receipt", "oven door error", "nothing matches zzz"} {
		for _, emb := range []knowledge.QueryEmbedder{nil, client} {
			a, err := (&knowledge.Searcher{Store: src.store, Embedder: emb}).Search(ctx, []string{"manuals"}, q, 4, nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := (&knowledge.Searcher{Store: dst.store, Embedder: emb}).Search(ctx, []string{"manuals"}, q, 4, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(asBundled(results(a)), results(b)) {
				t.Errorf("%q (embedder %v): exported %v\nimported %v", q, emb != nil, results(a), results(b))
			}
		}
	}
	// A vector query that must find one chunk first, through the store directly.
	want := "Descale the kettle monthly with citric acid."
	skb, _ := src.store.KB("manuals")
	dkb, _ := dst.store.KB("manuals")
	q := rag.Query{Text: "monthly", K: 3, Vector: ollamafake.Vector(want, 64)}
	a, b := asBundled(results(skb.Search(q))), results(dkb.Search(q))
	if len(b) == 0 || b[0].Text != want || !reflect.DeepEqual(a, b) {
		t.Fatalf("vector search: exported %v\nimported %v", a, b)
	}
	if !dkb.Index().HasVectors() || dkb.Meta().EmbedModel != ollamafake.DefaultEmbedModel || dkb.Meta().Dims != 64 {
		t.Fatalf("imported meta %+v", dkb.Meta())
	}
	if len(dkb.Docs()) != 3 {
		t.Fatalf("failed documents must be left out: %v", dkb.Docs())
	}

	def, err := dst.agents.Get("Helpdesk")
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := src.agents.Get("Helpdesk")
	if def.System != orig.System || def.Opening != orig.Opening || !reflect.DeepEqual(def.Starters, orig.Starters) ||
		def.Model != orig.Model || def.Temperature != orig.Temperature || !reflect.DeepEqual(def.KBs, []string{"manuals"}) {
		t.Fatalf("agent %+v, want %+v", def, orig)
	}
}

func TestManifestRecordsModels(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	data := export(t, source(t, ollamafake.DefaultEmbedModel), client, ExportOptions{})
	b, err := Read(bytes.NewReader(data), int64(len(data)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest
	if m.Format != Format || m.Version != Version || m.ChatModel.Family != "llama" || m.ChatModel.Quantization != "Q4_K_M" ||
		m.ChatModel.ParameterSize != "8B" || m.ChatModel.Digest == "" || m.ChatModel.Note != "" {
		t.Fatalf("chat model %+v", m.ChatModel)
	}
	kb := m.KnowledgeBases[0]
	if kb.EmbedModel.Family != "nomic-bert" || kb.Dims != 64 || kb.Documents != 3 || kb.Chunks != 7 || kb.Vectors != 7 {
		t.Fatalf("knowledge base %+v", kb)
	}
	if len(m.Files) != 2 {
		t.Fatalf("files %+v", m.Files)
	}

	// Ollama down: names only, with a note, and the export still works.
	fake.Close()
	data = export(t, source(t, ollamafake.DefaultEmbedModel), client, ExportOptions{})
	b, err = Read(bytes.NewReader(data), int64(len(data)), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if cm := b.Manifest.ChatModel; cm.Name != ollamafake.DefaultChatModel || cm.Family != "" || cm.Note == "" {
		t.Fatalf("chat model without Ollama %+v", cm)
	}
}

func TestWithSources(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	src := source(t, ollamafake.DefaultEmbedModel)
	// Two documents with the same base name in different folders.
	files := t.TempDir()
	// c/notes.txt changed since it was ingested (its hash differs): left out.
	for _, p := range []string{"a/notes.txt", "b/notes.txt", "c/notes.txt"} {
		full := filepath.Join(files, p)
		os.MkdirAll(filepath.Dir(full), 0o700)
		body := []byte("contents of " + p)
		os.WriteFile(full, body, 0o600)
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		if p == "c/notes.txt" {
			hash = strings.Repeat("0", 64)
		}
		kb, _ := src.store.KB("manuals")
		if err := kb.Put(store.Doc{Path: full, Name: "notes.txt", Format: "txt", Hash: hash, Size: int64(len(body)), Status: store.StatusOK,
			Chunks: []store.Chunk{{Text: "notes from " + p}}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	x := &Exporter{Store: src.store, Agents: src.agents, Models: client}
	_, warnings, err := x.Export(context.Background(), &buf, "Helpdesk", ExportOptions{WithSources: true})
	if err != nil {
		t.Fatal(err)
	}
	// The /docs/ files of source() do not exist either.
	if len(warnings) != 4 || !strings.Contains(strings.Join(warnings, "\n"), "c/notes.txt left out of the bundle: it changed since it was ingested") {
		t.Fatalf("warnings %q", warnings)
	}
	data := buf.Bytes()
	dst := newFolder(t)
	if _, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	kb, _ := dst.store.KB("manuals")
	var got []string
	for _, d := range kb.Docs() {
		if !strings.HasPrefix(d.Path, filepath.Join(dst.dir, "kb", "manuals", "sources")) {
			continue
		}
		b, err := os.ReadFile(d.Path)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(d.Path)+"="+string(b))
	}
	sort.Strings(got)
	want := []string{"notes (2).txt=contents of b/notes.txt", "notes.txt=contents of a/notes.txt"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("extracted sources %q, want %q", got, want)
	}

	// A source swapped for another file (manifest recomputed to match) is
	// refused: it is not the file the chunks came from.
	es, order := entries(t, data)
	es["sources/manuals/notes.txt"] = []byte("something else")
	swapped := repack(t, es, order, manifestOf(t, es), nil)
	if _, err := Read(bytes.NewReader(swapped), int64(len(swapped)), DefaultLimits); err == nil || !strings.Contains(err.Error(), "not the file the document was made from") {
		t.Fatalf("swapped source: %v", err)
	}
}

// entries unpacks a bundle.
func entries(t *testing.T, data []byte) (map[string][]byte, []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var order []string
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		out[f.Name] = b
		order = append(order, f.Name)
	}
	return out, order
}

// repack zips entries, with manifest.json rewritten from m when m is not nil
// (its file list recomputed from the entries in listed).
func repack(t *testing.T, es map[string][]byte, order []string, m *Manifest, listed func(string) bool) []byte {
	t.Helper()
	if m != nil {
		m.Files = nil
		for _, n := range order {
			if n == ManifestName || (listed != nil && !listed(n)) {
				continue
			}
			sum := sha256.Sum256(es[n])
			m.Files = append(m.Files, File{Path: n, Size: int64(len(es[n])), SHA256: hex.EncodeToString(sum[:])})
		}
		b, _ := json.Marshal(m)
		es[ManifestName] = b
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range order {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(es[n])
	}
	zw.Close()
	return buf.Bytes()
}

func manifestOf(t *testing.T, es map[string][]byte) *Manifest {
	var m Manifest
	if err := json.Unmarshal(es[ManifestName], &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// bomb is a bundle whose vectors.bin declares (in the zip and the manifest)
// far fewer bytes than it inflates to.
func bomb(t *testing.T, es map[string][]byte, order []string) []byte {
	var zeros bytes.Buffer
	fw, _ := flate.NewWriter(&zeros, flate.BestCompression)
	fw.Write(make([]byte, 64<<20))
	fw.Close()
	name := "kb/manuals/vectors.bin"
	m := manifestOf(t, es)
	small := []byte("tiny")
	es[name] = small
	for i := range m.Files {
		if m.Files[i].Path == name {
			sum := sha256.Sum256(small)
			m.Files[i] = File{Path: name, Size: int64(len(small)), SHA256: hex.EncodeToString(sum[:])}
		}
	}
	es[ManifestName], _ = json.Marshal(m)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range order {
		if n == name {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: n, Method: zip.Deflate, CRC32: 0,
				CompressedSize64: uint64(zeros.Len()), UncompressedSize64: uint64(len(small))})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(zeros.Bytes())
			continue
		}
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate})
		w.Write(es[n])
	}
	zw.Close()
	return buf.Bytes()
}

// tree lists every file under dir with its size, to prove nothing changed.
func tree(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		out = append(out, fmt.Sprintf("%s %d", strings.TrimPrefix(p, dir), info.Size()))
		return nil
	})
	return out
}

func TestMaliciousBundlesAreRefused(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	good := export(t, source(t, ollamafake.DefaultEmbedModel), client, ExportOptions{})

	cases := []struct {
		name  string
		make  func(es map[string][]byte, order []string) []byte
		lim   Limits
		wants string
	}{
		{"path traversal", func(es map[string][]byte, order []string) []byte {
			es["../evil"] = []byte("x")
			return repack(t, es, append(order, "../evil"), manifestOf(t, es), nil)
		}, DefaultLimits, "unsafe entry name"},
		{"traversal inside a path", func(es map[string][]byte, order []string) []byte {
			es["sources/manuals/../../evil"] = []byte("x")
			return repack(t, es, append(order, "sources/manuals/../../evil"), manifestOf(t, es), nil)
		}, DefaultLimits, "unsafe entry name"},
		{"absolute path", func(es map[string][]byte, order []string) []byte {
			es["/tmp/evil"] = []byte("x")
			return repack(t, es, append(order, "/tmp/evil"), manifestOf(t, es), nil)
		}, DefaultLimits, "absolute path"},
		{"windows path", func(es map[string][]byte, order []string) []byte {
			es[`..\evil`] = []byte("x")
			return repack(t, es, append(order, `..\evil`), manifestOf(t, es), nil)
		}, DefaultLimits, "unsafe entry name"},
		{"oversize entry", func(es map[string][]byte, order []string) []byte {
			return repack(t, es, order, nil, nil)
		}, Limits{MaxEntries: 10, MaxEntry: 100, MaxTotal: 1 << 20, MaxManifest: 1 << 20}, "more than the 100 allowed"},
		{"oversize total", func(es map[string][]byte, order []string) []byte {
			return repack(t, es, order, nil, nil)
		}, Limits{MaxEntries: 10, MaxEntry: 1 << 20, MaxTotal: 1000, MaxManifest: 1 << 20}, "allowed in all"},
		{"bad checksum", func(es map[string][]byte, order []string) []byte {
			c := es["kb/manuals/chunks.jsonl"]
			c[10] ^= 1
			return repack(t, es, order, nil, nil)
		}, DefaultLimits, "checksum"},
		{"missing manifest", func(es map[string][]byte, order []string) []byte {
			var rest []string
			for _, n := range order {
				if n != ManifestName {
					rest = append(rest, n)
				}
			}
			return repack(t, es, rest, nil, nil)
		}, DefaultLimits, "no manifest.json"},
		{"wrong format version", func(es map[string][]byte, order []string) []byte {
			m := manifestOf(t, es)
			m.Version = 2
			return repack(t, es, order, m, nil)
		}, DefaultLimits, "update Atoll"},
		{"wrong format name", func(es map[string][]byte, order []string) []byte {
			m := manifestOf(t, es)
			m.Format = "something-else"
			return repack(t, es, order, m, nil)
		}, DefaultLimits, "not an Atoll bundle"},
		{"manifest not JSON", func(es map[string][]byte, order []string) []byte {
			es[ManifestName] = []byte("{not json")
			return repack(t, es, order, nil, nil)
		}, DefaultLimits, "manifest.json is not valid"},
		{"zip bomb", func(es map[string][]byte, order []string) []byte {
			return bomb(t, es, order)
		}, DefaultLimits, "inflates past"},
		{"extra entry", func(es map[string][]byte, order []string) []byte {
			es["notes.txt"] = []byte("hello")
			return repack(t, es, append(order, "notes.txt"), manifestOf(t, es), func(n string) bool { return n != "notes.txt" })
		}, DefaultLimits, "not in the manifest"},
		{"listed but unclaimed entry", func(es map[string][]byte, order []string) []byte {
			es["notes.txt"] = []byte("hello")
			return repack(t, es, append(order, "notes.txt"), manifestOf(t, es), nil)
		}, DefaultLimits, "belongs to no knowledge base"},
		{"duplicate entry", func(es map[string][]byte, order []string) []byte {
			return repack(t, es, append(order, "kb/manuals/chunks.jsonl"), nil, nil)
		}, DefaultLimits, "appears twice"},
		{"vector dimensions", func(es map[string][]byte, order []string) []byte {
			m := manifestOf(t, es)
			m.KnowledgeBases[0].Dims = 32
			return repack(t, es, order, m, nil)
		}, DefaultLimits, "dimensions"},
		{"chunk key not the text hash", func(es map[string][]byte, order []string) []byte {
			es["kb/manuals/chunks.jsonl"] = bytes.Replace(es["kb/manuals/chunks.jsonl"], []byte("citric acid"), []byte("bleach"), 1)
			return repack(t, es, order, manifestOf(t, es), nil)
		}, DefaultLimits, "hash of its text"},
		{"agent uses a missing knowledge base", func(es map[string][]byte, order []string) []byte {
			m := manifestOf(t, es)
			m.Agent.KBs = append(m.Agent.KBs, "secret")
			return repack(t, es, order, m, nil)
		}, DefaultLimits, "does not contain"},
		{"not a zip", func(map[string][]byte, []string) []byte {
			return []byte("hello, I am not a zip file at all")
		}, DefaultLimits, "not a readable zip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es, order := entries(t, good)
			data := tc.make(es, order)
			dst := newFolder(t)
			before := tree(t, dst.dir)
			_, err := importBundle(data, dst.target(client), tc.lim, ImportOptions{})
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wants) {
				t.Fatalf("got %v, want an invalid-bundle error containing %q", err, tc.wants)
			}
			t.Log(err)
			if after := tree(t, dst.dir); !reflect.DeepEqual(before, after) {
				t.Fatalf("the data folder changed:\n%v\n%v", before, after)
			}
		})
	}
}

func TestEmbeddingModelMustBeInstalled(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	data := export(t, source(t, ollamafake.DefaultEmbedModel), client, ExportOptions{})
	fake.RemoveModel(ollamafake.DefaultEmbedModel)

	dst := newFolder(t)
	before := tree(t, dst.dir)
	_, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "ollama pull "+ollamafake.DefaultEmbedModel) || !strings.Contains(err.Error(), "--reembed") {
		t.Fatalf("got %v", err)
	}
	if after := tree(t, dst.dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("the data folder changed:\n%v\n%v", before, after)
	}

	// Ollama unreachable: refused with a sentence, unless --reembed.
	down, _ := llm.New("http://127.0.0.1:1")
	_, err = importBundle(data, dst.target(down), DefaultLimits, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "Ollama did not answer") {
		t.Fatalf("got %v", err)
	}

	rep, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{Reembed: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Pending["manuals"] != 7 {
		t.Fatalf("pending %v", rep.Pending)
	}
	kb, _ := dst.store.KB("manuals")
	if kb.Index().HasVectors() || len(kb.Pending()) != 7 || kb.Meta().EmbedModel != ollamafake.DefaultEmbedModel {
		t.Fatalf("after --reembed: vectors %v, pending %d, model %q", kb.Index().HasVectors(), len(kb.Pending()), kb.Meta().EmbedModel)
	}
	if hits := kb.Search(rag.Query{Text: "descale kettle", K: 1}); len(hits) != 1 || !strings.Contains(hits[0].Text, "Descale") {
		t.Fatalf("lexical search after --reembed: %v", hits)
	}
}

func TestNamesAreNotOverwritten(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	data := export(t, source(t, ollamafake.DefaultEmbedModel), client, ExportOptions{})
	dst := newFolder(t)
	if _, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "--as") {
		t.Fatalf("second import: %v", err)
	}
	for i, want := range []string{"manuals-imported", "manuals-imported-2"} {
		as := fmt.Sprintf("Helpdesk %d", i+2)
		rep, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{As: as})
		if err != nil {
			t.Fatal(err)
		}
		if rep.KnowledgeBases["manuals"] != want {
			t.Fatalf("renamed to %v, want %s", rep.KnowledgeBases, want)
		}
		def, _ := dst.agents.Get(as)
		if !reflect.DeepEqual(def.KBs, []string{want}) {
			t.Fatalf("agent %s uses %v", as, def.KBs)
		}
	}
	kb, _ := dst.store.KB("manuals")
	if n := len(kb.Docs()); n != 3 {
		t.Fatalf("the first import's knowledge base was changed: %d docs", n)
	}
}

func TestFailedImportLeavesNothing(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	data := export(t, source(t, ollamafake.DefaultEmbedModel), client, ExportOptions{})
	dst := newFolder(t)
	// The agents folder is a file: saving the agent, the last step, fails.
	os.WriteFile(filepath.Join(dst.dir, "agents"), []byte("x"), 0o600)
	before := tree(t, dst.dir)
	if _, err := importBundle(data, dst.target(client), DefaultLimits, ImportOptions{}); err == nil {
		t.Fatal("import succeeded without an agents folder")
	}
	if after := tree(t, dst.dir); !reflect.DeepEqual(before, after) {
		t.Fatalf("the data folder changed:\n%v\n%v", before, after)
	}
}

func TestCountingReaderStopsABomb(t *testing.T) {
	var zeros bytes.Buffer
	fw, _ := flate.NewWriter(&zeros, flate.BestCompression)
	fw.Write(make([]byte, 32<<20))
	fw.Close()
	cr := &countingReader{r: flate.NewReader(&zeros), limit: 1000}
	n, err := io.Copy(io.Discard, cr)
	if !errors.Is(err, errTooLong) || n > 1001 {
		t.Fatalf("read %d bytes, error %v", n, err)
	}
}

func TestKnowledgeWithoutVectors(t *testing.T) {
	src := source(t, "")
	data := export(t, src, nil, ExportOptions{})
	dst := newFolder(t)
	// No Ollama at all: nothing needs checking but the chat model (a warning).
	rep, err := importBundle(data, dst.target(nil), DefaultLimits, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Pending) != 0 || len(rep.Warnings) != 1 {
		t.Fatalf("report %+v", rep)
	}
	a, _ := src.store.KB("manuals")
	b, _ := dst.store.KB("manuals")
	q := rag.Query{Text: "warranty receipt", K: 3}
	if ra, rb := asBundled(results(a.Search(q))), results(b.Search(q)); len(ra) == 0 || !reflect.DeepEqual(ra, rb) {
		t.Fatalf("exported %v\nimported %v", ra, rb)
	}
	if b.Meta().EmbedModel != "" {
		t.Fatalf("meta %+v", b.Meta())
	}
}
