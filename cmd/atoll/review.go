package main

import (
	"context"
	"fmt"

	"atoll/publish"
	"atoll/review"
)

// reviewPull brings a published agent's answers voted down or not covered
// back from the hub it was published to, from where the last pull stopped.
func (e *env) reviewPull(args []string) error {
	fs := e.flags("review pull", "")
	name := fs.String("agent", "", "agent name (here, or as published)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := leadsAgent(fs, name, args); err != nil {
		return err
	}
	cfg := readPublishConfig(e.data)
	if cfg.URL == "" || cfg.Token == "" {
		return fmt.Errorf("%s is not published from this data folder: publish it first with atoll publish --agent %s, which remembers the hub and token", *name, *name)
	}
	// --agent is the agent here, asked for under its remembered public name.
	res, err := review.NewQueue(review.QueueDir(e.data)).Pull(context.Background(), *name, cfg.PullKey(*name), publish.ReviewFetcher(cfg.URL, cfg.Token, cfg.PublicName(*name)))
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e, res)
	}
	fmt.Fprintln(e.stdout, res.Sentence())
	return nil
}
