package app

import (
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/store"
)

// TestBackgroundEmbedding: chunks stored while the embedding model was
// unavailable get their vectors in the background once the app runs, and a
// model switch completes in the background too.
func TestBackgroundEmbedding(t *testing.T) {
	fake := ollamafake.New(t)
	dir := t.TempDir()
	st, _ := store.Open(dir)
	st.Create("shop", ollamafake.DefaultEmbedModel)
	kb, _ := st.KB("shop")
	kb.Put(store.Doc{Path: "/d/a.md", Hash: "1", Status: store.StatusOK, Chunks: []store.Chunk{{Text: "cakes need 48 hours notice"}, {Text: "we deliver within 5 km"}}})
	st.Close()

	a, err := New(Config{DataDir: dir, OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitPending := func(what string, ok func(KB) bool) KB {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			kbs, _ := a.ListKBs()
			if len(kbs) == 1 && ok(kbs[0]) {
				return kbs[0]
			}
			time.Sleep(50 * time.Millisecond)
		}
		kbs, _ := a.ListKBs()
		t.Fatalf("%s: %+v", what, kbs)
		return KB{}
	}
	waitPending("pending chunks embedded in the background", func(k KB) bool { return k.Pending == 0 })

	fake.AddModel(ollamafake.Model{Name: "other-embed", Family: "bert", Embedding: true, EmbeddingLength: 32, Capabilities: []string{"embedding"}})
	v, err := a.SetEmbedModel("shop", "other-embed")
	if err != nil {
		t.Fatal(err)
	}
	if v.EmbedModel != ollamafake.DefaultEmbedModel || v.NextEmbedModel != "other-embed" {
		t.Fatalf("the old model should serve while the new one is built: %+v", v)
	}
	waitPending("model switch completed", func(k KB) bool { return k.EmbedModel == "other-embed" && k.NextEmbedModel == "" && k.Pending == 0 })
}
