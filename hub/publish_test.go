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
	if _, err := agents.Save(agent.Definition{Name: name, Model: "tiny", KBs: []string{"recipes"}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	x := &publish.Exporter{Store: st, Agents: agents}
	if _, _, err := x.Export(context.Background(), &buf, name, publish.ExportOptions{}); err != nil {
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

func kbFolders(t testing.TB, dataDir string) []string {
	entries, _ := os.ReadDir(filepath.Join(dataDir, "kb"))
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
// the hub answered 422), and unpublishing removes every knowledge-base copy
// its versions used, documents included.
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
	if got := kbFolders(t, th.h.DataDir()); len(got) != 3 {
		t.Fatalf("two versions should each have their own copy beside bakery: %v", got)
	}
	code, body := th.do(t, "DELETE", "/api/agents/"+strings.ReplaceAll(name, " ", "%20"), nil)
	if code != 200 {
		t.Fatalf("unpublish: %d %s", code, body)
	}
	if got := kbFolders(t, th.h.DataDir()); len(got) != 1 || got[0] != "bakery" {
		t.Fatalf("unpublishing left knowledge bases behind: %v", got)
	}
	if _, err := os.Stat(filepath.Join(th.h.DataDir(), "agents", name)); !os.IsNotExist(err) {
		t.Fatalf("the agent's folder is still there: %v", err)
	}
	// Another agent's knowledge base is never removed with it.
	if _, err := th.h.agents.Get("baker"); err != nil {
		t.Fatal(err)
	}
}
