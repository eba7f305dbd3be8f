// Package hubstore is the hub's storage interface: everything a hub keeps
// that changes (workspaces, credentials, published agents and their
// bundles, conversations, leads, memories, usage, rate counters) behind one
// interface, with one conformance suite (hubstore/conformance) that every
// engine passes. The embedded engine (hubstore/embedded) serves one machine
// from the hub's folder; the PostgreSQL engine (hubstore/postgres) serves
// any number of replicas on one database. Handlers never see which runs.
//
// Isolation is structural: every call that touches a workspace's data
// takes that workspace's id, and an engine answers only from rows of that
// workspace. A call with another workspace's ids sees nothing (ErrNotFound)
// or is refused (ErrForbidden, ErrAlreadyExists); it never returns or
// changes the other workspace's data. The few calls without a workspace id
// are the ones a request makes before it knows its workspace (a credential
// or a public agent name to resolve) and operator commands, and each says so.
package hubstore

import (
	"atoll/contact"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// Sentinel errors, wrapped with a sentence naming the thing; test with errors.Is.
var (
	// ErrNotFound: no such thing in this workspace (including things that
	// exist only in another workspace).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: the name or id is taken (an agent name first
	// published by another workspace, a workspace name, a key name).
	ErrAlreadyExists = errors.New("already exists")
	// ErrForbidden: the thing exists in this workspace but the call may not
	// use it that way (a conversation of another agent).
	ErrForbidden = errors.New("forbidden")
	// ErrConflict: the state does not allow it (no earlier version to roll
	// back to, a bundle whose bytes do not match its hash).
	ErrConflict = errors.New("conflict")
)

// Storage is the hub's state. Every method is safe for concurrent use by
// many goroutines and, for engines that say so, by many processes
// (replicas) on the same data.
type Storage interface {
	// Workspaces (operator commands: `atoll hub workspace …`).
	CreateWorkspace(ctx context.Context, name string) (Workspace, error)
	Workspace(ctx context.Context, id string) (Workspace, error)
	WorkspaceByName(ctx context.Context, name string) (Workspace, error)
	Workspaces(ctx context.Context) ([]Workspace, error)
	// UpdateWorkspace changes quotas atomically; fn may not change ID,
	// Name or Created.
	UpdateWorkspace(ctx context.Context, id string, fn func(Workspace) (Workspace, error)) (Workspace, error)

	// Publisher tokens: only hashes are stored.
	CreateToken(ctx context.Context, ws, label, hash string) (Token, error)
	Tokens(ctx context.Context, ws string) ([]Token, error) // revoked ones too, oldest first
	RevokeToken(ctx context.Context, ws, id string) error
	// TokenByHash authenticates a request (no workspace yet): a revoked or
	// unknown hash is ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// FindToken is for the operator's `atoll hub token revoke ID`, which
	// names no workspace.
	FindToken(ctx context.Context, id string) (Token, error)

	// API keys of one agent, for its public API and widget.
	CreateKey(ctx context.Context, ws, agent, name, hash string) (APIKey, error)
	Keys(ctx context.Context, ws, agent string) ([]APIKey, error) // revoked ones too
	RevokeKey(ctx context.Context, ws, id string) error
	// KeyByHash authenticates a public request: revoked or unknown is ErrNotFound.
	KeyByHash(ctx context.Context, hash string) (APIKey, error)

	// Bundles are stored once per workspace, keyed by the SHA-256 of
	// their bytes (hex). PutBundle reads r only when the bundle is new, in
	// bounded memory, and fails with ErrConflict when the bytes do not
	// hash to hash or do not add up to size.
	PutBundle(ctx context.Context, ws, hash string, size int64, r io.Reader) error
	// OpenBundle streams a bundle in bounded memory.
	OpenBundle(ctx context.Context, ws, hash string) (io.ReadCloser, int64, error)

	// Publish adds the next version of an agent and makes it current. The
	// first workspace to publish a name owns it; another workspace gets
	// ErrAlreadyExists. The bundle must have been put first (ErrNotFound).
	Publish(ctx context.Context, ws, name string, definition json.RawMessage, bundle string) (Version, error)
	Agent(ctx context.Context, ws, name string) (Agent, error)
	Agents(ctx context.Context, ws string) ([]Agent, error)
	// ResolveAgent finds a published agent by its public name (the
	// /a/NAME and model routes, before a workspace is known).
	ResolveAgent(ctx context.Context, name string) (Agent, error)
	// PublicAgents lists every published agent, by name (the hub's index).
	PublicAgents(ctx context.Context) ([]Agent, error)
	// UpdateAgent changes an agent's settings (Access); fn may not change
	// its name, workspace or versions.
	UpdateAgent(ctx context.Context, ws, name string, fn func(Agent) (Agent, error)) (Agent, error)
	Versions(ctx context.Context, ws, name string) ([]Version, error) // oldest first
	Version(ctx context.Context, ws, name string, number int) (Version, error)
	// Rollback makes the newest version before the current one current
	// (ErrConflict when there is none) and returns it.
	Rollback(ctx context.Context, ws, name string) (Version, error)
	// Unpublish removes everything of the agent: versions, bundles no
	// other version uses, keys, conversations, leads and memories. Usage
	// stays: it is the workspace's record.
	Unpublish(ctx context.Context, ws, name string) error

	// AppendTurn appends one answered question to a conversation, creating
	// the conversation on its first turn. A turn whose Key was already
	// appended to this conversation is not appended again: the stored turn
	// comes back with dup = true (a retried request). A conversation of
	// another agent is ErrForbidden.
	AppendTurn(ctx context.Context, ws, agent, conversation string, t Turn) (stored Turn, dup bool, err error)
	// RecordAnswer is AppendTurn and AddUsage(ws, key, t.At, u) in one
	// transaction: the answer path's writes in one commit. On any error
	// neither is stored; a duplicate turn (dup) still counts its usage.
	RecordAnswer(ctx context.Context, ws, agent, conversation string, t Turn, key string, u Usage) (stored Turn, dup bool, err error)
	Conversation(ctx context.Context, ws, id string) (Conversation, error)
	// Turns returns the last `last` turns of a conversation, oldest first.
	Turns(ctx context.Context, ws, conversation string, last int) ([]Turn, error)
	// Conversations lists an agent's conversations, newest first, at most limit.
	Conversations(ctx context.Context, ws, agent string, limit int) ([]Conversation, error)
	// PruneConversations deletes conversations (all workspaces: the hub's
	// retention) last updated before t, with their turns' feedback.
	PruneConversations(ctx context.Context, before time.Time) (int, error)
	// SetFeedback records an end user's vote on turn seq of a conversation
	// of agent, replacing the earlier one; a zero Rating takes it back.
	// An unknown conversation or turn is ErrNotFound, a conversation of
	// another agent ErrForbidden. The turn comes back as stored.
	SetFeedback(ctx context.Context, ws, agent, conversation string, seq int, fb Feedback) (Turn, error)
	// ChangedTurns lists an agent's turns answered or voted on after the
	// cursor, oldest change first, at most limit (a review queue's
	// incremental pull). The last one's Cursor continues the list.
	ChangedTurns(ctx context.Context, ws, agent string, after TurnCursor, limit int) ([]ChangedTurn, error)

	// SaveLead stores a lead exactly once per key (a retry returns the lead
	// the key produced, merged = false), merged with the agent's leads of
	// the same contact as contact.Same says. An empty key stores every time.
	SaveLead(ctx context.Context, ws, agent, key string, in Lead) (stored Lead, merged bool, err error)
	Leads(ctx context.Context, ws, agent string) ([]Lead, error) // oldest first

	// Memories: what an agent remembers about one end user.
	Memories(ctx context.Context, ws, agent, user string) ([]Fact, error)
	UpdateMemories(ctx context.Context, ws, agent, user string, fn func([]Fact) ([]Fact, error)) ([]Fact, error)

	// AddUsage adds to the workspace's counts of the day of at (UTC) and,
	// when key is not empty, to that API key's.
	AddUsage(ctx context.Context, ws, key string, at time.Time, u Usage) error
	// Usage returns the days from..to (inclusive, UTC) that have counts,
	// the workspace's rows with Key "" and each key's.
	Usage(ctx context.Context, ws string, from, to time.Time) ([]UsageRow, error)

	// Incr counts one event in the fixed window of length window that
	// holds at, shared by every replica, and returns the window's count
	// and its end (for Retry-After). ws may be "" for hub-wide counters
	// (per client address).
	Incr(ctx context.Context, ws, key string, at time.Time, window time.Duration) (count int64, resets time.Time, err error)

	// AcquireLease takes one of max slots called name in the workspace
	// (its concurrent streams, counted across replicas) until at + ttl. It
	// fails with ErrConflict when max unexpired leases are held. The holder
	// renews it before it expires and releases it when done; a replica that
	// dies leaves its leases to expire.
	AcquireLease(ctx context.Context, ws, name string, max int, at time.Time, ttl time.Duration) (id string, err error)
	// RenewLease moves a held lease's end to at + ttl; an expired one is
	// ErrNotFound.
	RenewLease(ctx context.Context, ws, id string, at time.Time, ttl time.Duration) error
	ReleaseLease(ctx context.Context, ws, id string) error

	// Channels: an agent's messaging channels (package channels), kept as
	// the caller's JSON with their secrets already sealed. PutChannel adds or
	// replaces one of a published agent (ErrNotFound otherwise); a channel
	// ID of another workspace is ErrAlreadyExists. Unpublish deletes them.
	PutChannel(ctx context.Context, c Channel) error
	DeleteChannel(ctx context.Context, ws, id string) error
	// AllChannels lists every workspace's channels (the hub's start; no
	// workspace yet), oldest first.
	AllChannels(ctx context.Context) ([]Channel, error)
	// ClaimMessage records a platform message key until at + ttl and
	// reports whether it was new, shared by every replica, so a platform's
	// retry landing on any replica is answered once. ReleaseMessage forgets
	// it (a message that could not be queued is taken on the next retry).
	ClaimMessage(ctx context.Context, key string, at time.Time, ttl time.Duration) (bool, error)
	ReleaseMessage(ctx context.Context, key string) error
	// MarkSent records that the platform messages ids of a channel carried
	// turn seq of a conversation, so that a reaction to one (a platform
	// that names only the message) finds the turn; the records go with the
	// conversation. An unknown turn is ErrNotFound; a message ID marked
	// again moves to this turn.
	MarkSent(ctx context.Context, ws, channel, conversation string, seq int, ids []string) error
	// SentTurn finds the turn a channel's platform message carried
	// (ErrNotFound for a message never marked or gone with its
	// conversation).
	SentTurn(ctx context.Context, ws, channel, id string) (conversation string, seq int, err error)
	// AddChannelStatus adds a replica's counts and times to a channel's
	// status, shared by every replica: counters are summed, a time kept
	// when later than the stored one (the error text with its time). A
	// channel that is gone is not an error (its status goes with it, on
	// DeleteChannel and Unpublish).
	AddChannelStatus(ctx context.Context, ws, channel string, d ChannelStatus) error
	// ChannelStatuses returns the statuses of a workspace's channels by
	// channel ID (every workspace's with ws ""); a channel with nothing
	// recorded yet is absent.
	ChannelStatuses(ctx context.Context, ws string) (map[string]ChannelStatus, error)

	// Watch delivers publish, rollback, unpublish, access, channel and
	// revocation changes made after it was called, by this instance or any other on
	// the same data, in order, until ctx ends. Receivers must keep up.
	Watch(ctx context.Context) <-chan Change

	// Sweep deletes what has expired as of now: rate counters, leases,
	// old change records, bundles never published.
	Sweep(ctx context.Context, now time.Time) error
	Close() error
}

// Workspace is one business on the hub.
type Workspace struct {
	ID      string
	Name    string
	Created time.Time
	// Quotas; 0 means no limit.
	RequestsPerDay int64
	MaxStreams     int
}

// Token is a publisher credential of one workspace.
type Token struct {
	ID        string
	Workspace string
	Label     string
	Hash      string
	Created   time.Time
	Revoked   time.Time // zero while valid
}

// APIKey lets a client use one key-required agent.
type APIKey struct {
	ID        string
	Workspace string
	Agent     string
	Name      string
	Hash      string
	Created   time.Time
	Revoked   time.Time
}

// Access says who may use an agent's public API and widget.
type Access string

const (
	AccessOpen Access = "open" // anyone, rate-limited per client
	AccessKey  Access = "key"  // only with one of the agent's API keys
)

// Agent is a published name and its current version.
type Agent struct {
	Workspace string
	Name      string
	Current   int // the version served
	Latest    int // the newest version
	Access    Access
	Created   time.Time
	Updated   time.Time
}

// Version is one published definition and the bundle it came from.
type Version struct {
	Workspace  string
	Agent      string
	Number     int
	Definition json.RawMessage // agent.Definition as JSON
	Bundle     string          // SHA-256 hex of the bundle
	Created    time.Time
}

// Conversation is one end user's chat with an agent.
type Conversation struct {
	Workspace string
	ID        string
	Agent     string
	Title     string
	Turns     int // how many turns it has
	Created   time.Time
	Updated   time.Time
}

// Turn is one answered question.
type Turn struct {
	Seq      int    // 1, 2, … in the conversation; set by the store
	Key      string // idempotency key: the same key is stored once
	Question string
	Answer   string
	// Meta carries the rest of the answer (citations, follow-ups, not
	// covered) as the hub's JSON.
	Meta json.RawMessage
	At   time.Time
	// Feedback is the end user's vote (zero: none). AppendTurn ignores it.
	Feedback Feedback
}

// Feedback is an end user's vote on one answer.
type Feedback struct {
	Rating  int // 1 (up), -1 (down); 0: no vote
	Comment string
	At      time.Time
}

// MaxFeedbackComment bounds a vote's comment, in characters (as
// agent.MaxFeedbackComment on the desktop).
const MaxFeedbackComment = 2000

// TurnCursor is a position in ChangedTurns: the change time, then the
// conversation and the turn break ties. The zero cursor is the start.
type TurnCursor struct {
	Changed      int64 // Unix nanoseconds
	Conversation string
	Seq          int
}

// ChangedTurn is one turn of ChangedTurns with its conversation.
type ChangedTurn struct {
	Conversation string
	Turn
	Cursor TurnCursor
}

// Lead is one contact an agent gathered; fields as agent.Lead.
type Lead = contact.Lead

// Fact is one thing an agent remembers about a user; fields as agent.Fact.
type Fact struct {
	ID           string    `json:"id"`
	Text         string    `json:"text"`
	Conversation string    `json:"conversation,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Channel is one messaging channel of a published agent.
type Channel struct {
	ID        string
	Workspace string
	Agent     string
	Kind      string
	// Config is the channel's stored form (channels.Stored as JSON),
	// secrets sealed: the store never sees them in the clear.
	Config  json.RawMessage
	Created time.Time
	Updated time.Time
}

// ChannelStatus is a messaging channel's counts and last times, summed
// over the hub's replicas.
type ChannelStatus struct {
	Received, Answered, Failed, Duplicates, Rejected, Votes int64
	LastMessage, LastReply, LastErrorAt                     time.Time
	// LastError is bounded by MaxChannelError bytes.
	LastError string
}

// MaxChannelError bounds a stored channel error's text.
const MaxChannelError = 300

// Usage is what requests used.
type Usage struct {
	Requests  int64
	TokensIn  int64
	TokensOut int64
	Errors    int64
}

// UsageRow is one day's usage of a workspace (Key "") or of one key.
type UsageRow struct {
	Day string // 2006-01-02, UTC
	Key string
	Usage
}

// ChangeKind says what changed.
type ChangeKind string

const (
	ChangePublished    ChangeKind = "published"
	ChangeRolledBack   ChangeKind = "rolled-back"
	ChangeUnpublished  ChangeKind = "unpublished"
	ChangeAgentUpdated ChangeKind = "agent-updated"
	ChangeTokenRevoked ChangeKind = "token-revoked"
	ChangeKeyRevoked   ChangeKind = "key-revoked"
	// ChangeChannel: a channel (ID) was added, changed or deleted.
	ChangeChannel ChangeKind = "channel"
)

// Change is one entry of the change feed.
type Change struct {
	Seq       int64
	Kind      ChangeKind
	Workspace string
	Agent     string // the agent, for agent changes and key revocation
	Version   int    // the current version after a publish or rollback
	ID        string // the token or key revoked
	At        time.Time
}

// Day is the UTC day of t as usage rows name it.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// NewID makes a random id.
func NewID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
