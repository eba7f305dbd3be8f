package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"atoll/agent"
	"atoll/hubstore"
	"atoll/publish"
	"atoll/store"
)

// DefaultWorkspace receives what a hub kept before workspaces existed, and
// the tokens `atoll hub token create` makes without --workspace.
const DefaultWorkspace = "default"

// legacyMarker, in the hub's folder, records that its tokens.json and
// data/ were imported into the database.
const legacyMarker = "imported-to-db"

// importLegacy brings a hub folder from before the database into it, once:
// its publisher tokens (by hash) and its published agents (the current
// version of each, as a bundle exported from data/) with their leads go to
// the workspace "default". Conversations are not carried over: they were
// end users' chats under the retention period. Each step is idempotent,
// so an import cut short runs again whole on the next start; the folder is
// left as it was.
func (h *Hub) importLegacy(ctx context.Context) error {
	dir := h.cfg.Dir
	if _, err := os.Stat(filepath.Join(dir, legacyMarker)); err == nil {
		return nil
	}
	toks, err := NewTokens(dir).load()
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	repo := agent.NewRepo(filepath.Join(data, "agents"))
	defs, err := repo.List()
	if err != nil {
		return err
	}
	if len(toks) == 0 && len(defs) == 0 {
		return nil
	}
	ws, err := h.st.WorkspaceByName(ctx, DefaultWorkspace)
	if errors.Is(err, hubstore.ErrNotFound) {
		ws, err = h.st.CreateWorkspace(ctx, DefaultWorkspace)
	}
	if err != nil {
		return err
	}
	have := map[string]bool{}
	if old, err := h.st.Tokens(ctx, ws.ID); err == nil {
		for _, t := range old {
			have[t.Hash] = true
		}
	}
	for _, t := range toks {
		if have[t.Hash] {
			continue
		}
		if _, err := h.st.CreateToken(ctx, ws.ID, t.Label, t.Hash); err != nil && !errors.Is(err, hubstore.ErrAlreadyExists) {
			return err
		}
	}
	if len(defs) > 0 {
		st, err := store.Open(data)
		if err != nil {
			return err
		}
		defer st.Close()
		leads := agent.NewLeads(filepath.Join(data, "leads"))
		x := &publish.Exporter{Store: st, Agents: repo, Generator: "atoll hub (import)"}
		for _, d := range defs {
			if _, err := h.st.Agent(ctx, ws.ID, d.Name); err == nil {
				continue
			}
			if err := h.importAgent(ctx, ws.ID, x, d.Name); err != nil {
				return fmt.Errorf("agent %q: %w", d.Name, err)
			}
			ls, err := leads.List(d.Name)
			if err != nil {
				return err
			}
			for _, l := range ls {
				if _, _, err := h.st.SaveLead(ctx, ws.ID, d.Name, "import/"+l.ID, l); err != nil {
					return err
				}
			}
		}
	}
	h.cfg.Log.Info("imported the hub folder into its database", "workspace", DefaultWorkspace, "tokens", len(toks), "agents", len(defs))
	return os.WriteFile(filepath.Join(dir, legacyMarker), []byte("tokens.json and data/ were imported into the hub database; they are no longer read\n"), 0o600)
}

func (h *Hub) importAgent(ctx context.Context, ws string, x *publish.Exporter, name string) error {
	f, err := os.CreateTemp(h.cache.dir, "import-*.atoll")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, _, err = x.Export(ctx, f, name, publish.ExportOptions{})
	f.Close()
	if err != nil {
		return err
	}
	hash, size, err := hashFile(f.Name())
	if err != nil {
		return err
	}
	def, err := h.cache.materialise(ctx, f.Name(), hash)
	if err != nil {
		return err
	}
	r, err := os.Open(f.Name())
	if err != nil {
		return err
	}
	err = h.st.PutBundle(ctx, ws, hash, size, r)
	r.Close()
	if err != nil {
		return err
	}
	def.Name = name
	b, _ := json.Marshal(def)
	_, err = h.st.Publish(ctx, ws, name, b, hash)
	return err
}
