package app

import (
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/internal/ollamafake"
)

type recordEmitter struct {
	mu  sync.Mutex
	evs []any
}

func (r *recordEmitter) Emit(name string, payload any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == EventModelsPull {
		r.evs = append(r.evs, payload)
	}
}

func (r *recordEmitter) last() (PullEvent, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.evs) == 0 {
		return PullEvent{}, 0
	}
	return r.evs[len(r.evs)-1].(PullEvent), len(r.evs)
}

func waitDone(t *testing.T, rec *recordEmitter) (PullEvent, int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ev, n := rec.last(); ev.Done {
			return ev, n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no final models:pull event")
	return PullEvent{}, 0
}

func TestPullModel(t *testing.T) {
	fake := ollamafake.New(t)
	rec := &recordEmitter{}
	a, err := New(Config{DataDir: t.TempDir(), OllamaURL: fake.URL}, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fake.Pullable(ollamafake.Model{Name: "qwen-small", Family: "qwen2", ParameterSize: "1.5B", Size: 1_000_000_000, ContextLength: 32768})
	if _, err := a.PullModel("qwen-small"); err != nil {
		t.Fatal(err)
	}
	ev, n := waitDone(t, rec)
	if ev.Error != "" || n < 2 {
		t.Fatalf("pull: %+v after %d events", ev, n)
	}
	ms, _ := a.ListModels()
	found := false
	for _, m := range ms {
		found = found || strings.HasPrefix(m.Name, "qwen-small")
	}
	if !found {
		t.Fatalf("pulled model not listed: %+v", ms)
	}

	// Offline: the reason and the GGUF way round.
	rec2 := &recordEmitter{}
	a.emit = rec2
	if _, err := a.PullModel("llama3.1:8b"); err != nil {
		t.Fatal(err)
	}
	ev, _ = waitDone(t, rec2)
	if ev.Error == "" || !strings.Contains(ev.Error, "GGUF") {
		t.Fatalf("offline pull should say how to import a GGUF file: %+v", ev)
	}
	if _, err := a.PullModel("two words"); err == nil {
		t.Fatal("a name with spaces should be refused")
	}
}

func TestGPUParsingAndFit(t *testing.T) {
	g, ok := parseNvidiaSMI("NVIDIA GeForce RTX 3060, 12288\nNVIDIA T400, 2048\n")
	if !ok || g.Name != "NVIDIA GeForce RTX 3060" || g.MemoryBytes != 12288<<20 {
		t.Fatalf("nvidia: %+v", g)
	}
	g, ok = parseRocmSMI("device,VRAM Total Memory (B),VRAM Total Used Memory (B)\ncard0,17163091968,1245184\n")
	if !ok || g.MemoryBytes != 17163091968 {
		t.Fatalf("rocm: %+v", g)
	}
	if _, ok := parseNvidiaSMI("NVIDIA-SMI has failed"); ok {
		t.Fatal("garbage parsed")
	}
	ms := []Model{
		{Name: "big", Size: 30 << 30, Capabilities: []string{"completion"}},
		{Name: "large", Size: 16 << 30, Capabilities: []string{"completion"}},
		{Name: "mid", Size: 8 << 30, Capabilities: []string{"completion", "tools"}},
		{Name: "small", Size: 2 << 30, Capabilities: []string{"completion"}},
		{Name: "embed", Size: 9 << 30, Capabilities: []string{"embedding"}},
	}
	mem := int64(12 << 30)
	for i := range ms {
		ms[i].Fits = fit(ms[i].Size, mem)
	}
	markRecommended(ms, mem)
	if ms[0].Fits != "cpu" || ms[1].Fits != "partial" || ms[2].Fits != "gpu" || !ms[2].Recommended || ms[3].Recommended || ms[4].Recommended {
		t.Fatalf("fit/recommend: %+v", ms)
	}
	markRecommended(ms, 0) // no GPU: nothing more is recommended
	if fit(1, 0) != "" {
		t.Fatal("no GPU: fit unknown")
	}
}
