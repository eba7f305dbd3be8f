package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"atoll/agent"
	"atoll/internal/testbin"
	"atoll/publish"
	"atoll/store"
)

// bigBundle exports an agent whose knowledge base has n documents: big
// enough that importing it takes a while (every document is a durable
// write), so a kill lands in the middle.
func bigBundle(t *testing.T, n int) string {
	t.Helper()
	src := t.TempDir()
	st, err := store.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Create("manuals", ""); err != nil {
		t.Fatal(err)
	}
	kb, _ := st.KB("manuals")
	for i := 0; i < n; i++ {
		text := fmt.Sprintf("Manual page %d explains setting number %d of the machine.", i, i)
		if err := kb.Put(store.Doc{Path: fmt.Sprintf("/docs/m%04d.md", i), Name: fmt.Sprintf("m%04d.md", i), Format: "md",
			Hash: fmt.Sprint(i), Status: store.StatusOK, Chunks: []store.Chunk{{Text: text, End: len(text)}}}); err != nil {
			t.Fatal(err)
		}
	}
	agents := agent.NewRepo(filepath.Join(src, "agents"))
	if _, err := agents.Save(agent.Definition{Name: "helper", Model: "tiny", KBs: []string{"manuals"}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "helper.atoll")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	x := &publish.Exporter{Store: st, Agents: agents}
	if _, _, err := x.Export(context.Background(), f, "helper", publish.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// TestKilledImportLeavesNothing: `kill -9` in the middle of `atoll import`
// leaves no partial knowledge base, and the next import gets the bundle's
// own names (not "-imported"), with no staging folder left behind.
func TestKilledImportLeavesNothing(t *testing.T) {
	bundle := bigBundle(t, 1000)
	data := t.TempDir()
	cmd := exec.Command(testbin.Atoll(t), "--data", data, "--ollama", noOllama, "import", bundle)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill as soon as any knowledge base log has records, wherever the
	// import writes it.
	deadline := time.Now().Add(60 * time.Second)
	killed := false
	for !killed && time.Now().Before(deadline) {
		filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == "docs.log" {
				if fi, err := d.Info(); err == nil && fi.Size() > 0 {
					killed = cmd.Process.Signal(syscall.SIGKILL) == nil
					return fs.SkipAll
				}
			}
			return nil
		})
	}
	state, _ := cmd.Process.Wait()
	if !killed || state.Success() {
		t.Fatalf("the import was not killed in the middle (killed %v, %v)", killed, state)
	}

	r := atoll(t, "--data", data, "kb", "list", "--json")
	var kbs []struct{ Name string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &kbs) != nil || len(kbs) != 0 {
		t.Fatalf("after kill -9, kb list shows %s (exit %d, %s); want no knowledge base", r.stdout, r.code, r.stderr)
	}
	if r := atoll(t, "--data", data, "agent", "list", "--json"); !strings.Contains(r.stdout, "[]") {
		t.Fatalf("after kill -9, agent list shows %s", r.stdout)
	}

	r = atoll(t, "--data", data, "--ollama", noOllama, "import", bundle, "--json")
	var rep publish.Report
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("second import: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if rep.Agent != "helper" || rep.KnowledgeBases["manuals"] != "manuals" {
		t.Fatalf("the second import was renamed: %+v", rep)
	}
	if n := len(stored(t, data, "manuals")); n != 1000 {
		t.Fatalf("the second import holds %d of 1000 documents", n)
	}
	var left []string
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "staging") || strings.HasPrefix(d.Name(), "import-") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		t.Fatalf("staging left behind: %v", left)
	}
}
