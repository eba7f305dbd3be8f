package sqlstore

import "strings"

// migrations are the schema's versions, in order; each runs once, in one
// transaction, and is never edited after it has landed (add a new one).
// Written once for both engines: {{blob}} and {{serial}} are the only
// words that differ. Times are Unix nanoseconds (BIGINT) so both engines
// store and compare them the same way.
var migrations = [][]string{
	1: {
		`CREATE TABLE workspaces (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL UNIQUE,
			created BIGINT NOT NULL,
			requests_per_day BIGINT NOT NULL DEFAULT 0,
			max_streams BIGINT NOT NULL DEFAULT 0)`,
		`CREATE TABLE tokens (
			id TEXT PRIMARY KEY,
			workspace TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
			label TEXT NOT NULL,
			hash TEXT NOT NULL UNIQUE,
			created BIGINT NOT NULL,
			revoked BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX tokens_ws ON tokens(workspace)`,
		// An agent's name is global (public URLs stay short); the
		// workspace that first published it owns it.
		`CREATE TABLE agents (
			name TEXT PRIMARY KEY,
			workspace TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
			current_version BIGINT NOT NULL,
			latest_version BIGINT NOT NULL,
			access TEXT NOT NULL,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			UNIQUE (workspace, name))`,
		`CREATE TABLE bundles (
			workspace TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
			hash TEXT NOT NULL,
			size BIGINT NOT NULL,
			created BIGINT NOT NULL,
			PRIMARY KEY (workspace, hash))`,
		`CREATE TABLE bundle_chunks (
			workspace TEXT NOT NULL,
			hash TEXT NOT NULL,
			n BIGINT NOT NULL,
			data {{blob}} NOT NULL,
			PRIMARY KEY (workspace, hash, n),
			FOREIGN KEY (workspace, hash) REFERENCES bundles(workspace, hash) ON DELETE CASCADE)`,
		`CREATE TABLE versions (
			workspace TEXT NOT NULL,
			agent TEXT NOT NULL,
			number BIGINT NOT NULL,
			definition TEXT NOT NULL,
			bundle TEXT NOT NULL,
			created BIGINT NOT NULL,
			PRIMARY KEY (workspace, agent, number),
			FOREIGN KEY (workspace, agent) REFERENCES agents(workspace, name) ON DELETE CASCADE,
			FOREIGN KEY (workspace, bundle) REFERENCES bundles(workspace, hash))`,
		`CREATE INDEX versions_bundle ON versions(workspace, bundle)`,
		`CREATE TABLE api_keys (
			id TEXT PRIMARY KEY,
			workspace TEXT NOT NULL,
			agent TEXT NOT NULL,
			name TEXT NOT NULL,
			hash TEXT NOT NULL UNIQUE,
			created BIGINT NOT NULL,
			revoked BIGINT NOT NULL DEFAULT 0,
			FOREIGN KEY (workspace, agent) REFERENCES agents(workspace, name) ON DELETE CASCADE)`,
		`CREATE INDEX api_keys_agent ON api_keys(workspace, agent)`,
		`CREATE TABLE conversations (
			workspace TEXT NOT NULL,
			id TEXT NOT NULL,
			agent TEXT NOT NULL,
			title TEXT NOT NULL,
			turns BIGINT NOT NULL,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			PRIMARY KEY (workspace, id),
			FOREIGN KEY (workspace, agent) REFERENCES agents(workspace, name) ON DELETE CASCADE)`,
		`CREATE INDEX conversations_agent ON conversations(workspace, agent, updated)`,
		`CREATE INDEX conversations_updated ON conversations(updated)`,
		`CREATE TABLE turns (
			workspace TEXT NOT NULL,
			conversation TEXT NOT NULL,
			seq BIGINT NOT NULL,
			idem TEXT,
			question TEXT NOT NULL,
			answer TEXT NOT NULL,
			meta TEXT NOT NULL,
			at BIGINT NOT NULL,
			PRIMARY KEY (workspace, conversation, seq),
			UNIQUE (workspace, conversation, idem),
			FOREIGN KEY (workspace, conversation) REFERENCES conversations(workspace, id) ON DELETE CASCADE)`,
		`CREATE TABLE leads (
			workspace TEXT NOT NULL,
			agent TEXT NOT NULL,
			id TEXT NOT NULL,
			pos BIGINT NOT NULL,
			name TEXT NOT NULL,
			email TEXT NOT NULL,
			phone TEXT NOT NULL,
			email_norm TEXT NOT NULL,
			phone_digits TEXT NOT NULL,
			conversation TEXT NOT NULL,
			fields TEXT NOT NULL,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			PRIMARY KEY (workspace, agent, id),
			FOREIGN KEY (workspace, agent) REFERENCES agents(workspace, name) ON DELETE CASCADE)`,
		`CREATE INDEX leads_email ON leads(workspace, agent, email_norm)`,
		`CREATE INDEX leads_phone ON leads(workspace, agent, phone_digits)`,
		`CREATE TABLE lead_keys (
			workspace TEXT NOT NULL,
			agent TEXT NOT NULL,
			idem TEXT NOT NULL,
			lead TEXT NOT NULL,
			PRIMARY KEY (workspace, agent, idem),
			FOREIGN KEY (workspace, agent) REFERENCES agents(workspace, name) ON DELETE CASCADE)`,
		`CREATE TABLE memories (
			workspace TEXT NOT NULL,
			agent TEXT NOT NULL,
			end_user TEXT NOT NULL,
			facts TEXT NOT NULL,
			updated BIGINT NOT NULL,
			PRIMARY KEY (workspace, agent, end_user),
			FOREIGN KEY (workspace, agent) REFERENCES agents(workspace, name) ON DELETE CASCADE)`,
		`CREATE TABLE usage (
			workspace TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
			day TEXT NOT NULL,
			api_key TEXT NOT NULL,
			requests BIGINT NOT NULL,
			tokens_in BIGINT NOT NULL,
			tokens_out BIGINT NOT NULL,
			errors BIGINT NOT NULL,
			PRIMARY KEY (workspace, day, api_key))`,
		`CREATE TABLE counters (
			workspace TEXT NOT NULL,
			name TEXT NOT NULL,
			win BIGINT NOT NULL,
			bucket BIGINT NOT NULL,
			count BIGINT NOT NULL,
			expires BIGINT NOT NULL,
			PRIMARY KEY (workspace, name, win, bucket))`,
		`CREATE INDEX counters_expires ON counters(expires)`,
		`CREATE TABLE changes (
			seq {{serial}},
			kind TEXT NOT NULL,
			workspace TEXT NOT NULL,
			agent TEXT NOT NULL,
			version BIGINT NOT NULL,
			ref TEXT NOT NULL,
			at BIGINT NOT NULL)`,
	},
	// 2: leases, for limits on things held at once across replicas (a
	// workspace's concurrent streams).
	2: {
		`CREATE TABLE leases (
			workspace TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
			name TEXT NOT NULL,
			id TEXT NOT NULL,
			expires BIGINT NOT NULL,
			PRIMARY KEY (workspace, id))`,
		`CREATE INDEX leases_slot ON leases(workspace, name, expires)`,
	},
	// 3: messaging channels of published agents, and the platform message
	// keys already taken (a platform's retry is answered once).
	3: {
		`CREATE TABLE channels (
			id TEXT PRIMARY KEY,
			workspace TEXT NOT NULL,
			agent TEXT NOT NULL,
			kind TEXT NOT NULL,
			config TEXT NOT NULL,
			created BIGINT NOT NULL,
			updated BIGINT NOT NULL,
			FOREIGN KEY (workspace, agent) REFERENCES agents(workspace, name) ON DELETE CASCADE)`,
		`CREATE INDEX channels_agent ON channels(workspace, agent)`,
		`CREATE TABLE channel_messages (
			key TEXT PRIMARY KEY,
			expires BIGINT NOT NULL)`,
		`CREATE INDEX channel_messages_expires ON channel_messages(expires)`,
	},
	// 4: end users' votes on answers, kept on the turn so they go with
	// it (retention, unpublish), and the time a turn last changed (asked
	// or voted on) for the review queue's incremental pull.
	4: {
		`ALTER TABLE turns ADD COLUMN rating BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE turns ADD COLUMN fb_comment TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE turns ADD COLUMN fb_at BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE turns ADD COLUMN changed BIGINT NOT NULL DEFAULT 0`,
		`UPDATE turns SET changed = at`,
		`CREATE INDEX turns_changed ON turns(workspace, changed, conversation, seq)`,
	},
	// 5: the platform IDs of the messages a channel answer went out in,
	// so that a reaction to one (Slack, WhatsApp, Feishu name only the
	// message) finds its turn. They go with the conversation.
	5: {
		`CREATE TABLE channel_sent (
			workspace TEXT NOT NULL,
			channel TEXT NOT NULL,
			message TEXT NOT NULL,
			conversation TEXT NOT NULL,
			seq BIGINT NOT NULL,
			at BIGINT NOT NULL,
			PRIMARY KEY (workspace, channel, message),
			FOREIGN KEY (workspace, conversation) REFERENCES conversations(workspace, id) ON DELETE CASCADE)`,
		`CREATE INDEX channel_sent_conv ON channel_sent(workspace, conversation)`,
	},
	// 6: channels' counts and last times, summed over the replicas (each
	// adds its own), so every replica shows the same status. They go
	// with the channel.
	6: {
		`CREATE TABLE channel_status (
			channel TEXT PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
			workspace TEXT NOT NULL,
			received BIGINT NOT NULL DEFAULT 0,
			answered BIGINT NOT NULL DEFAULT 0,
			failed BIGINT NOT NULL DEFAULT 0,
			duplicates BIGINT NOT NULL DEFAULT 0,
			rejected BIGINT NOT NULL DEFAULT 0,
			votes BIGINT NOT NULL DEFAULT 0,
			last_message BIGINT NOT NULL DEFAULT 0,
			last_reply BIGINT NOT NULL DEFAULT 0,
			last_error_at BIGINT NOT NULL DEFAULT 0,
			last_error TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX channel_status_ws ON channel_status(workspace)`,
	},
}

// Schema returns the statements of every migration for a dialect.
func schema(d *Dialect) [][]string {
	out := make([][]string, len(migrations))
	for v, stmts := range migrations {
		for _, s := range stmts {
			s = strings.ReplaceAll(s, "{{blob}}", d.Blob)
			s = strings.ReplaceAll(s, "{{serial}}", d.Serial)
			out[v] = append(out[v], s)
		}
	}
	return out
}

// Latest is the newest schema version.
func Latest() int { return len(migrations) - 1 }
