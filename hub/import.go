package hub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"atoll/agent"
	"atoll/publish"
	"atoll/store"
)

// Importer installs a validated bundle into the hub's data folder. A
// bundle for an agent that is already published becomes its next version
// (with its own copy of the knowledge), so rollback restores the previous.
func Importer(models publish.ModelLister) func(context.Context, string, string) (string, error) {
	return func(ctx context.Context, path, dataDir string) (string, error) {
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
		st, err := store.Open(dataDir)
		if err != nil {
			return "", err
		}
		defer st.Close()
		repo := agent.NewRepo(filepath.Join(dataDir, "agents"))
		name := b.Manifest.Agent.Name
		_, exists := repo.Get(name)
		opt := publish.ImportOptions{}
		if exists == nil {
			opt.As = fmt.Sprintf("%s-next-%d", name, time.Now().UnixNano()%1e9)
		}
		rep, err := b.Install(ctx, publish.Target{Store: st, Agents: repo, Models: models}, opt)
		if err != nil {
			return "", err
		}
		if exists != nil {
			return rep.Agent, nil
		}
		staged, err := repo.Get(rep.Agent)
		if err != nil {
			return "", err
		}
		staged.Name = name
		if _, err := repo.Save(staged); err != nil {
			return "", err
		}
		_ = repo.Delete(rep.Agent)
		return name, nil
	}
}
