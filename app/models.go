package app

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"atoll/ingest"
	"atoll/llm"
)

// Model is an installed model as the frontend lists it.
type Model struct {
	Name          string   `json:"name"`
	Family        string   `json:"family"`
	ParameterSize string   `json:"parameterSize"`
	Quantization  string   `json:"quantization"`
	Size          int64    `json:"size"`
	ContextLength int      `json:"contextLength"`
	Capabilities  []string `json:"capabilities"`
	Loaded        bool     `json:"loaded"`      // in memory now (/api/ps)
	VRAM          int64    `json:"vram"`        // bytes of it on the GPU when loaded
	Fits          string   `json:"fits"`        // "gpu", "partial", "cpu" or "" when no GPU is known
	Recommended   bool     `json:"recommended"` // the largest chat model that fits the GPU
}

// ListModels lists the installed models with what is loaded and whether each
// fits the GPU.
func (a *App) ListModels() ([]Model, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := a.client()
	ms, err := c.List(ctx)
	if err != nil {
		return nil, errors.New(llm.Sentence(err))
	}
	running := map[string]llm.Running{}
	if rs, err := c.Running(ctx); err == nil {
		for _, r := range rs {
			running[r.Name] = r
		}
	}
	gpu := detectGPU(ctx)
	out := make([]Model, 0, len(ms))
	for _, m := range ms {
		caps := m.Capabilities
		if caps == nil {
			caps = []string{}
		}
		v := Model{Name: m.Name, Family: m.Family, ParameterSize: m.ParameterSize, Quantization: m.Quantization, Size: m.Size, ContextLength: m.ContextLength, Capabilities: caps}
		if r, ok := running[m.Name]; ok {
			v.Loaded, v.VRAM = true, r.SizeVRAM
		}
		v.Fits = fit(m.Size, gpu.MemoryBytes)
		out = append(out, v)
	}
	markRecommended(out, gpu.MemoryBytes)
	return out, nil
}

// fit says where a model of size bytes runs on a GPU with mem bytes: weights
// plus ~20% for the context cache and runtime must fit to run fully on it.
func fit(size, mem int64) string {
	switch {
	case mem <= 0:
		return ""
	case float64(size)*1.2 <= float64(mem):
		return "gpu"
	case float64(size)*0.5 <= float64(mem):
		return "partial"
	}
	return "cpu"
}

// markRecommended flags the largest chat-capable model that fits the GPU.
func markRecommended(ms []Model, mem int64) {
	if mem <= 0 {
		return
	}
	best := -1
	for i, m := range ms {
		chat := len(m.Capabilities) == 0 || contains(m.Capabilities, "completion")
		if chat && m.Fits == "gpu" && (best < 0 || m.Size > ms[best].Size) {
			best = i
		}
	}
	if best >= 0 {
		ms[best].Recommended = true
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// GPU is what the machine's GPU tools report.
type GPU struct {
	Name        string `json:"name"`
	MemoryBytes int64  `json:"memoryBytes"` // total, 0 when unknown
	Tool        string `json:"tool"`        // "nvidia-smi", "rocm-smi" or ""
	Note        string `json:"note"`
}

// GPUInfo reads the GPU's memory where a vendor tool reports it.
func (a *App) GPUInfo() (GPU, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return detectGPU(ctx), nil
}

func detectGPU(ctx context.Context) GPU {
	if out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits").Output(); err == nil {
		if g, ok := parseNvidiaSMI(string(out)); ok {
			return g
		}
	}
	if out, err := exec.CommandContext(ctx, "rocm-smi", "--showmeminfo", "vram", "--csv").Output(); err == nil {
		if g, ok := parseRocmSMI(string(out)); ok {
			return g
		}
	}
	return GPU{Note: "No NVIDIA or AMD GPU tool found (nvidia-smi, rocm-smi): models run on the CPU, so prefer small ones (1–4B parameters)."}
}

// parseNvidiaSMI reads "NAME, MiB" lines; with several GPUs the largest counts.
func parseNvidiaSMI(out string) (GPU, bool) {
	var best GPU
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, mib, ok := strings.Cut(line, ",")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(mib), 10, 64)
		if err != nil {
			continue
		}
		if b := n << 20; b > best.MemoryBytes {
			best = GPU{Name: strings.TrimSpace(name), MemoryBytes: b, Tool: "nvidia-smi"}
		}
	}
	return best, best.MemoryBytes > 0
}

// parseRocmSMI reads rocm-smi's CSV: a header with "VRAM Total Memory (B)".
func parseRocmSMI(out string) (GPU, bool) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		return GPU{}, false
	}
	head := strings.Split(lines[0], ",")
	col := -1
	for i, h := range head {
		if strings.Contains(h, "VRAM Total Memory") {
			col = i
		}
	}
	if col < 0 {
		return GPU{}, false
	}
	var best GPU
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if col >= len(f) {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(f[col]), 10, 64); err == nil && n > best.MemoryBytes {
			best = GPU{Name: strings.TrimSpace(f[0]), MemoryBytes: n, Tool: "rocm-smi"}
		}
	}
	return best, best.MemoryBytes > 0
}

// PullEvent is the models:pull payload.
type PullEvent struct {
	Job       string `json:"job"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Total     int64  `json:"total"`
	Completed int64  `json:"completed"`
	Done      bool   `json:"done"`
	Error     string `json:"error"`
}

// PullModel downloads a model in the background; progress arrives as
// models:pull events, the last one with done set (and error when it failed,
// saying why and how to import a GGUF file instead).
func (a *App) PullModel(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t\n") {
		return "", errors.New("type a model name such as qwen2.5:7b")
	}
	job := newID()
	ctx, cancel := context.WithCancel(context.Background())
	a.jobs.Store(job, cancel)
	c := a.client()
	a.bg.Add(1) // Close waits for it
	go func() {
		defer a.bg.Done()
		defer a.jobs.Delete(job)
		defer cancel()
		last := time.Time{}
		err := c.Pull(ctx, name, func(p llm.PullProgress) {
			if time.Since(last) < 150*time.Millisecond && p.Status != "success" {
				return
			}
			last = time.Now()
			a.send(EventModelsPull, PullEvent{Job: job, Name: name, Status: p.Status, Total: p.Total, Completed: p.Completed})
		})
		ev := PullEvent{Job: job, Name: name, Done: true, Status: "success"}
		if err != nil {
			ev.Status, ev.Error = "failed", llm.Sentence(err)
		}
		a.send(EventModelsPull, ev)
	}()
	return job, nil
}

// OCREngines is what the Models screen offers for reading scans and photos.
type OCREngines struct {
	// Model is the chosen vision model; "" is Tesseract.
	Model string `json:"model"`
	// Vision lists the installed models whose capabilities include
	// "vision" (Ollama's /api/show); empty when Ollama is not reachable.
	Vision []string `json:"vision"`
	// Tesseract is its version line, "" when it is not installed.
	Tesseract string `json:"tesseract"`
	// Error says why the vision models could not be listed.
	Error string `json:"error,omitempty"`
}

// OCREngines lists the OCR engines: Tesseract and the installed vision
// models, with the one in use.
func (a *App) OCREngines() (OCREngines, error) {
	e := OCREngines{Model: a.current().OCRModel, Vision: []string{}}
	e.Tesseract, _ = ingest.OCRAvailable(&ingest.OCR{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ms, err := a.client().List(ctx)
	if err != nil {
		e.Error = llm.Sentence(err)
		return e, nil
	}
	for _, m := range ms {
		if m.Has(llm.CapVision) {
			e.Vision = append(e.Vision, m.Name)
		}
	}
	return e, nil
}
