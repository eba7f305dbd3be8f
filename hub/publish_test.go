package hub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"atoll/agent"
	"atoll/publish"
	"atoll/store"
)

// bundleFor exports agent name with one small knowledge base (no vectors,
// so no model server is needed to import it).
func bundleFor(t testing.TB, name string) []byte {
	return bundleOf(t, agent.Definition{Name: name, Model: "tiny"})
}

// bundleOf exports def with the knowledge base "recipes" (def.KBs is set).
func bundleOf(t testing.TB, def agent.Definition) []byte {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.Create("recipes", "")
	kb, _ := st.KB("recipes")
	kb.Put(store.Doc{Path: "/docs/bread.md", Name: "bread.md", Hash: "1", Status: store.StatusOK,
		Chunks: []store.Chunk{{Text: "Rye bread proofs for three hours."}}})
	agents := agent.NewRepo(filepath.Join(dir, "agents"))
	def.KBs = []string{"recipes"}
	if _, err := agents.Save(def); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	x := &publish.Exporter{Store: st, Agents: agents}
	if _, _, err := x.Export(context.Background(), &buf, def.Name, publish.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (th *testHub) do(t testing.TB, method, path string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, th.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+th.tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// cacheFolders lists the bundles materialised in a hub's cache.
func cacheFolders(t testing.TB, h *Hub) []string {
	entries, _ := os.ReadDir(h.cache.dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// TestRepublishLongNameAndUnpublish: an agent whose name has 50+ characters
// can be republished (before, the staging name went past 64 characters and
// the hub answered 422), and unpublishing removes it with its cached
// bundle, leaving other agents as they were.
func TestRepublishLongNameAndUnpublish(t *testing.T) {
	th := newTestHub(t, 0, Importer(nil))
	name := strings.Repeat("Long agent name ", 4)[:60]
	bundle := bundleFor(t, name)
	for v := 1; v <= 2; v++ {
		code, body := th.do(t, "POST", "/api/publish", bundle)
		if code != 200 || !strings.Contains(body, fmt.Sprintf(`"version":%d`, v)) {
			t.Fatalf("publish %d of a %d-character name: %d %s", v, len(name), code, body)
		}
	}
	// Baker's bundle, and the long agent's, stored once for both versions.
	if got := cacheFolders(t, th.h); len(got) != 2 {
		t.Fatalf("cache: %v", got)
	}
	escaped := strings.ReplaceAll(name, " ", "%20")
	code, body := th.do(t, "DELETE", "/api/agents/"+escaped, nil)
	if code != 200 {
		t.Fatalf("unpublish: %d %s", code, body)
	}
	if code, _ := th.do(t, "GET", "/a/"+escaped, nil); code != 404 {
		t.Fatalf("the unpublished agent's page: %d", code)
	}
	if vs, err := th.h.st.Versions(context.Background(), th.ws, name); err == nil || len(vs) != 0 {
		t.Fatalf("versions left: %v %v", vs, err)
	}
	// Another agent is never removed with it.
	if sv, err := th.h.cache.agent(context.Background(), "baker"); err != nil || sv.ver.Number != 1 {
		t.Fatal(err)
	}
}
