package sqlstore

import (
	"atoll/contact"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"atoll/hubstore"
)

const convCols = `workspace, id, agent, title, turns, created, updated`

func scanConv(sc interface{ Scan(...any) error }) (hubstore.Conversation, error) {
	var c hubstore.Conversation
	var turns, created, updated int64
	err := sc.Scan(&c.Workspace, &c.ID, &c.Agent, &c.Title, &turns, &created, &updated)
	c.Turns, c.Created, c.Updated = int(turns), tm(created), tm(updated)
	return c, err
}

// turnCols are written by appendTurn; a read adds the vote (fbCols).
const turnCols = `seq, idem, question, answer, meta, at`
const fbCols = `rating, fb_comment, fb_at`

func scanTurn(sc interface{ Scan(...any) error }, extra ...any) (hubstore.Turn, error) {
	var t hubstore.Turn
	var seq, at, rating, fbAt int64
	var idem sql.NullString
	var meta string
	err := sc.Scan(append([]any{&seq, &idem, &t.Question, &t.Answer, &meta, &at, &rating, &t.Feedback.Comment, &fbAt}, extra...)...)
	t.Seq, t.Key, t.At = int(seq), idem.String, tm(at)
	if rating != 0 {
		t.Feedback.Rating, t.Feedback.At = int(rating), tm(fbAt)
	}
	if meta != "" {
		t.Meta = json.RawMessage(meta)
	}
	return t, err
}

// title is a conversation's first question, cut short.
func title(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if r := []rune(q); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return q
}

func (s *Store) AppendTurn(ctx context.Context, ws, agent, conversation string, in hubstore.Turn) (hubstore.Turn, bool, error) {
	var out hubstore.Turn
	var dup bool
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		out, dup, err = t.appendTurn(ws, agent, conversation, in)
		return err
	})
	if err != nil {
		return hubstore.Turn{}, false, err
	}
	return out, dup, nil
}

// RecordAnswer is AppendTurn and AddUsage in one transaction: one commit
// per answer instead of two, and never a turn without its count.
func (s *Store) RecordAnswer(ctx context.Context, ws, agent, conversation string, in hubstore.Turn, key string, u hubstore.Usage) (hubstore.Turn, bool, error) {
	var out hubstore.Turn
	var dup bool
	at := in.At
	if at.IsZero() {
		at = now()
	}
	err := s.inTx(ctx, func(t *tx) error {
		var err error
		if out, dup, err = t.appendTurn(ws, agent, conversation, in); err != nil {
			return err
		}
		return t.addUsage(ws, key, at, u)
	})
	if err != nil {
		return hubstore.Turn{}, false, err
	}
	return out, dup, nil
}

func (t *tx) appendTurn(ws, agent, conversation string, in hubstore.Turn) (hubstore.Turn, bool, error) {
	if conversation == "" {
		return hubstore.Turn{}, false, fmt.Errorf("a turn needs a conversation id")
	}
	if len(in.Meta) > 0 && !json.Valid(in.Meta) {
		return hubstore.Turn{}, false, fmt.Errorf("a turn's meta is not JSON")
	}
	if in.At.IsZero() {
		in.At = now()
	}
	if err := t.agentIn(ws, agent, false); err != nil {
		return hubstore.Turn{}, false, err
	}
	at := ns(in.At)
	// The upsert takes the conversation's row lock: appends to one
	// conversation run one at a time, so sequence numbers and the
	// idempotency check are exact.
	var owner string
	var turns int64
	if err := t.row(`INSERT INTO conversations (`+convCols+`) VALUES (?, ?, ?, ?, 0, ?, ?)
		ON CONFLICT (workspace, id) DO UPDATE SET updated = conversations.updated RETURNING agent, turns`,
		ws, conversation, agent, title(in.Question), at, at).Scan(&owner, &turns); err != nil {
		return hubstore.Turn{}, false, err
	}
	if owner != agent {
		return hubstore.Turn{}, false, fmt.Errorf("conversation %q belongs to another agent: %w", conversation, hubstore.ErrForbidden)
	}
	var idem any
	if in.Key != "" {
		idem = in.Key
		old, err := scanTurn(t.row(`SELECT `+turnCols+`, `+fbCols+` FROM turns WHERE workspace = ? AND conversation = ? AND idem = ?`, ws, conversation, in.Key))
		if err == nil {
			return old, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return hubstore.Turn{}, false, err
		}
	}
	out := in
	out.Seq = int(turns) + 1
	out.At = tm(at)
	out.Feedback = hubstore.Feedback{}
	meta := string(in.Meta)
	if _, err := t.exec(`INSERT INTO turns (workspace, conversation, `+turnCols+`, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ws, conversation, out.Seq, idem, in.Question, in.Answer, meta, at, at); err != nil {
		return hubstore.Turn{}, false, err
	}
	if _, err := t.exec(`UPDATE conversations SET turns = ?, updated = ? WHERE workspace = ? AND id = ?`, out.Seq, at, ws, conversation); err != nil {
		return hubstore.Turn{}, false, err
	}
	return out, false, nil
}

func (s *Store) Conversation(ctx context.Context, ws, id string) (hubstore.Conversation, error) {
	c, err := scanConv(s.row(ctx, `SELECT `+convCols+` FROM conversations WHERE workspace = ? AND id = ?`, ws, id))
	return c, notFound(fmt.Sprintf("conversation %q", id), err)
}

func (s *Store) Turns(ctx context.Context, ws, conversation string, last int) ([]hubstore.Turn, error) {
	if _, err := s.Conversation(ctx, ws, conversation); err != nil {
		return nil, err
	}
	if last <= 0 {
		return []hubstore.Turn{}, nil
	}
	rows, err := s.query(ctx, `SELECT `+turnCols+`, `+fbCols+` FROM turns WHERE workspace = ? AND conversation = ? ORDER BY seq DESC LIMIT ?`, ws, conversation, last)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (hubstore.Turn, error) { return scanTurn(sc) })
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

func (s *Store) Conversations(ctx context.Context, ws, agent string, limit int) ([]hubstore.Conversation, error) {
	if _, err := s.Agent(ctx, ws, agent); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []hubstore.Conversation{}, nil
	}
	rows, err := s.query(ctx, `SELECT `+convCols+` FROM conversations WHERE workspace = ? AND agent = ? ORDER BY updated DESC, id LIMIT ?`, ws, agent, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanConv)
}

func (s *Store) PruneConversations(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(t *tx) error {
		b := ns(before)
		if _, err := t.exec(`DELETE FROM turns WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.workspace = turns.workspace AND c.id = turns.conversation AND c.updated < ?)`, b); err != nil {
			return err
		}
		if _, err := t.exec(`DELETE FROM channel_sent WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.workspace = channel_sent.workspace AND c.id = channel_sent.conversation AND c.updated < ?)`, b); err != nil {
			return err
		}
		res, err := t.exec(`DELETE FROM conversations WHERE updated < ?`, b)
		if err != nil {
			return err
		}
		k, _ := res.RowsAffected()
		n = int(k)
		return nil
	})
	return n, err
}

func (s *Store) SetFeedback(ctx context.Context, ws, agent, conversation string, seq int, fb hubstore.Feedback) (hubstore.Turn, error) {
	if fb.Rating < -1 || fb.Rating > 1 {
		return hubstore.Turn{}, fmt.Errorf("a rating is 1, -1 or 0, not %d", fb.Rating)
	}
	if n := len([]rune(fb.Comment)); n > hubstore.MaxFeedbackComment {
		return hubstore.Turn{}, fmt.Errorf("a feedback comment is %d characters long, more than %d", n, hubstore.MaxFeedbackComment)
	}
	if fb.At.IsZero() {
		fb.At = now()
	}
	if fb.Rating == 0 {
		fb.Comment = ""
	}
	var out hubstore.Turn
	err := s.inTx(ctx, func(t *tx) error {
		var owner string
		if err := t.row(`SELECT agent FROM conversations WHERE workspace = ? AND id = ?`, ws, conversation).Scan(&owner); err != nil {
			return notFound(fmt.Sprintf("conversation %q", conversation), err)
		}
		if owner != agent {
			return fmt.Errorf("conversation %q belongs to another agent: %w", conversation, hubstore.ErrForbidden)
		}
		at := ns(fb.At)
		// One statement: a vote replaces the earlier one atomically, and
		// the change time only moves forward, so a pull that has seen a
		// turn sees its next change too (a replica's clock behind the
		// first one's cannot move it back).
		res, err := t.exec(`UPDATE turns SET rating = ?, fb_comment = ?, fb_at = ?,
			changed = CASE WHEN changed < ? THEN ? ELSE changed + 1 END
			WHERE workspace = ? AND conversation = ? AND seq = ?`,
			fb.Rating, fb.Comment, at, at, at, ws, conversation, seq)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("answer %d of conversation %q: %w", seq, conversation, hubstore.ErrNotFound)
		}
		out, err = scanTurn(t.row(`SELECT `+turnCols+`, `+fbCols+` FROM turns WHERE workspace = ? AND conversation = ? AND seq = ?`, ws, conversation, seq))
		return err
	})
	return out, err
}

func (s *Store) ChangedTurns(ctx context.Context, ws, agent string, after hubstore.TurnCursor, limit int) ([]hubstore.ChangedTurn, error) {
	if _, err := s.Agent(ctx, ws, agent); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []hubstore.ChangedTurn{}, nil
	}
	rows, err := s.query(ctx, `SELECT t.seq, t.idem, t.question, t.answer, t.meta, t.at, t.rating, t.fb_comment, t.fb_at, t.conversation, t.changed
		FROM turns t JOIN conversations c ON c.workspace = t.workspace AND c.id = t.conversation
		WHERE t.workspace = ? AND c.agent = ?
		AND (t.changed > ? OR (t.changed = ? AND (t.conversation > ? OR (t.conversation = ? AND t.seq > ?))))
		ORDER BY t.changed, t.conversation, t.seq LIMIT ?`,
		ws, agent, after.Changed, after.Changed, after.Conversation, after.Conversation, after.Seq, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc interface{ Scan(...any) error }) (hubstore.ChangedTurn, error) {
		var c hubstore.ChangedTurn
		var changed int64
		t, err := scanTurn(sc, &c.Conversation, &changed)
		c.Turn = t
		c.Cursor = hubstore.TurnCursor{Changed: changed, Conversation: c.Conversation, Seq: t.Seq}
		return c, err
	})
}

const leadCols = `id, agent, conversation, name, email, phone, fields, created, updated, pos`

func scanLead(sc interface{ Scan(...any) error }) (hubstore.Lead, int64, error) {
	var l hubstore.Lead
	var fields string
	var created, updated, pos int64
	err := sc.Scan(&l.ID, &l.Agent, &l.Conversation, &l.Name, &l.Email, &l.Phone, &fields, &created, &updated, &pos)
	if err != nil {
		return l, 0, err
	}
	l.Created, l.Updated = tm(created), tm(updated)
	l.Fields = map[string]string{}
	if err := json.Unmarshal([]byte(fields), &l.Fields); err != nil {
		return l, 0, fmt.Errorf("a stored lead's fields are damaged: %w", err)
	}
	return l, pos, nil
}

func (s *Store) SaveLead(ctx context.Context, ws, agent, key string, in hubstore.Lead) (hubstore.Lead, bool, error) {
	var stored hubstore.Lead
	merged := false
	err := s.inTx(ctx, func(t *tx) error {
		// The agent's row lock makes lead writes of one agent run one at
		// a time: merging reads the agent's other leads.
		if err := t.agentIn(ws, agent, true); err != nil {
			return err
		}
		if key != "" {
			var id string
			err := t.row(`SELECT lead FROM lead_keys WHERE workspace = ? AND agent = ? AND idem = ?`, ws, agent, key).Scan(&id)
			if err == nil {
				l, _, err := scanLead(t.row(`SELECT `+leadCols+` FROM leads WHERE workspace = ? AND agent = ? AND id = ?`, ws, agent, id))
				stored = l
				return notFound(fmt.Sprintf("lead %q", id), err)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if in.ID == "" {
			in.ID = hubstore.NewID()
		}
		if in.Created.IsZero() {
			in.Created = now()
		}
		if in.Updated.IsZero() {
			in.Updated = in.Created
		}
		in.Created, in.Updated = in.Created.UTC(), in.Updated.UTC()
		in.Agent = agent
		email, phone := strings.ToLower(in.Email), contact.PhoneDigits(in.Phone)
		rows, err := t.query(`SELECT `+leadCols+` FROM leads WHERE workspace = ? AND agent = ?
			AND ((email_norm <> '' AND email_norm = ?) OR (phone_digits <> '' AND phone_digits = ?) OR id = ?) ORDER BY pos`,
			ws, agent, email, phone, in.ID)
		if err != nil {
			return err
		}
		var olds []hubstore.Lead
		var pos int64 = -1
		for rows.Next() {
			l, p, err := scanLead(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if pos < 0 {
				pos = p
			}
			olds = append(olds, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		stored = in
		if len(olds) > 0 {
			merged = true
			base := olds[0]
			// The new lead may link stored ones (one by email, one by
			// phone): they are the same person.
			for _, o := range olds[1:] {
				base = contact.Merge(base, o)
			}
			stored = contact.Merge(base, in)
		} else if err := t.row(`SELECT COALESCE(MAX(pos), 0) + 1 FROM leads WHERE workspace = ? AND agent = ?`, ws, agent).Scan(&pos); err != nil {
			return err
		}
		for _, o := range olds {
			if _, err := t.exec(`DELETE FROM leads WHERE workspace = ? AND agent = ? AND id = ?`, ws, agent, o.ID); err != nil {
				return err
			}
			if _, err := t.exec(`UPDATE lead_keys SET lead = ? WHERE workspace = ? AND agent = ? AND lead = ?`, stored.ID, ws, agent, o.ID); err != nil {
				return err
			}
		}
		if stored.Fields == nil {
			stored.Fields = map[string]string{}
		}
		fields, _ := json.Marshal(stored.Fields)
		if _, err := t.exec(`INSERT INTO leads (workspace, email_norm, phone_digits, `+leadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ws, strings.ToLower(stored.Email), contact.PhoneDigits(stored.Phone),
			stored.ID, agent, stored.Conversation, stored.Name, stored.Email, stored.Phone, string(fields), ns(stored.Created), ns(stored.Updated), pos); err != nil {
			return err
		}
		if key != "" {
			if _, err := t.exec(`INSERT INTO lead_keys (workspace, agent, idem, lead) VALUES (?, ?, ?, ?)`, ws, agent, key, stored.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return hubstore.Lead{}, false, err
	}
	return stored, merged, nil
}

func (s *Store) Leads(ctx context.Context, ws, agent string) ([]hubstore.Lead, error) {
	if _, err := s.Agent(ctx, ws, agent); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT `+leadCols+` FROM leads WHERE workspace = ? AND agent = ? ORDER BY pos`, ws, agent)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []hubstore.Lead{}
	for rows.Next() {
		l, _, err := scanLead(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s *Store) Memories(ctx context.Context, ws, agent, user string) ([]hubstore.Fact, error) {
	if _, err := s.Agent(ctx, ws, agent); err != nil {
		return nil, err
	}
	var facts string
	err := s.row(ctx, `SELECT facts FROM memories WHERE workspace = ? AND agent = ? AND end_user = ?`, ws, agent, user).Scan(&facts)
	if errors.Is(err, sql.ErrNoRows) {
		return []hubstore.Fact{}, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeFacts(facts)
}

func decodeFacts(s string) ([]hubstore.Fact, error) {
	out := []hubstore.Fact{}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("stored memories are damaged: %w", err)
	}
	return out, nil
}

func (s *Store) UpdateMemories(ctx context.Context, ws, agent, user string, fn func([]hubstore.Fact) ([]hubstore.Fact, error)) ([]hubstore.Fact, error) {
	if user == "" {
		return nil, fmt.Errorf("memories need a user id")
	}
	var out []hubstore.Fact
	err := s.inTx(ctx, func(t *tx) error {
		if err := t.agentIn(ws, agent, false); err != nil {
			return err
		}
		// Create the row first so there is always a row to lock.
		if _, err := t.exec(`INSERT INTO memories (workspace, agent, end_user, facts, updated) VALUES (?, ?, ?, '[]', ?) ON CONFLICT DO NOTHING`, ws, agent, user, ns(now())); err != nil {
			return err
		}
		var raw string
		if err := t.row(`SELECT facts FROM memories WHERE workspace = ? AND agent = ? AND end_user = ?`+s.d.ForUpdate, ws, agent, user).Scan(&raw); err != nil {
			return err
		}
		old, err := decodeFacts(raw)
		if err != nil {
			return err
		}
		nw, err := fn(old)
		if err != nil {
			return err
		}
		if nw == nil {
			nw = []hubstore.Fact{}
		}
		out = nw
		if len(nw) == 0 {
			_, err := t.exec(`DELETE FROM memories WHERE workspace = ? AND agent = ? AND end_user = ?`, ws, agent, user)
			return err
		}
		b, _ := json.Marshal(nw)
		_, err = t.exec(`UPDATE memories SET facts = ?, updated = ? WHERE workspace = ? AND agent = ? AND end_user = ?`, string(b), ns(now()), ws, agent, user)
		return err
	})
	return out, err
}
