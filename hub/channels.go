package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"atoll/agent"
	"atoll/channels"
	_ "atoll/channels/all" // every kind
	"atoll/hubstore"
	"atoll/rag"
)

// ChannelKeyFile is the file in the hub's folder holding the key that seals
// channel secrets (channels.KeyEnv wins over it). Replicas sharing a
// database must share the key: set the variable on each.
const ChannelKeyFile = "channel.key"

// ChannelSealer loads (or makes) the key sealing the channel secrets of the
// hub whose folder is dir.
func ChannelSealer(dir string) (*channels.Sealer, error) {
	key, err := channels.LoadKey(filepath.Join(dir, ChannelKeyFile), channels.KeyEnv)
	if err != nil {
		return nil, err
	}
	return channels.NewSealer(key)
}

// ChannelStore keeps channel configs (secrets sealed) in the hub's store.
// A Stored must name its workspace; Delete acts in any workspace (an
// operator's command): use DeleteIn for one workspace.
type ChannelStore struct{ St hubstore.Storage }

var _ channels.Store = ChannelStore{}

// List returns every workspace's channels.
func (s ChannelStore) List(ctx context.Context) ([]channels.Stored, error) {
	all, err := s.St.AllChannels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]channels.Stored, 0, len(all))
	for _, c := range all {
		var st channels.Stored
		if err := json.Unmarshal(c.Config, &st); err != nil {
			return nil, fmt.Errorf("channel %s in the hub database cannot be read: %w", c.ID, err)
		}
		// The row is the truth about whom the channel belongs to.
		st.ID, st.Workspace, st.Agent, st.Kind = c.ID, c.Workspace, c.Agent, channels.Kind(c.Kind)
		out = append(out, st)
	}
	return out, nil
}

// Put adds or replaces a channel of a published agent.
func (s ChannelStore) Put(ctx context.Context, st channels.Stored) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return s.St.PutChannel(ctx, hubstore.Channel{ID: st.ID, Workspace: st.Workspace, Agent: st.Agent, Kind: string(st.Kind), Config: b})
}

// Delete removes a channel whatever its workspace.
func (s ChannelStore) Delete(ctx context.Context, id string) error {
	all, err := s.St.AllChannels(ctx)
	if err != nil {
		return err
	}
	for _, c := range all {
		if c.ID == id {
			return s.St.DeleteChannel(ctx, c.Workspace, id)
		}
	}
	return fmt.Errorf("channel %s: %w", id, hubstore.ErrNotFound)
}

// dbDeduper claims platform message keys in the hub's database, so a retry
// that reaches another replica (or this one after a restart) is not
// answered twice.
type dbDeduper struct{ st hubstore.Storage }

func (d dbDeduper) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	return d.st.ClaimMessage(ctx, key, time.Now(), ttl)
}

func (d dbDeduper) Release(ctx context.Context, key string) error {
	return d.st.ReleaseMessage(ctx, key)
}

// hubChannels runs the hub's messaging channels: the dispatcher, kept in
// step with the channels table through the change feed.
type hubChannels struct {
	h      *Hub
	d      *channels.Dispatcher
	sealer *channels.Sealer
	status *statusSink
	stop   context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	loaded map[string]time.Time // channel id → its row's Updated
}

// startChannels loads the stored channels and follows their changes.
func (h *Hub) startChannels() error {
	sealer, err := ChannelSealer(h.cfg.Dir)
	if err != nil {
		return err
	}
	hc := &hubChannels{h: h, sealer: sealer, loaded: map[string]time.Time{}, done: make(chan struct{}), status: newStatusSink(h.st, h.cfg.Log)}
	hc.d = channels.New(channels.Options{Answerer: hc, SorryText: channels.DefaultSorry, Dedupe: dbDeduper{h.st}, Log: h.cfg.Log, APIBases: h.cfg.ChannelAPIBases, BusyWait: channelBusyWait, Status: hc.status})
	ctx, stop := context.WithCancel(context.Background())
	hc.stop = stop
	h.channels = hc
	ready := make(chan struct{})
	go hc.follow(ctx, ready)
	<-ready
	return nil
}

// closeChannels stops taking messages and waits for answers in progress.
func (h *Hub) closeChannels() {
	if h.channels == nil {
		return
	}
	h.channels.stop()
	<-h.channels.done
	h.channels.d.Close()
	h.channels.status.Close()
}

// ServeHTTP serves /ch/{id}.
func (hc *hubChannels) ServeHTTP(w http.ResponseWriter, r *http.Request) { hc.d.ServeHTTP(w, r) }

// follow subscribes to the change feed, then loads every channel (so no
// change between the two is missed), and loads again on each channel or
// unpublish change; after a lost subscription it starts over.
func (hc *hubChannels) follow(ctx context.Context, ready chan struct{}) {
	defer close(hc.done)
	first := true
	for ctx.Err() == nil {
		feed := hc.h.st.Watch(ctx)
		hc.sync(ctx)
		if first {
			close(ready)
			first = false
		}
		for ch := range feed {
			switch ch.Kind {
			case hubstore.ChangeChannel, hubstore.ChangeUnpublished:
				hc.sync(ctx)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	if first {
		close(ready)
	}
}

// sync makes the dispatcher serve exactly the stored channels.
func (hc *hubChannels) sync(ctx context.Context) {
	all, err := hc.h.st.AllChannels(ctx)
	if err != nil {
		if ctx.Err() == nil {
			hc.h.cfg.Log.Warn("channels not loaded", "err", err)
		}
		return
	}
	hc.mu.Lock()
	defer hc.mu.Unlock()
	seen := map[string]bool{}
	for _, c := range all {
		seen[c.ID] = true
		if at, ok := hc.loaded[c.ID]; ok && at.Equal(c.Updated) {
			continue
		}
		var st channels.Stored
		err := json.Unmarshal(c.Config, &st)
		var cfg channels.Config
		if err == nil {
			st.ID, st.Workspace, st.Agent, st.Kind = c.ID, c.Workspace, c.Agent, channels.Kind(c.Kind)
			cfg, err = st.Open(hc.sealer)
		}
		if err == nil {
			_, err = hc.d.Add(cfg)
		}
		if err != nil {
			// Not fatal for the hub: the other channels keep running.
			hc.h.cfg.Log.Error("channel not started", "channel", c.ID, "workspace", c.Workspace, "err", err)
			hc.d.Remove(c.ID)
		}
		hc.loaded[c.ID] = c.Updated
	}
	for id := range hc.loaded {
		if !seen[id] {
			hc.d.Remove(id)
			delete(hc.loaded, id)
		}
	}
}

var _ channels.VoteAnswerer = (*hubChannels)(nil)

// channelKey carries a channel's ID in an answer's context, for its leads.
type channelKey struct{}

// channelOf is the channel an answer is given on ("" for the web).
func channelOf(ctx context.Context) string { s, _ := ctx.Value(channelKey{}).(string); return s }

// Answer answers one end user's message on a channel as the chat API
// does: the agent's current version, one conversation per channel and
// user, the turn and its usage stored.
func (hc *hubChannels) Answer(ctx context.Context, q channels.Question) (channels.Reply, error) {
	h := hc.h
	sv, err := h.cache.agent(ctx, q.Agent)
	if err == nil && sv.agent.Workspace != q.Workspace {
		err = fmt.Errorf("agent %q: %w", q.Agent, hubstore.ErrNotFound)
	}
	if err != nil {
		return channels.Reply{}, err
	}
	ws := sv.agent.Workspace
	start := time.Now()
	release, err := hc.admit(ctx, ws, start)
	if err != nil {
		return channels.Reply{}, err
	}
	defer release()
	usage := hubstore.Usage{Requests: 1, TokensIn: int64(rag.EstimateTokens(q.Text))}
	counted := false
	defer func() {
		if !counted {
			_ = h.st.AddUsage(context.WithoutCancel(ctx), ws, "", start, usage)
		}
	}()
	conv := channelConversation(q.Channel, q.UserKey)
	var history []agent.Message
	if c, err := h.st.Conversation(ctx, ws, conv); err == nil && c.Agent == sv.agent.Name {
		ts, err := h.st.Turns(ctx, ws, conv, historyTurns)
		if err != nil {
			usage.Errors++
			return channels.Reply{}, err
		}
		for _, t := range ts {
			history = append(history, agent.Message{Role: "user", Content: t.Question, At: t.At}, agent.Message{Role: "assistant", Content: t.Answer, At: t.At})
		}
	} else if err == nil {
		// The agent was unpublished and its name published again: its
		// old conversation is gone with it; this id is another agent's.
		return channels.Reply{}, errors.New("the conversation belongs to another agent")
	}
	b, err := h.cache.acquire(ctx, ws, sv.ver.Bundle)
	if err != nil {
		usage.Errors++
		return channels.Reply{}, err
	}
	defer h.cache.release(b)
	idem := hubstore.NewID()
	actx := context.WithValue(context.WithValue(context.WithValue(ctx, searchKey, b.search), turnKey, requestState{ws: ws, idem: idem}), channelKey{}, q.Channel)
	ans, err := h.runner.AskWith(actx, sv.def, agent.AskOptions{Kept: true, Conversation: conv, History: history, User: q.UserKey}, q.Text, nil)
	if err != nil {
		usage.Errors++
		return channels.Reply{}, err
	}
	usage.TokensOut = int64(rag.EstimateTokens(ans.Answer))
	meta, _ := json.Marshal(atollExtra{Conversation: conv, Citations: ans.Citations, Followups: ans.Followups, NotCovered: ans.NotCovered})
	stored, _, err := h.st.RecordAnswer(context.WithoutCancel(ctx), ws, sv.agent.Name, conv, hubstore.Turn{Key: idem, Question: q.Text, Answer: ans.Answer, Meta: meta, At: time.Now().UTC()}, "", usage)
	if err != nil {
		usage.Errors++
		return channels.Reply{}, fmt.Errorf("the answer could not be saved: %w", err)
	}
	counted = true
	rep := channels.Reply{Text: ans.Answer, Followups: ans.Followups, Ref: turnRef(conv, stored.Seq)}
	for _, c := range ans.Citations {
		if c.Used {
			rep.Sources = append(rep.Sources, channels.Source{Title: filepath.Base(c.Source), Page: c.Page})
		}
	}
	return rep, nil
}

// channelConversation is the one conversation of a channel's end user,
// found again on their next message without storing a mapping.
func channelConversation(channel, userKey string) string {
	sum := sha256.Sum256([]byte(channel + "\x00" + userKey))
	return "ch-" + hex.EncodeToString(sum[:12])
}

// turnRef names turn seq of a channel conversation in a Reply.Ref: what
// Telegram echoes back in a vote button's callback_data (27 + 1 + a few
// bytes, well inside channels.MaxRef).
func turnRef(conv string, seq int) string { return conv + ":" + strconv.Itoa(seq) }

func parseRef(ref string) (conv string, seq int, ok bool) {
	conv, n, ok := strings.Cut(ref, ":")
	if !ok || !strings.HasPrefix(conv, "ch-") {
		return "", 0, false
	}
	seq, err := strconv.Atoi(n)
	return conv, seq, err == nil && seq >= 1
}

// maxVoteBack bounds how far back in a conversation a toggled or removed
// vote reads the answer's current vote; older answers' votes are ignored.
const maxVoteBack = 200

// Vote records an end user's vote on a channel answer as the web chat's
// POST /api/feedback does (the same turn, the same SetFeedback), so that it
// reaches the review pull and the analytics. The voter must be the
// conversation's user: the conversation is derived from the channel and
// the voter, so a vote on another user's answer (a group chat) names
// another conversation and is ignored, as are unknown and old answers.
func (hc *hubChannels) Vote(ctx context.Context, v channels.VoteEvent) (channels.VoteResult, error) {
	h := hc.h
	sv, err := h.cache.agent(ctx, v.Agent)
	if errors.Is(err, hubstore.ErrNotFound) || (err == nil && sv.agent.Workspace != v.Workspace) {
		return channels.VoteIgnored, nil
	}
	if err != nil {
		return channels.VoteIgnored, err
	}
	ws := sv.agent.Workspace
	var conv string
	var seq int
	switch {
	case v.Ref != "":
		var ok bool
		if conv, seq, ok = parseRef(v.Ref); !ok {
			return channels.VoteIgnored, nil
		}
	case v.Message != "":
		conv, seq, err = h.st.SentTurn(ctx, ws, v.Channel, v.Message)
		if errors.Is(err, hubstore.ErrNotFound) {
			return channels.VoteIgnored, nil
		}
		if err != nil {
			return channels.VoteIgnored, err
		}
	default:
		return channels.VoteIgnored, nil
	}
	if conv != channelConversation(v.Channel, v.UserKey) {
		return channels.VoteIgnored, nil
	}
	had := 0
	if v.Mode != channels.VoteSet {
		c, err := h.st.Conversation(ctx, ws, conv)
		if errors.Is(err, hubstore.ErrNotFound) {
			return channels.VoteIgnored, nil
		}
		if err != nil {
			return channels.VoteIgnored, err
		}
		back := c.Turns - seq + 1
		if back < 1 || back > maxVoteBack {
			return channels.VoteIgnored, nil
		}
		ts, err := h.st.Turns(ctx, ws, conv, back)
		if err != nil {
			return channels.VoteIgnored, err
		}
		i := slices.IndexFunc(ts, func(t hubstore.Turn) bool { return t.Seq == seq })
		if i < 0 {
			return channels.VoteIgnored, nil
		}
		had = ts[i].Feedback.Rating
	}
	rating := channels.Combine(had, v)
	if v.Mode == channels.VoteRemove && rating == had {
		return channels.VoteIgnored, nil // the thumb taken off was not the vote
	}
	t, err := h.st.SetFeedback(ctx, ws, sv.agent.Name, conv, seq, hubstore.Feedback{Rating: rating})
	switch {
	case errors.Is(err, hubstore.ErrNotFound), errors.Is(err, hubstore.ErrForbidden):
		return channels.VoteIgnored, nil
	case err != nil:
		return channels.VoteIgnored, err
	case t.Feedback.Rating == 0:
		return channels.VoteTakenBack, nil
	}
	return channels.VoteCounted, nil
}

// Sent records the platform IDs of a channel answer's messages, so that a
// reaction naming only the message finds the turn on any replica.
func (hc *hubChannels) Sent(ctx context.Context, s channels.SentAnswer) error {
	conv, seq, ok := parseRef(s.Ref)
	if !ok {
		return fmt.Errorf("the answer reference %q is not the hub's", s.Ref)
	}
	return hc.h.st.MarkSent(context.WithoutCancel(ctx), s.Workspace, s.Channel, conv, seq, s.IDs)
}

// QuotaSorry is what an end user on a channel is told once the
// workspace has used its requests for the day.
const QuotaSorry = "Sorry, I have answered as many questions as I can today. Please try again tomorrow."

// StreamsSorry is what an end user on a channel is told when the
// workspace's answers at once stayed at its MaxStreams for the whole wait.
const StreamsSorry = "Sorry, I am answering too many questions at once right now. Please send your question again in a few minutes."

// channelBusyWait is how long a channel question waits for one of its
// workspace's streams (the dispatcher's BusyWait); tests shorten it.
var channelBusyWait = time.Minute

// admit applies the workspace's quotas to a channel answer as the chat
// API does, streams first: a question at MaxStreams is channels.Busy (the
// dispatcher tries it again later, off its workers) and must not have
// used one of the day's requests. Past the requests a day it declines
// with QuotaSorry. release gives the stream back; call it when the answer
// is done.
func (hc *hubChannels) admit(ctx context.Context, ws string, now time.Time) (release func(), err error) {
	h := hc.h
	wsp, err := h.st.Workspace(ctx, ws)
	if err != nil {
		return nil, err
	}
	h.streams.acquire(ws, 0)
	release = func() { h.streams.release(ws) }
	if wsp.MaxStreams > 0 {
		lease, err := h.st.AcquireLease(ctx, ws, "streams", wsp.MaxStreams, now, streamLease)
		if err != nil {
			release()
			if errors.Is(err, hubstore.ErrConflict) {
				return nil, &channels.Busy{Text: StreamsSorry, Err: fmt.Errorf("the workspace already had its %d answers at once running (its streams quota) all the while; raise it with `atoll hub workspace quota --max-streams N`", wsp.MaxStreams)}
			}
			return nil, err
		}
		release = h.holdLease(ws, lease, h.cfg.Log)
	}
	if wsp.RequestsPerDay > 0 {
		n, _, err := h.st.Incr(ctx, ws, "requests/day", now, 24*time.Hour)
		if err == nil && n > wsp.RequestsPerDay {
			err = &channels.Declined{Text: QuotaSorry, Err: fmt.Errorf("the workspace has used its quota of %d requests for today; raise it with `atoll hub workspace quota`", wsp.RequestsPerDay)}
		}
		if err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// holdLease renews a held streams lease while the answer runs (a replica
// that dies leaves it to expire) and returns what gives it back, with the
// workspace's local count of answers running; chat and channel answers
// share it.
func (h *Hub) holdLease(ws, lease string, log *slog.Logger) (release func()) {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(streamLease / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				if err := h.st.RenewLease(context.Background(), ws, lease, now, streamLease); err != nil {
					log.Warn("stream lease not renewed", "err", err)
				}
			}
		}
	}()
	return sync.OnceFunc(func() {
		close(stop)
		h.streams.release(ws)
		if err := h.st.ReleaseLease(context.Background(), ws, lease); err != nil {
			log.Warn("stream lease not released; it expires by itself", "err", err)
		}
	})
}

// Channels is the hub's channel dispatcher (status, test messages).
func (h *Hub) Channels() *channels.Dispatcher { return h.channels.d }
