package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"atoll/hubstore"
)

// chunkSize bounds the memory a bundle takes on its way in and out.
const chunkSize = 1 << 20

func (s *Store) PutBundle(ctx context.Context, ws, hash string, size int64, r io.Reader) error {
	if len(hash) != 64 {
		return fmt.Errorf("bundle hash %q is not a SHA-256 in hex: %w", hash, hubstore.ErrConflict)
	}
	return s.inTx(ctx, func(t *tx) error {
		if err := t.row(`SELECT id FROM workspaces WHERE id = ?`, ws).Scan(new(string)); err != nil {
			return notFound(fmt.Sprintf("workspace %q", ws), err)
		}
		res, err := t.exec(`INSERT INTO bundles (workspace, hash, size, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`, ws, hash, size, ns(now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // stored already: the bytes are not read again
		}
		h := sha256.New()
		buf := make([]byte, chunkSize)
		var total int64
		for n := 0; ; n++ {
			k, err := io.ReadFull(r, buf)
			if k > 0 {
				h.Write(buf[:k])
				total += int64(k)
				if total > size {
					return fmt.Errorf("the bundle is larger than the %d bytes announced: %w", size, hubstore.ErrConflict)
				}
				if _, err := t.exec(`INSERT INTO bundle_chunks (workspace, hash, n, data) VALUES (?, ?, ?, ?)`, ws, hash, n, buf[:k]); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("couldn't read the bundle: %w", err)
			}
		}
		if total != size || hex.EncodeToString(h.Sum(nil)) != hash {
			return fmt.Errorf("the bundle's bytes do not match its hash and size: %w", hubstore.ErrConflict)
		}
		return nil
	})
}

func (s *Store) OpenBundle(ctx context.Context, ws, hash string) (io.ReadCloser, int64, error) {
	var size int64
	if err := s.row(ctx, `SELECT size FROM bundles WHERE workspace = ? AND hash = ?`, ws, hash).Scan(&size); err != nil {
		return nil, 0, notFound(fmt.Sprintf("bundle %s", hash), err)
	}
	return &bundleReader{s: s, ctx: ctx, ws: ws, hash: hash}, size, nil
}

// bundleReader fetches one chunk at a time.
type bundleReader struct {
	s        *Store
	ctx      context.Context
	ws, hash string
	n        int
	cur      []byte
	eof      bool
}

func (b *bundleReader) Read(p []byte) (int, error) {
	for len(b.cur) == 0 {
		if b.eof {
			return 0, io.EOF
		}
		err := b.s.row(b.ctx, `SELECT data FROM bundle_chunks WHERE workspace = ? AND hash = ? AND n = ?`, b.ws, b.hash, b.n).Scan(&b.cur)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				b.eof = true
				return 0, io.EOF
			}
			return 0, err
		}
		b.n++
	}
	k := copy(p, b.cur)
	b.cur = b.cur[k:]
	return k, nil
}

func (b *bundleReader) Close() error { return nil }

const agentCols = `workspace, name, current_version, latest_version, access, created, updated`

func scanAgent(sc interface{ Scan(...any) error }) (hubstore.Agent, error) {
	var a hubstore.Agent
	var cur, latest, created, updated int64
	var access string
	err := sc.Scan(&a.Workspace, &a.Name, &cur, &latest, &access, &created, &updated)
	a.Current, a.Latest, a.Access, a.Created, a.Updated = int(cur), int(latest), hubstore.Access(access), tm(created), tm(updated)
	return a, err
}

const verCols = `workspace, agent, number, definition, bundle, created`

func scanVersion(sc interface{ Scan(...any) error }) (hubstore.Version, error) {
	var v hubstore.Version
	var n, created int64
	var def string
	err := sc.Scan(&v.Workspace, &v.Agent, &n, &def, &v.Bundle, &created)
	v.Number, v.Definition, v.Created = int(n), json.RawMessage(def), tm(created)
	return v, err
}

func (s *Store) Publish(ctx context.Context, ws, name string, definition json.RawMessage, bundle string) (hubstore.Version, error) {
	if name == "" {
		return hubstore.Version{}, fmt.Errorf("an agent needs a name to be published")
	}
	if !json.Valid(definition) {
		return hubstore.Version{}, fmt.Errorf("the definition of %q is not JSON", name)
	}
	var v hubstore.Version
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.row(`SELECT hash FROM bundles WHERE workspace = ? AND hash = ?`, ws, bundle).Scan(new(string)); err != nil {
			return notFound(fmt.Sprintf("bundle %s", bundle), err)
		}
		at := ns(now())
		if _, err := t.exec(`INSERT INTO agents (`+agentCols+`) VALUES (?, ?, 0, 0, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ws, name, string(hubstore.AccessOpen), at, at); err != nil {
			return err
		}
		a, err := scanAgent(t.row(`SELECT `+agentCols+` FROM agents WHERE name = ?`+s.d.ForUpdate, name))
		if err != nil {
			return err
		}
		if a.Workspace != ws {
			return fmt.Errorf("the name %q is taken by another workspace; publish under another name (--as): %w", name, hubstore.ErrAlreadyExists)
		}
		v = hubstore.Version{Workspace: ws, Agent: name, Number: a.Latest + 1, Definition: definition, Bundle: bundle, Created: tm(at)}
		if _, err := t.exec(`INSERT INTO versions (`+verCols+`) VALUES (?, ?, ?, ?, ?, ?)`, ws, name, v.Number, string(definition), bundle, at); err != nil {
			return err
		}
		if _, err := t.exec(`UPDATE agents SET current_version = ?, latest_version = ?, updated = ? WHERE workspace = ? AND name = ?`, v.Number, v.Number, at, ws, name); err != nil {
			return err
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangePublished, Workspace: ws, Agent: name, Version: v.Number})
	})
	return v, err
}

func (s *Store) Agent(ctx context.Context, ws, name string) (hubstore.Agent, error) {
	a, err := scanAgent(s.row(ctx, `SELECT `+agentCols+` FROM agents WHERE workspace = ? AND name = ?`, ws, name))
	return a, notFound(fmt.Sprintf("agent %q", name), err)
}

func (s *Store) Agents(ctx context.Context, ws string) ([]hubstore.Agent, error) {
	rows, err := s.query(ctx, `SELECT `+agentCols+` FROM agents WHERE workspace = ? ORDER BY name`, ws)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanAgent)
}

func (s *Store) ResolveAgent(ctx context.Context, name string) (hubstore.Agent, error) {
	a, err := scanAgent(s.row(ctx, `SELECT `+agentCols+` FROM agents WHERE name = ?`, name))
	return a, notFound(fmt.Sprintf("agent %q", name), err)
}

func (s *Store) PublicAgents(ctx context.Context) ([]hubstore.Agent, error) {
	rows, err := s.query(ctx, `SELECT `+agentCols+` FROM agents ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanAgent)
}

func (s *Store) UpdateAgent(ctx context.Context, ws, name string, fn func(hubstore.Agent) (hubstore.Agent, error)) (hubstore.Agent, error) {
	var out hubstore.Agent
	err := s.inTx(ctx, func(t *tx) error {
		old, err := scanAgent(t.row(`SELECT `+agentCols+` FROM agents WHERE workspace = ? AND name = ?`+s.d.ForUpdate, ws, name))
		if err != nil {
			return notFound(fmt.Sprintf("agent %q", name), err)
		}
		nw, err := fn(old)
		if err != nil {
			return err
		}
		if nw.Access != hubstore.AccessOpen && nw.Access != hubstore.AccessKey {
			return fmt.Errorf("access must be %q or %q", hubstore.AccessOpen, hubstore.AccessKey)
		}
		out = old
		out.Access, out.Updated = nw.Access, now()
		if _, err := t.exec(`UPDATE agents SET access = ?, updated = ? WHERE workspace = ? AND name = ?`, string(out.Access), ns(out.Updated), ws, name); err != nil {
			return err
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangeAgentUpdated, Workspace: ws, Agent: name, Version: out.Current})
	})
	return out, err
}

func (s *Store) Versions(ctx context.Context, ws, name string) ([]hubstore.Version, error) {
	if _, err := s.Agent(ctx, ws, name); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT `+verCols+` FROM versions WHERE workspace = ? AND agent = ? ORDER BY number`, ws, name)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanVersion)
}

func (s *Store) Version(ctx context.Context, ws, name string, number int) (hubstore.Version, error) {
	v, err := scanVersion(s.row(ctx, `SELECT `+verCols+` FROM versions WHERE workspace = ? AND agent = ? AND number = ?`, ws, name, number))
	return v, notFound(fmt.Sprintf("version %d of agent %q", number, name), err)
}

func (s *Store) Rollback(ctx context.Context, ws, name string) (hubstore.Version, error) {
	var v hubstore.Version
	err := s.inTx(ctx, func(t *tx) error {
		a, err := scanAgent(t.row(`SELECT `+agentCols+` FROM agents WHERE workspace = ? AND name = ?`+s.d.ForUpdate, ws, name))
		if err != nil {
			return notFound(fmt.Sprintf("agent %q", name), err)
		}
		v, err = scanVersion(t.row(`SELECT `+verCols+` FROM versions WHERE workspace = ? AND agent = ? AND number < ? ORDER BY number DESC LIMIT 1`, ws, name, a.Current))
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("agent %q has no version before %d to roll back to: %w", name, a.Current, hubstore.ErrConflict)
			}
			return err
		}
		if _, err := t.exec(`UPDATE agents SET current_version = ?, updated = ? WHERE workspace = ? AND name = ?`, v.Number, ns(now()), ws, name); err != nil {
			return err
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangeRolledBack, Workspace: ws, Agent: name, Version: v.Number})
	})
	return v, err
}

func (s *Store) Unpublish(ctx context.Context, ws, name string) error {
	return s.inTx(ctx, func(t *tx) error {
		if err := t.agentIn(ws, name, true); err != nil {
			return err
		}
		rows, err := t.query(`SELECT DISTINCT bundle FROM versions WHERE workspace = ? AND agent = ?`, ws, name)
		if err != nil {
			return err
		}
		var hashes []string
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			hashes = append(hashes, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Children first, so neither engine depends on cascades for
		// correctness (they stay as a safety net).
		for _, q := range []string{
			`DELETE FROM turns WHERE workspace = ? AND conversation IN (SELECT id FROM conversations WHERE workspace = ? AND agent = ?)`,
			`DELETE FROM channel_sent WHERE workspace = ? AND conversation IN (SELECT id FROM conversations WHERE workspace = ? AND agent = ?)`,
			`DELETE FROM channel_status WHERE workspace = ? AND channel IN (SELECT id FROM channels WHERE workspace = ? AND agent = ?)`,
		} {
			if _, err := t.exec(q, ws, ws, name); err != nil {
				return err
			}
		}
		for _, table := range []string{"conversations", "leads", "lead_keys", "memories", "api_keys", "channels", "versions"} {
			if _, err := t.exec(`DELETE FROM `+table+` WHERE workspace = ? AND agent = ?`, ws, name); err != nil {
				return err
			}
		}
		if _, err := t.exec(`DELETE FROM agents WHERE workspace = ? AND name = ?`, ws, name); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := t.exec(`DELETE FROM bundle_chunks WHERE workspace = ? AND hash = ? AND NOT EXISTS (SELECT 1 FROM versions WHERE workspace = ? AND bundle = ?)`, ws, h, ws, h); err != nil {
				return err
			}
			if _, err := t.exec(`DELETE FROM bundles WHERE workspace = ? AND hash = ? AND NOT EXISTS (SELECT 1 FROM versions WHERE workspace = ? AND bundle = ?)`, ws, h, ws, h); err != nil {
				return err
			}
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangeUnpublished, Workspace: ws, Agent: name})
	})
}
