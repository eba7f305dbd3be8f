package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"

	"atoll/app"
	"atoll/llm"
)

// models lists the installed models with what fits the GPU; `pull` downloads one.
func (e *env) models(args []string) error {
	fs := e.flags("models", "")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return errUsage{"models takes no arguments; atoll pull MODEL downloads one"}
	}
	a, err := app.New(app.Config{DataDir: e.data, OllamaURL: e.ollama, Version: version, Holder: "atoll models"}, nil, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	ms, err := a.ListModels()
	if err != nil {
		return err
	}
	gpu, _ := a.GPUInfo()
	if *asJSON {
		return writeJSON(e, map[string]any{"gpu": gpu, "models": ms})
	}
	if gpu.MemoryBytes > 0 {
		fmt.Fprintf(e.stdout, "GPU: %s, %.1f GB (%s)\n\n", gpu.Name, float64(gpu.MemoryBytes)/(1<<30), gpu.Tool)
	} else {
		fmt.Fprintf(e.stdout, "%s\n\n", gpu.Note)
	}
	if len(ms) == 0 {
		fmt.Fprintln(e.stdout, "No model installed. Try: atoll pull qwen2.5:7b   and   atoll pull nomic-embed-text")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFAMILY\tPARAMS\tQUANT\tSIZE\tCONTEXT\tCAPABILITIES\tFITS GPU\t")
	for _, m := range ms {
		note := ""
		if m.Recommended {
			note = "recommended"
		}
		if m.Loaded {
			note = strings.TrimSpace(note + " loaded")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f GB\t%d\t%s\t%s\t%s\n", m.Name, m.Family, m.ParameterSize, m.Quantization, float64(m.Size)/1e9, m.ContextLength, strings.Join(m.Capabilities, ","), orDash(m.Fits), note)
	}
	return tw.Flush()
}

func (e *env) pull(args []string) error {
	fs := e.flags("pull", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errUsage{"pull needs one MODEL name, e.g. qwen2.5:7b"}
	}
	c, err := llm.New(e.ollama)
	if err != nil {
		return errUsage{fmt.Sprintf("--ollama %q: %v", e.ollama, err)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bar := e.startProgress()
	err = c.Pull(ctx, pos[0], func(p llm.PullProgress) {
		frac, size := 0.0, ""
		if p.Total > 0 {
			frac = float64(p.Completed) / float64(p.Total)
			size = fmt.Sprintf(": %.0f%% of %.1f GB", 100*frac, float64(p.Total)/1e9)
		}
		bar.set(p.Status, frac, fmt.Sprintf("%s: %s%s", safe(pos[0]), safe(p.Status), size))
	})
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%s is installed.\n", safe(pos[0]))
	return nil
}
