package hub

import (
	"context"
	"os"

	"atoll/agent"
	"atoll/publish"
	"atoll/store"
)

// Importer installs a validated bundle into the hub's data folder, through
// the hub's own store (so its writer locks are the ones every change takes).
// A bundle for an agent that is already published becomes its next version,
// with its own copy of the knowledge, so rollback restores the previous;
// the agent keeps its name throughout, whatever its length.
func Importer(models publish.ModelLister) func(context.Context, string, *store.Store, *agent.Repo) (string, error) {
	return func(ctx context.Context, path string, st *store.Store, agents *agent.Repo) (string, error) {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return "", err
		}
		b, err := publish.Read(f, fi.Size(), publish.DefaultLimits)
		if err != nil {
			return "", err
		}
		rep, err := b.Install(ctx, publish.Target{Store: st, Agents: agents, Models: models}, publish.ImportOptions{NextVersion: true})
		if err != nil {
			return "", err
		}
		return rep.Agent, nil
	}
}
