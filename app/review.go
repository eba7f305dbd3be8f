package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"atoll/agent"
	"atoll/analytics"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/publish"
	"atoll/review"
	"atoll/store"
)

// ---- Feedback ----

// SetFeedback records the user's vote on an answer (1 good, -1 bad, 0 to
// take it back) with an optional comment; voting again replaces it.
func (a *App) SetFeedback(conversation, message string, rating int, comment string) (agent.Message, error) {
	return a.convs.SetFeedback(conversation, message, rating, comment)
}

// DeleteConversation removes a conversation with its votes and comments.
func (a *App) DeleteConversation(id string) error { return a.convs.Delete(id) }

// ---- Analytics ----

// Analytics sums up an agent's local conversations over the last `days`
// days, today included (1 to analytics.MaxDays).
func (a *App) Analytics(agentName string, days int) (analytics.Report, error) {
	def, err := a.agents.Get(agentName)
	if err != nil {
		return analytics.Report{}, userError(err)
	}
	if days < 1 || days > analytics.MaxDays {
		return analytics.Report{}, fmt.Errorf("choose a period of 1 to %d days, not %d", analytics.MaxDays, days)
	}
	now := time.Now()
	to := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.Local)
	in := analytics.Input{Agent: def.Name, From: to.AddDate(0, 0, -days), To: to, Location: time.Local, Embed: a.embedderFor(def)}
	err = a.convs.Walk(def.Name, func(c agent.Conversation) error {
		ac := analytics.Conversation{ID: c.ID}
		for i, m := range c.Messages {
			if m.Role != "assistant" || i == 0 || c.Messages[i-1].Role != "user" {
				continue
			}
			t := analytics.Turn{At: c.Messages[i-1].At, Question: c.Messages[i-1].Content, NotCovered: m.NotCovered, TTFT: m.TTFT}
			if m.Feedback != nil {
				t.Rating = m.Feedback.Rating
			}
			if !t.At.Before(in.From) {
				ac.Turns = append(ac.Turns, t)
			}
		}
		if len(ac.Turns) > 0 {
			in.Conversations = append(in.Conversations, ac)
		}
		return nil
	})
	if err != nil {
		return analytics.Report{}, err
	}
	leads, err := a.leads.List(def.Name)
	if err != nil {
		return analytics.Report{}, err
	}
	for _, l := range leads {
		in.Leads = append(in.Leads, l.Created)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return analytics.Compute(ctx, in), nil
}

// ExportAnalyticsCSV is Analytics as CSV text for the interface to save.
func (a *App) ExportAnalyticsCSV(agentName string, days int) (string, error) {
	r, err := a.Analytics(agentName, days)
	if err != nil {
		return "", err
	}
	return r.CSV(), nil
}

// embedderFor groups questions with the embedding model of the agent's
// first knowledge base that has one; nil (grouping by words) otherwise.
// Each call is bounded, so a slow or absent Ollama costs the report a
// minute at most and then it groups by words.
func (a *App) embedderFor(def agent.Definition) analytics.Embedder {
	for _, name := range def.KBs {
		kb, err := a.store.KB(name)
		if err != nil || kb.Meta().EmbedModel == "" {
			continue
		}
		model, c := kb.Meta().EmbedModel, a.client()
		return analytics.EmbedFunc(func(ctx context.Context, texts []string) ([][]float32, error) {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return c.EmbedBatched(ctx, model, texts, 64, 1, nil)
		})
	}
	return nil
}

// ---- Review ----

// ReviewItems lists an agent's answers to look at again, newest first:
// those voted down and those its knowledge did not cover, from this
// computer's chats and, pulled with PullReview, from its hub (origin
// "hub"). mask hides email addresses and phone numbers in what they show.
func (a *App) ReviewItems(agentName string, mask bool) ([]review.Item, error) {
	def, err := a.agents.Get(agentName)
	if err != nil {
		return nil, userError(err)
	}
	out := []review.Item{}
	err = a.convs.Walk(def.Name, func(c agent.Conversation) error {
		out = append(out, review.FromConversation(c)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	pulled, err := a.reviewQueue().Items(def.Name)
	if err != nil {
		return nil, err
	}
	out = append(out, pulled...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	dir := a.correctionsDir(def.Name)
	for i := range out {
		if _, err := os.Stat(filepath.Join(dir, out[i].NoteFile())); err == nil {
			out[i].Corrected = true
		}
		if mask {
			out[i] = out[i].Masked()
		}
	}
	return out, nil
}

func (a *App) reviewQueue() *review.Queue { return review.NewQueue(review.QueueDir(a.cfg.DataDir)) }

// PullReview brings the published agent's answers voted down or not
// covered back from the remembered hub, from where the last pull stopped;
// ReviewItems lists them after.
func (a *App) PullReview(agentName string) (review.PullResult, error) {
	if err := agent.ValidName(agentName); err != nil {
		return review.PullResult{}, userError(err)
	}
	c := a.publishConfig()
	if c.URL == "" || c.Token == "" {
		return review.PullResult{}, fmt.Errorf("%s is not published from this computer: publish it first on the Publish screen", agentName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	return a.reviewQueue().Pull(ctx, agentName, c.PullKey(agentName), publish.ReviewFetcher(c.URL, c.Token, c.PublicName(agentName)))
}

// findItem is the review item itemID names: an answer of this computer's
// chats, else one pulled from the hub.
func (a *App) findItem(agentName, itemID string) (review.Item, bool) {
	conv, msg, _ := strings.Cut(itemID, "-")
	if c, err := a.convs.Get(conv); err == nil && c.Agent == agentName {
		for _, it := range review.FromConversation(c) {
			if it.Message == msg {
				return it, true
			}
		}
	}
	it, ok, err := a.reviewQueue().Item(agentName, itemID)
	return it, ok && err == nil
}

func (a *App) correctionsDir(agentName string) string {
	return filepath.Join(a.cfg.DataDir, "corrections", agentName)
}

// Corrected is what a correction saved.
type Corrected struct {
	Note string             `json:"note"` // the Q&A document's path
	KB   string             `json:"kb"`   // the knowledge base it was added to
	Test agent.TestQuestion `json:"test"` // the case added to the agent's test set
	// Tests is the agent's test set now (JSON lines).
	Tests string `json:"tests"`
}

// CorrectItem fixes a review item, local or pulled from the hub, so that
// it stays fixed: the right answer
// (or the passage that should have been used, by its number among the
// item's passages; 0 for none) becomes a Q&A note in the "corrections"
// folder source of the agent's first knowledge base, ingested like any
// file, and the question becomes a case of the agent's test set (the
// expected source and the must phrase), replacing a case with the same
// question.
func (a *App) CorrectItem(agentName, itemID, answer string, passage int, must string) (Corrected, error) {
	def, err := a.agents.Get(agentName)
	if err != nil {
		return Corrected{}, userError(err)
	}
	if len(def.KBs) == 0 {
		return Corrected{}, fmt.Errorf("%s has no knowledge base to hold the correction: add one to it on the Agents screen first", def.Name)
	}
	if !review.ValidID(itemID) {
		return Corrected{}, fmt.Errorf("review item %q not found; refresh the list", itemID)
	}
	item, ok := a.findItem(def.Name, itemID)
	if !ok {
		return Corrected{}, fmt.Errorf("review item %q not found; refresh the list", itemID)
	}
	fix := review.Correction{Question: item.Question, Answer: strings.TrimSpace(answer), Must: strings.TrimSpace(must)}
	if passage != 0 {
		i := slices.IndexFunc(item.Passages, func(p agent.Citation) bool { return p.N == passage })
		if i < 0 {
			return Corrected{}, fmt.Errorf("passage %d is not among the passages of this answer", passage)
		}
		fix.Passage = &item.Passages[i]
	}
	if err := fix.Validate(); err != nil {
		return Corrected{}, err
	}

	a.correcting.Lock()
	defer a.correcting.Unlock()
	dir := a.correctionsDir(def.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Corrected{}, fmt.Errorf("couldn't create the corrections folder %s: %w", dir, err)
	}
	note := filepath.Join(dir, item.NoteFile())
	if err := store.WriteFileAtomic(note, []byte(fix.Note()), 0o600); err != nil {
		return Corrected{}, fmt.Errorf("couldn't write the correction note: %w", err)
	}
	kbName := def.KBs[0]
	embed := ""
	if kb, err := a.store.KB(kbName); err == nil {
		embed = kb.Meta().EmbedModel
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The whole folder is the source, so every correction of the agent is
	// one "corrections" entry in the knowledge base's sources.
	sum, err := a.ingesterNow().Run(ctx, newID(), kbName, embed, []string{dir}, nil)
	if err == nil && len(sum.Errors) > 0 {
		err = errors.New(sum.Errors[0].Reason)
	}
	if err != nil {
		return Corrected{}, fmt.Errorf("the correction note could not be added to %s: %s", kbName, llm.Sentence(err))
	}
	_ = knowledge.RecordPaths(a.store, kbName, []string{dir}, sum)

	tc := fix.TestCase(note)
	agentsDir := filepath.Join(a.cfg.DataDir, "agents")
	qs, err := agent.LoadTestSet(agentsDir, def.Name)
	if err != nil {
		return Corrected{}, fmt.Errorf("the test set of %s cannot be read (%v): fix or clear it on the Agents screen, then correct again", def.Name, err)
	}
	qs = slices.DeleteFunc(qs, func(q agent.TestQuestion) bool { return q.Q == tc.Q })
	qs = append(qs, tc)
	text, err := agent.TestSetJSONL(qs)
	if err != nil {
		return Corrected{}, err
	}
	if err := agent.SaveTestSet(agentsDir, def.Name, []byte(text)); err != nil {
		return Corrected{}, fmt.Errorf("couldn't save the test set of %s: %w", def.Name, err)
	}
	return Corrected{Note: note, KB: kbName, Test: tc, Tests: text}, nil
}
