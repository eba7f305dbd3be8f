package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"atoll/hubstore"
)

const wsCols = `id, name, created, requests_per_day, max_streams`

func scanWS(sc interface{ Scan(...any) error }) (hubstore.Workspace, error) {
	var w hubstore.Workspace
	var created, streams int64
	err := sc.Scan(&w.ID, &w.Name, &created, &w.RequestsPerDay, &streams)
	w.Created, w.MaxStreams = tm(created), int(streams)
	return w, err
}

func (s *Store) CreateWorkspace(ctx context.Context, name string) (hubstore.Workspace, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return hubstore.Workspace{}, fmt.Errorf("a workspace needs a name")
	}
	w := hubstore.Workspace{ID: hubstore.NewID(), Name: name, Created: now()}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO workspaces (id, name, created) VALUES (?, ?, ?)`), w.ID, w.Name, ns(w.Created))
	if err != nil && s.d.IsUnique(err) {
		return hubstore.Workspace{}, fmt.Errorf("a workspace called %q: %w", name, hubstore.ErrAlreadyExists)
	}
	return w, err
}

func (s *Store) Workspace(ctx context.Context, id string) (hubstore.Workspace, error) {
	w, err := scanWS(s.row(ctx, `SELECT `+wsCols+` FROM workspaces WHERE id = ?`, id))
	return w, notFound(fmt.Sprintf("workspace %q", id), err)
}

func (s *Store) WorkspaceByName(ctx context.Context, name string) (hubstore.Workspace, error) {
	w, err := scanWS(s.row(ctx, `SELECT `+wsCols+` FROM workspaces WHERE name = ?`, name))
	return w, notFound(fmt.Sprintf("workspace %q", name), err)
}

func (s *Store) Workspaces(ctx context.Context) ([]hubstore.Workspace, error) {
	rows, err := s.query(ctx, `SELECT `+wsCols+` FROM workspaces ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanWS)
}

func (s *Store) UpdateWorkspace(ctx context.Context, id string, fn func(hubstore.Workspace) (hubstore.Workspace, error)) (hubstore.Workspace, error) {
	var out hubstore.Workspace
	err := s.inTx(ctx, func(t *tx) error {
		old, err := scanWS(t.row(`SELECT `+wsCols+` FROM workspaces WHERE id = ?`+s.d.ForUpdate, id))
		if err != nil {
			return notFound(fmt.Sprintf("workspace %q", id), err)
		}
		nw, err := fn(old)
		if err != nil {
			return err
		}
		nw.ID, nw.Name, nw.Created = old.ID, old.Name, old.Created
		if _, err := t.exec(`UPDATE workspaces SET requests_per_day = ?, max_streams = ? WHERE id = ?`, nw.RequestsPerDay, nw.MaxStreams, id); err != nil {
			return err
		}
		out = nw
		return nil
	})
	return out, err
}

const tokCols = `id, workspace, label, hash, created, revoked`

func scanTok(sc interface{ Scan(...any) error }) (hubstore.Token, error) {
	var k hubstore.Token
	var created, revoked int64
	err := sc.Scan(&k.ID, &k.Workspace, &k.Label, &k.Hash, &created, &revoked)
	k.Created, k.Revoked = tm(created), tm(revoked)
	return k, err
}

func (s *Store) CreateToken(ctx context.Context, ws, label, hash string) (hubstore.Token, error) {
	if hash == "" {
		return hubstore.Token{}, fmt.Errorf("a token needs its hash")
	}
	k := hubstore.Token{ID: hubstore.NewID(), Workspace: ws, Label: label, Hash: hash, Created: now()}
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.row(`SELECT id FROM workspaces WHERE id = ?`, ws).Scan(new(string)); err != nil {
			return notFound(fmt.Sprintf("workspace %q", ws), err)
		}
		_, err := t.exec(`INSERT INTO tokens (id, workspace, label, hash, created) VALUES (?, ?, ?, ?, ?)`, k.ID, ws, label, hash, ns(k.Created))
		if err != nil && s.d.IsUnique(err) {
			return fmt.Errorf("this token: %w", hubstore.ErrAlreadyExists)
		}
		return err
	})
	return k, err
}

func (s *Store) Tokens(ctx context.Context, ws string) ([]hubstore.Token, error) {
	rows, err := s.query(ctx, `SELECT `+tokCols+` FROM tokens WHERE workspace = ? ORDER BY created, id`, ws)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanTok)
}

func (s *Store) RevokeToken(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(t *tx) error {
		var revoked int64
		if err := t.row(`SELECT revoked FROM tokens WHERE id = ? AND workspace = ?`+s.d.ForUpdate, id, ws).Scan(&revoked); err != nil {
			return notFound(fmt.Sprintf("token %q", id), err)
		}
		if revoked != 0 {
			return nil
		}
		if _, err := t.exec(`UPDATE tokens SET revoked = ? WHERE id = ? AND workspace = ?`, ns(now()), id, ws); err != nil {
			return err
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangeTokenRevoked, Workspace: ws, ID: id})
	})
}

func (s *Store) TokenByHash(ctx context.Context, hash string) (hubstore.Token, error) {
	k, err := scanTok(s.row(ctx, `SELECT `+tokCols+` FROM tokens WHERE hash = ? AND revoked = 0`, hash))
	return k, notFound("this publisher token", err)
}

func (s *Store) FindToken(ctx context.Context, id string) (hubstore.Token, error) {
	k, err := scanTok(s.row(ctx, `SELECT `+tokCols+` FROM tokens WHERE id = ?`, id))
	return k, notFound(fmt.Sprintf("token %q", id), err)
}

const keyCols = `id, workspace, agent, name, hash, created, revoked`

func scanKey(sc interface{ Scan(...any) error }) (hubstore.APIKey, error) {
	var k hubstore.APIKey
	var created, revoked int64
	err := sc.Scan(&k.ID, &k.Workspace, &k.Agent, &k.Name, &k.Hash, &created, &revoked)
	k.Created, k.Revoked = tm(created), tm(revoked)
	return k, err
}

// agentIn checks that agent is published by ws (ErrNotFound otherwise),
// locking its row when lock is set: writes that depend on the agent's
// other rows (leads) run one at a time per agent.
func (t *tx) agentIn(ws, agent string, lock bool) error {
	q := `SELECT name FROM agents WHERE workspace = ? AND name = ?`
	if lock {
		q += t.s.d.ForUpdate
	}
	if err := t.row(q, ws, agent).Scan(new(string)); err != nil {
		return notFound(fmt.Sprintf("agent %q", agent), err)
	}
	return nil
}

func (s *Store) CreateKey(ctx context.Context, ws, agent, name, hash string) (hubstore.APIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || hash == "" {
		return hubstore.APIKey{}, fmt.Errorf("an API key needs a name and its hash")
	}
	k := hubstore.APIKey{ID: hubstore.NewID(), Workspace: ws, Agent: agent, Name: name, Hash: hash, Created: now()}
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.agentIn(ws, agent, true); err != nil {
			return err
		}
		var n int
		if err := t.row(`SELECT COUNT(*) FROM api_keys WHERE workspace = ? AND agent = ? AND name = ? AND revoked = 0`, ws, agent, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("agent %q already has a key called %q: %w", agent, name, hubstore.ErrAlreadyExists)
		}
		_, err := t.exec(`INSERT INTO api_keys (id, workspace, agent, name, hash, created) VALUES (?, ?, ?, ?, ?, ?)`, k.ID, ws, agent, name, hash, ns(k.Created))
		if err != nil && s.d.IsUnique(err) {
			return fmt.Errorf("this key: %w", hubstore.ErrAlreadyExists)
		}
		return err
	})
	return k, err
}

func (s *Store) Keys(ctx context.Context, ws, agent string) ([]hubstore.APIKey, error) {
	if _, err := s.Agent(ctx, ws, agent); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE workspace = ? AND agent = ? ORDER BY created, id`, ws, agent)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanKey)
}

func (s *Store) RevokeKey(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(t *tx) error {
		var revoked int64
		var agent string
		if err := t.row(`SELECT revoked, agent FROM api_keys WHERE id = ? AND workspace = ?`+s.d.ForUpdate, id, ws).Scan(&revoked, &agent); err != nil {
			return notFound(fmt.Sprintf("API key %q", id), err)
		}
		if revoked != 0 {
			return nil
		}
		if _, err := t.exec(`UPDATE api_keys SET revoked = ? WHERE id = ? AND workspace = ?`, ns(now()), id, ws); err != nil {
			return err
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangeKeyRevoked, Workspace: ws, Agent: agent, ID: id})
	})
}

func (s *Store) KeyByHash(ctx context.Context, hash string) (hubstore.APIKey, error) {
	k, err := scanKey(s.row(ctx, `SELECT `+keyCols+` FROM api_keys WHERE hash = ? AND revoked = 0`, hash))
	return k, notFound("this API key", err)
}

func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
