package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/rag"
)

func TestFeedbackOneVoteChangeableDeletedWithConversation(t *testing.T) {
	srv, c := fakeClient(t)
	hits := staticRetriever{{Passage: rag.Passage{ID: "1", Source: "/d/faq.md", Text: "Birthday cakes need 48 hours notice."}, Score: 1}}
	convs := NewConversations(t.TempDir())
	r := NewRunner(c, hits, convs)
	def := Definition{Name: "b", Model: ollamafake.DefaultChatModel, KBs: []string{"kb"}}
	srv.Script(ollamafake.Reply{Text: "48 hours [1]."})
	ans, err := r.Ask(context.Background(), def, "", "How much notice do birthday cakes need?", nil)
	if err != nil || ans.Message == "" {
		t.Fatalf("answer %+v: %v", ans, err)
	}
	conv, _ := convs.Get(ans.Conversation)
	if len(conv.Messages) != 2 || conv.Messages[1].ID != ans.Message || conv.Messages[1].TTFT <= 0 {
		t.Fatalf("stored answer: %+v", conv.Messages)
	}

	if _, err := convs.SetFeedback(ans.Conversation, ans.Message, -1, "  It should say two days.  "); err != nil {
		t.Fatal(err)
	}
	m, err := convs.SetFeedback(ans.Conversation, ans.Message, 1, "")
	if err != nil || m.Feedback == nil || m.Feedback.Rating != 1 || m.Feedback.Comment != "" {
		t.Fatalf("changed vote: %+v %v", m.Feedback, err)
	}
	conv, _ = convs.Get(ans.Conversation)
	if f := conv.Messages[1].Feedback; f == nil || f.Rating != 1 {
		t.Fatalf("one vote, the last one, must be stored: %+v", f)
	}
	if m, _ := convs.SetFeedback(ans.Conversation, ans.Message, 0, ""); m.Feedback != nil {
		t.Fatal("rating 0 must take the vote back")
	}

	for _, bad := range []struct {
		msg     string
		rating  int
		comment string
		want    string
	}{
		{ans.Message, 2, "", "rating"},
		{ans.Message, -1, strings.Repeat("é", MaxFeedbackComment+1), "shorten"},
		{conv.Messages[0].ID, -1, "", "only answers"},
		{"nope", -1, "", "not in conversation"},
	} {
		if _, err := convs.SetFeedback(ans.Conversation, bad.msg, bad.rating, bad.comment); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("SetFeedback(%q, %d): %v, want %q", bad.msg, bad.rating, err, bad.want)
		}
	}
	if _, err := convs.SetFeedback(ans.Conversation, ans.Message, -1, strings.Repeat("é", MaxFeedbackComment)); err != nil {
		t.Fatalf("a comment of exactly the limit: %v", err)
	}

	if err := convs.Delete(ans.Conversation); err != nil {
		t.Fatal(err)
	}
	if _, err := convs.Get(ans.Conversation); err == nil {
		t.Fatal("the conversation, and its vote, must be gone")
	}
	if _, err := convs.SetFeedback(ans.Conversation, ans.Message, -1, ""); err == nil {
		t.Fatal("a vote on a deleted conversation must fail")
	}
}

// A vote given while the next answer of the same conversation streams must
// survive that answer being recorded (it used to be overwritten by the
// conversation as read before the answer started).
func TestVoteDuringNextAnswerIsKept(t *testing.T) {
	srv, c := fakeClient(t)
	hits := staticRetriever{{Passage: rag.Passage{ID: "1", Source: "/d/faq.md", Text: "Birthday cakes need 48 hours notice."}, Score: 1}}
	convs := NewConversations(t.TempDir())
	r := NewRunner(c, hits, convs)
	def := Definition{Name: "b", Model: ollamafake.DefaultChatModel, KBs: []string{"kb"}}
	first, err := r.Ask(context.Background(), def, "", "How much notice do birthday cakes need?", nil)
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	srv.OnChat(func(ollamafake.ChatRequest) ollamafake.Reply {
		close(started)
		<-release
		return ollamafake.Reply{Text: "Still 48 hours [1]."}
	})
	done := make(chan error)
	go func() {
		_, err := r.Ask(context.Background(), def, first.Conversation, "And for birthday cakes with a photo?", nil)
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("the second answer never reached the model")
	}
	if _, err := convs.SetFeedback(first.Conversation, first.Message, -1, "too vague"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	conv, _ := convs.Get(first.Conversation)
	if len(conv.Messages) != 4 {
		t.Fatalf("%d messages, want 4", len(conv.Messages))
	}
	if f := conv.Messages[1].Feedback; f == nil || f.Comment != "too vague" {
		t.Fatalf("the vote was lost when the next answer was stored: %+v", f)
	}
}

func TestMessagesWithoutIDsGetStableOnes(t *testing.T) {
	dir := t.TempDir()
	old := `{"id":"0123456789abcdef","agent":"b","title":"q","messages":[{"role":"user","content":"q","at":"2025-01-01T00:00:00Z"},{"role":"assistant","content":"a","at":"2025-01-01T00:00:00Z"}]}`
	if err := os.WriteFile(filepath.Join(dir, "0123456789abcdef.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	convs := NewConversations(dir)
	if _, err := convs.SetFeedback("0123456789abcdef", "m1", -1, "old answer"); err != nil {
		t.Fatal(err)
	}
	conv, _ := convs.Get("0123456789abcdef")
	if conv.Messages[1].ID != "m1" || conv.Messages[1].Feedback == nil {
		t.Fatalf("%+v", conv.Messages[1])
	}
}
