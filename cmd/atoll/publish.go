package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"atoll/agent"
	"atoll/publish"
	"atoll/store"
)

// publishConfig is the remembered hub address and token (DATA/publish.json,
// readable by the user only).
type publishConfig struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

func readPublishConfig(data string) publishConfig {
	var cfg publishConfig
	if b, err := os.ReadFile(filepath.Join(data, "publish.json")); err == nil {
		_ = json.Unmarshal(b, &cfg)
	}
	return cfg
}

func (e *env) publishCmd(args []string) error {
	f := e.flags("publish", "--agent NAME [--to URL] [--token TOKEN] [--with-sources]")
	name := f.String("agent", "", "agent to publish")
	to := f.String("to", "", "hub address, e.g. https://agents.example.com (remembered)")
	token := f.String("token", "", "publisher token from `atoll hub token create` (remembered)")
	withSources := f.Bool("with-sources", false, "include the original files in the bundle")
	rollback := f.Bool("rollback", false, "restore the previously published version on the hub instead of uploading")
	if _, err := parse(f, args); err != nil {
		return err
	}
	if *name == "" {
		f.Usage()
		return errUsage{"publish needs --agent NAME"}
	}
	cfgPath := filepath.Join(e.data, "publish.json")
	cfg := readPublishConfig(e.data)
	if *to != "" {
		cfg.URL = strings.TrimRight(*to, "/")
	}
	if *token != "" {
		cfg.Token = *token
	}
	if cfg.URL == "" || cfg.Token == "" {
		return errUsage{"publish needs --to URL and --token TOKEN the first time (they are remembered in " + cfgPath + ")"}
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := store.WriteFileAtomic(cfgPath, b, 0o600); err != nil {
		return err
	}
	if *rollback {
		v, err := publish.Rollback(context.Background(), cfg.URL, cfg.Token, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Rolled back %s on %s: now version %d (a copy of version %d).\n", *name, cfg.URL, v.Version, v.Restored)
		return nil
	}
	st, c, err := e.open()
	if err != nil {
		return err
	}
	defer st.Close()
	repo := agent.NewRepo(filepath.Join(e.data, "agents"))
	// The agent's test set runs first, so what is published has been checked.
	if qs, err := agent.LoadTestSet(filepath.Join(e.data, "agents"), *name); err != nil {
		return err
	} else if len(qs) > 0 {
		def, err := repo.Get(*name)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "Running the test set (%d questions)…\n", len(qs))
		run, err := agent.NewTestRuns(filepath.Join(e.data, "agents")).Run(context.Background(), e.runner(st, c), def, qs, nil)
		if err != nil {
			fmt.Fprintf(e.stderr, "note: the test set could not run (%s); publishing anyway.\n", sentence(err))
		} else {
			fmt.Fprintf(e.stdout, "Test set: %s\n", run.Summary())
		}
	}
	var bundle bytes.Buffer
	x := &publish.Exporter{Store: st, Agents: repo, Models: c, Generator: "atoll " + version}
	if _, warnings, err := x.Export(context.Background(), &bundle, *name, publish.ExportOptions{WithSources: *withSources}); err != nil {
		return err
	} else {
		for _, w := range warnings {
			fmt.Fprintln(e.stderr, "note:", w)
		}
	}
	fmt.Fprintf(e.stderr, "Uploading %s (%.1f MB) to %s…\n", *name, float64(bundle.Len())/1e6, cfg.URL)
	last := -25
	size := int64(bundle.Len())
	out, err := publish.Upload(context.Background(), cfg.URL, cfg.Token, &bundle, size, func(sent, total int64) {
		if pct := int(100 * sent / max(total, 1)); pct >= last+25 {
			last = pct
			fmt.Fprintf(e.stderr, "  %d%%\n", pct)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Published %s (version %d)\nChat page: %s\nWidget: %s\nAPI: POST %s with \"model\": %q\n", out.Agent, out.Version, out.Chat, out.Widget, out.API, out.Agent)
	return nil
}
