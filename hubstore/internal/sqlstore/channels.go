package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"atoll/hubstore"
)

const chanCols = `id, workspace, agent, kind, config, created, updated`

func scanChannel(sc interface{ Scan(...any) error }) (hubstore.Channel, error) {
	var c hubstore.Channel
	var cfg string
	var created, updated int64
	if err := sc.Scan(&c.ID, &c.Workspace, &c.Agent, &c.Kind, &cfg, &created, &updated); err != nil {
		return c, err
	}
	c.Config, c.Created, c.Updated = []byte(cfg), tm(created), tm(updated)
	return c, nil
}

func (s *Store) PutChannel(ctx context.Context, c hubstore.Channel) error {
	if c.ID == "" || c.Kind == "" || len(c.Config) == 0 {
		return fmt.Errorf("a channel needs an id, a kind and its config")
	}
	at := now()
	return s.inTx(ctx, func(t *tx) error {
		if err := t.agentIn(c.Workspace, c.Agent, true); err != nil {
			return err
		}
		var owner string
		err := t.row(`SELECT workspace FROM channels WHERE id = ?`+s.d.ForUpdate, c.ID).Scan(&owner)
		switch {
		case err == nil && owner != c.Workspace:
			return fmt.Errorf("channel %s: %w", c.ID, hubstore.ErrAlreadyExists)
		case err == nil:
			_, err = t.exec(`UPDATE channels SET agent = ?, kind = ?, config = ?, updated = ? WHERE id = ?`, c.Agent, c.Kind, string(c.Config), ns(at), c.ID)
		default:
			_, err = t.exec(`INSERT INTO channels (`+chanCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`, c.ID, c.Workspace, c.Agent, c.Kind, string(c.Config), ns(at), ns(at))
			if err != nil && s.d.IsUnique(err) {
				return fmt.Errorf("channel %s: %w", c.ID, hubstore.ErrAlreadyExists)
			}
		}
		if err != nil {
			return err
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangeChannel, Workspace: c.Workspace, Agent: c.Agent, ID: c.ID})
	})
}

func (s *Store) DeleteChannel(ctx context.Context, ws, id string) error {
	return s.inTx(ctx, func(t *tx) error {
		var agent string
		if err := t.row(`SELECT agent FROM channels WHERE workspace = ? AND id = ?`+s.d.ForUpdate, ws, id).Scan(&agent); err != nil {
			return notFound("channel "+id, err)
		}
		if _, err := t.exec(`DELETE FROM channel_status WHERE workspace = ? AND channel = ?`, ws, id); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM channels WHERE workspace = ? AND id = ?`, ws, id); err != nil {
			return err
		}
		return t.change(hubstore.Change{Kind: hubstore.ChangeChannel, Workspace: ws, Agent: agent, ID: id})
	})
}

func (s *Store) AllChannels(ctx context.Context) ([]hubstore.Channel, error) {
	rows, err := s.query(ctx, `SELECT `+chanCols+` FROM channels ORDER BY created, id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanChannel)
}

func (s *Store) ClaimMessage(ctx context.Context, key string, at time.Time, ttl time.Duration) (bool, error) {
	// One statement: a new key is inserted, an expired one taken over, a
	// live one left alone (no row changed), atomically on either engine.
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO channel_messages (key, expires) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires = excluded.expires WHERE channel_messages.expires <= ?`),
		key, at.Add(ttl).UnixNano(), at.UnixNano())
	if err != nil {
		return false, fmt.Errorf("couldn't record a channel message in the hub database: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (s *Store) ReleaseMessage(ctx context.Context, key string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM channel_messages WHERE key = ?`), key)
	return err
}

// maxSentIDs bounds one answer's recorded messages (an answer is split
// into a handful of parts at most).
const maxSentIDs = 64

func (s *Store) MarkSent(ctx context.Context, ws, channel, conversation string, seq int, ids []string) error {
	if len(ids) > maxSentIDs {
		return fmt.Errorf("an answer sent in %d messages is more than the %d the hub records", len(ids), maxSentIDs)
	}
	for _, id := range ids {
		if id == "" || len(id) > 512 {
			return fmt.Errorf("a platform message ID must be 1-512 bytes, not %d", len(id))
		}
	}
	return s.inTx(ctx, func(t *tx) error {
		var n int
		if err := t.row(`SELECT COUNT(*) FROM turns WHERE workspace = ? AND conversation = ? AND seq = ?`, ws, conversation, seq).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("answer %d of conversation %q: %w", seq, conversation, hubstore.ErrNotFound)
		}
		at := ns(now())
		for _, id := range ids {
			if _, err := t.exec(`INSERT INTO channel_sent (workspace, channel, message, conversation, seq, at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (workspace, channel, message) DO UPDATE SET conversation = excluded.conversation, seq = excluded.seq, at = excluded.at`,
				ws, channel, id, conversation, seq, at); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) SentTurn(ctx context.Context, ws, channel, id string) (string, int, error) {
	var conv string
	var seq int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT conversation, seq FROM channel_sent WHERE workspace = ? AND channel = ? AND message = ?`), ws, channel, id).Scan(&conv, &seq)
	if err != nil {
		return "", 0, notFound("message "+id+" of channel "+channel, err)
	}
	return conv, seq, nil
}

// later keeps the later of a stored time and the added one.
func later(col string) string {
	return col + ` = CASE WHEN excluded.` + col + ` > channel_status.` + col + ` THEN excluded.` + col + ` ELSE channel_status.` + col + ` END`
}

func (s *Store) AddChannelStatus(ctx context.Context, ws, channel string, d hubstore.ChannelStatus) error {
	msg := d.LastError
	if len(msg) > hubstore.MaxChannelError {
		msg = strings.ToValidUTF8(msg[:hubstore.MaxChannelError], "")
	}
	// One statement, so replicas adding at once never lose a count; the
	// SELECT from channels adds nothing for a channel already deleted.
	// The casts type the parameters for PostgreSQL.
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO channel_status
		(channel, workspace, received, answered, failed, duplicates, rejected, votes, last_message, last_reply, last_error_at, last_error)
		SELECT id, workspace, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT),
			CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT)
		FROM channels WHERE id = ? AND workspace = ?
		ON CONFLICT (channel) DO UPDATE SET
			received = channel_status.received + excluded.received,
			answered = channel_status.answered + excluded.answered,
			failed = channel_status.failed + excluded.failed,
			duplicates = channel_status.duplicates + excluded.duplicates,
			rejected = channel_status.rejected + excluded.rejected,
			votes = channel_status.votes + excluded.votes,
			`+later("last_message")+`,
			`+later("last_reply")+`,
			last_error = CASE WHEN excluded.last_error_at > channel_status.last_error_at THEN excluded.last_error ELSE channel_status.last_error END,
			`+later("last_error_at")),
		d.Received, d.Answered, d.Failed, d.Duplicates, d.Rejected, d.Votes,
		ns(d.LastMessage), ns(d.LastReply), ns(d.LastErrorAt), msg, channel, ws)
	if err != nil {
		return fmt.Errorf("couldn't record channel %s's status in the hub database: %w", channel, err)
	}
	return nil
}

func (s *Store) ChannelStatuses(ctx context.Context, ws string) (map[string]hubstore.ChannelStatus, error) {
	rows, err := s.query(ctx, `SELECT channel, received, answered, failed, duplicates, rejected, votes, last_message, last_reply, last_error_at, last_error
		FROM channel_status WHERE workspace = ? OR ? = ''`, ws, ws)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]hubstore.ChannelStatus{}
	for rows.Next() {
		var id string
		var c hubstore.ChannelStatus
		var msg, reply, errAt int64
		if err := rows.Scan(&id, &c.Received, &c.Answered, &c.Failed, &c.Duplicates, &c.Rejected, &c.Votes, &msg, &reply, &errAt, &c.LastError); err != nil {
			return nil, err
		}
		c.LastMessage, c.LastReply, c.LastErrorAt = tm(msg), tm(reply), tm(errAt)
		out[id] = c
	}
	return out, rows.Err()
}
