package channels

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Vote is an end user's vote on an answer, parsed from a verified callback:
// a button under the answer (Telegram) or a reaction to it (Slack,
// WhatsApp, Feishu).
type Vote struct {
	// ID is the platform's ID of the vote event: the deduplication key
	// (a platform retries votes as it retries messages).
	ID   string
	User string // the voter's platform user ID
	// Ref is the answer's reference (Reply.Ref) where the platform echoes
	// it back (Telegram's callback_data); Message is the platform's ID of
	// the voted message otherwise, mapped back through what
	// VoteAnswerer.Sent recorded.
	Ref     string
	Message string
	Rating  int // 1 or -1; with VoteRemove, the vote taken back
	Mode    VoteMode
}

// VoteMode says how a vote combines with the one already given.
type VoteMode int

const (
	// VoteSet replaces the earlier vote with Rating (0 takes it back: a
	// WhatsApp user has one reaction per message, and removing it or
	// reacting with another emoji leaves no thumb).
	VoteSet VoteMode = iota
	// VoteToggle is a button: pressing the given vote again takes it back.
	VoteToggle
	// VoteRemove takes back Rating only if it is the vote given (a Slack or
	// Feishu user may have put both thumbs on and takes off one).
	VoteRemove
)

// VoteResult is what became of a vote.
type VoteResult int

const (
	VoteIgnored   VoteResult = iota // unknown or old answer, or another user's: nothing stored
	VoteCounted                     // stored as the answer's vote
	VoteTakenBack                   // the answer has no vote now
	VoteDuplicate                   // the platform's retry of a vote already counted
)

// VoteEvent is a vote for the Answerer, with where it came from.
type VoteEvent struct {
	Workspace string
	Agent     string
	Channel   string
	Kind      Kind
	UserKey   string // as Question.UserKey: the voter
	Ref       string
	Message   string
	Rating    int
	Mode      VoteMode
}

// SentAnswer reports the platform's IDs of the messages an answer went out
// in, for platforms that name a voted message only by its ID.
type SentAnswer struct {
	Workspace string
	Agent     string
	Channel   string
	UserKey   string
	Ref       string   // Reply.Ref
	IDs       []string // the platform's message IDs (one per part)
}

// VoteAnswerer is an Answerer that takes votes on its answers: the hub
// stores them as the web chat's votes. Answer sets Reply.Ref to name the
// answer; an empty Ref offers no vote.
type VoteAnswerer interface {
	Answerer
	// Vote records a vote; a vote the answerer cannot place (an unknown,
	// old or other user's answer) is VoteIgnored with no error.
	Vote(ctx context.Context, v VoteEvent) (VoteResult, error)
	// Sent records the IDs an answer's messages got on the platform.
	Sent(ctx context.Context, s SentAnswer) error
}

// IDSender is an adapter whose platform names a voted message by the ID
// its send API returned (Slack's ts, WhatsApp's wamid, Feishu's
// message_id): SendIDs is Send that returns those IDs.
type IDSender interface {
	SendIDs(ctx context.Context, msg Message, reply Reply) ([]string, error)
}

// MaxRef bounds a Reply.Ref, so that an adapter can carry it in a
// platform's small payload (Telegram's 64-byte callback_data, with a
// prefix).
const MaxRef = 48

// voteTimeout bounds recording one vote: it is done before the callback is
// acknowledged (a database write, well inside any platform's deadline), so
// that the platform's acknowledgement can say what became of it.
const voteTimeout = 2 * time.Second

// vote claims and records one vote; errors are noted on the channel.
func (d *Dispatcher) vote(ctx context.Context, c *Channel, v Vote) VoteResult {
	va, ok := d.opt.Answerer.(VoteAnswerer)
	if !ok || v.ID == "" || v.User == "" || (v.Ref == "" && v.Message == "") || v.Rating < -1 || v.Rating > 1 {
		return VoteIgnored
	}
	ctx, cancel := context.WithTimeout(ctx, voteTimeout)
	defer cancel()
	key := c.cfg.ID + "\x00vote\x00" + v.ID
	fresh, err := d.opt.Dedupe.Claim(ctx, key, d.opt.DedupeTTL)
	if err != nil {
		// A toggled vote counted twice would undo itself: without the
		// store, let the platform retry rather than guess.
		c.noteError(d.opt.Now(), fmt.Errorf("a vote could not be recorded: %w", err))
		return VoteIgnored
	}
	if !fresh {
		c.add(Delta{Duplicates: 1})
		return VoteDuplicate
	}
	res, err := va.Vote(ctx, VoteEvent{Workspace: c.cfg.Workspace, Agent: c.cfg.Agent, Channel: c.cfg.ID, Kind: c.cfg.Kind,
		UserKey: string(c.cfg.Kind) + ":" + v.User, Ref: v.Ref, Message: v.Message, Rating: v.Rating, Mode: v.Mode})
	if err != nil {
		_ = d.opt.Dedupe.Release(context.WithoutCancel(ctx), key)
		c.noteError(d.opt.Now(), fmt.Errorf("a vote could not be recorded: %w", err))
		return VoteIgnored
	}
	if res == VoteCounted || res == VoteTakenBack {
		c.add(Delta{Votes: 1})
	}
	return res
}

// sent tells the answerer where an answer went, when it can take votes.
func (d *Dispatcher) sent(ctx context.Context, c *Channel, m Message, rep Reply, ids []string) {
	va, ok := d.opt.Answerer.(VoteAnswerer)
	if !ok || rep.Ref == "" || len(ids) == 0 {
		return
	}
	err := va.Sent(ctx, SentAnswer{Workspace: c.cfg.Workspace, Agent: c.cfg.Agent, Channel: c.cfg.ID,
		UserKey: string(c.cfg.Kind) + ":" + m.User, Ref: rep.Ref, IDs: ids})
	if err != nil {
		// The answer is out; only votes on it will be ignored.
		c.noteError(d.opt.Now(), fmt.Errorf("the answer's message IDs could not be recorded, so votes on it will be ignored: %w", err))
	}
}

// ErrBadRef is a Reply.Ref that a platform payload cannot carry.
var ErrBadRef = errors.New("an answer reference must be 1-48 bytes without spaces")

// CheckRef validates a Reply.Ref.
func CheckRef(ref string) error {
	if ref == "" || len(ref) > MaxRef || strings.ContainsAny(ref, " \t\r\n") {
		return ErrBadRef
	}
	return nil
}

// Combine is the vote an answer has after v, given the one it had.
func Combine(had int, v VoteEvent) int {
	switch v.Mode {
	case VoteToggle:
		if had == v.Rating {
			return 0
		}
	case VoteRemove:
		if had == v.Rating {
			return 0
		}
		return had
	}
	return v.Rating
}
