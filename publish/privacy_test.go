package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"atoll/agent"
	"atoll/internal/ollamafake"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/store"
)

// TestBundleNamesNoPrivateFolder: a knowledge base ingested from absolute
// paths under the user's home (a folder, and single files) is exported, with
// and without the original files, and no entry of the bundle, inflated,
// carries the home folder, the login name or any absolute path.
func TestBundleNamesNoPrivateFolder(t *testing.T) {
	const login = "zq7login"
	home := filepath.Join(t.TempDir(), "home", login)
	t.Setenv("HOME", home)
	docs := filepath.Join(home, "Documents", "bakery")
	files := map[string]string{
		filepath.Join(docs, "prices.md"):              "# Prices\n\nA chocolate cake costs 38 euros.\n",
		filepath.Join(docs, "cakes", "birthday.md"):   "# Birthday cakes\n\nOrder birthday cakes 48 hours ahead.\n",
		filepath.Join(home, "notes.md"):               "# Notes\n\nThe shop opens at seven.\n",
		filepath.Join(home, "Desktop", "menu.txt"):    "Croissant, baguette, pain au chocolat.\n",
		filepath.Join(home, "Desktop", "allergy.txt"): "Every cake may contain nuts.\n",
	}
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(home, ".local", "share", "atoll")
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	in := knowledge.New(st, client)
	// A folder, then single files one by one, as the window's "Add files" does.
	for _, paths := range [][]string{{docs}, {filepath.Join(home, "notes.md")}, {filepath.Join(home, "Desktop", "menu.txt"), filepath.Join(home, "Desktop", "allergy.txt")}} {
		sum, err := in.Run(context.Background(), "j", "bakery", ollamafake.DefaultEmbedModel, paths, nil)
		if err != nil || sum.Failed != 0 {
			t.Fatalf("ingest %v: %+v %v", paths, sum, err)
		}
	}
	agents := agent.NewRepo(filepath.Join(data, "agents"))
	if _, err := agents.Save(agent.Definition{Name: "Baker", Model: ollamafake.DefaultChatModel, KBs: []string{"bakery"}, System: "Answer from the documents."}); err != nil {
		t.Fatal(err)
	}

	for _, withSources := range []bool{false, true} {
		var buf bytes.Buffer
		x := &Exporter{Store: st, Agents: agents, Models: client, Generator: "atoll test"}
		m, _, err := x.Export(context.Background(), &buf, "Baker", ExportOptions{WithSources: withSources})
		if err != nil {
			t.Fatal(err)
		}
		if m.KnowledgeBases[0].Documents != len(files) || m.KnowledgeBases[0].Vectors == 0 {
			t.Fatalf("manifest %+v", m.KnowledgeBases)
		}
		es, _ := entries(t, buf.Bytes())
		for name, b := range es {
			for _, secret := range []string{home, login, filepath.Dir(filepath.Dir(home)), `"/`, `:\\`} {
				if bytes.Contains(b, []byte(secret)) || strings.Contains(name, secret) {
					t.Errorf("sources %v: entry %s carries %q", withSources, name, secret)
				}
			}
		}
		var got []string
		for _, line := range bytes.Split(bytes.TrimSpace(es["kb/bakery/chunks.jsonl"]), []byte("\n")) {
			var d Document
			if err := json.Unmarshal(line, &d); err != nil {
				t.Fatal(err)
			}
			got = append(got, d.Path)
		}
		sort.Strings(got)
		want := []string{"Desktop/allergy.txt", "Desktop/menu.txt", "bakery/cakes/birthday.md", "bakery/prices.md", "notes.md"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("sources %v: paths %q, want %q", withSources, got, want)
		}
	}
}

// TestOldBundlesAreMadeRelative: a bundle written before paths were relative
// (absolute paths, from Linux, macOS or Windows) is converted when read, so
// neither the importing machine nor a hub shows the exporter's folders.
func TestOldBundlesAreMadeRelative(t *testing.T) {
	for _, c := range []struct {
		name string
		abs  []string
		want []string
	}{
		{"linux", []string{"/home/ana/Documents/bakery/a.md", "/home/ana/Documents/bakery/sub/b.md", "/home/ana/Documents/bakery/c.md"},
			[]string{"bakery/a.md", "bakery/sub/b.md", "bakery/c.md"}},
		{"home itself", []string{"/Users/ana/a.md", "/Users/ana/Desktop/b.md", "/Users/ana/c.md"},
			[]string{"a.md", "Desktop/b.md", "c.md"}},
		{"two homes", []string{"/home/ana/a.md", "/home/bob/work/b.md", "/srv/shared/c.md"},
			[]string{"a.md", "work/b.md", "srv/shared/c.md"}},
		{"windows", []string{`C:\Users\ana\Documents\shop\a.md`, `C:\Users\ana\Documents\shop\b.md`, `C:\Users\ana\Documents\shop\x\c.md`},
			[]string{"shop/a.md", "shop/b.md", "shop/x/c.md"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := source(t, ollamafake.DefaultEmbedModel)
			data := export(t, src, nil, ExportOptions{})
			es, order := entries(t, data)
			// Rewrite the documents' paths as an old exporter wrote them.
			var lines [][]byte
			for i, line := range bytes.Split(bytes.TrimSpace(es["kb/manuals/chunks.jsonl"]), []byte("\n")) {
				var d Document
				if err := json.Unmarshal(line, &d); err != nil {
					t.Fatal(err)
				}
				d.Path = c.abs[i]
				b, _ := json.Marshal(d)
				lines = append(lines, b)
			}
			es["kb/manuals/chunks.jsonl"] = append(bytes.Join(lines, []byte("\n")), '\n')
			old := repack(t, es, order, manifestOf(t, es), nil)

			dst := newFolder(t)
			fake := ollamafake.New(t)
			client, _ := llm.New(fake.URL)
			if _, err := importBundle(old, dst.target(client), DefaultLimits, ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			kb, _ := dst.store.KB("manuals")
			var got []string
			for _, d := range kb.Docs() {
				got = append(got, d.Path)
			}
			want := append([]string(nil), c.want...)
			sort.Strings(got)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("imported paths %q, want %q", got, want)
			}
		})
	}
}

func TestRelativePaths(t *testing.T) {
	for _, c := range []struct {
		docs  []docPath
		homes []string
		want  []string
	}{
		// A folder keeps its own name; single files share their common folder.
		{[]docPath{{"/home/ana/shop/a.md", "/home/ana/shop"}, {"/home/ana/shop/x/b.md", "/home/ana/shop"}, {"/home/ana/notes/c.md", ""}, {"/home/ana/notes/d.md", ""}},
			[]string{"/home/ana"}, []string{"shop/a.md", "shop/x/b.md", "notes/c.md", "notes/d.md"}},
		// The home folder ingested whole, or a folder above it: no login name.
		{[]docPath{{"/home/ana/a.md", "/home/ana"}, {"/home/ana/b/c.md", "/home"}},
			[]string{"/home/ana"}, []string{"a.md", "b/c.md"}},
		// An unusual home (from $HOME), and the same name from two roots.
		{[]docPath{{"/data/u/ana/shop/a.md", "/data/u/ana/shop"}, {"/data/u/ana/old/shop/a.md", "/data/u/ana/old/shop"}, {"/data/u/ana/z.md", ""}},
			[]string{"/data/u/ana"}, []string{"shop/a.md", "shop/a (2).md", "z.md"}},
		// Outside any home: the common folder's name; at the filesystem root, none.
		{[]docPath{{"/srv/docs/a.md", ""}, {"/srv/docs/b.md", ""}}, nil, []string{"docs/a.md", "docs/b.md"}},
		{[]docPath{{"/a.md", ""}, {"/srv/b.md", ""}}, nil, []string{"a.md", "srv/b.md"}},
		// Already relative: kept.
		{[]docPath{{"shop/a.md", ""}, {`shop\b.md`, ""}}, nil, []string{"shop/a.md", "shop/b.md"}},
		// Windows, UNC.
		{[]docPath{{`\\nas\share\ana\shop\a.md`, `\\nas\share\ana\shop`}}, nil, []string{"shop/a.md"}},
		{[]docPath{{`D:\a.md`, ""}}, nil, []string{"a.md"}},
	} {
		if got := relativePaths(c.docs, c.homes...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v (home %v): %q, want %q", c.docs, c.homes, got, c.want)
		}
	}
}
