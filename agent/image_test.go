package agent

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
	"atoll/rag"
)

// TestImageToVisionModel: a vision model gets the attached image in the
// question's message, as Ollama's images, and no OCR runs.
func TestImageToVisionModel(t *testing.T) {
	srv, c := fakeClient(t)
	srv.AddModel(ollamafake.Model{Name: "eyes", Family: "llama", ContextLength: 8192, Capabilities: []string{"completion", "vision"}})
	hits := staticRetriever{{Passage: rag.Passage{ID: "1", Source: "/d/faq.md", Text: "Birthday cakes need 48 hours notice."}, Score: 1}}
	r := NewRunner(c, hits, NewConversations(t.TempDir()))
	r.ReadImage = func(context.Context, []byte) (string, error) { t.Error("OCR ran for a vision model"); return "", nil }
	srv.Script(ollamafake.Reply{Text: "That is a chocolate cake."})
	img := []byte("\x89PNG pretend photo")
	ans, err := r.AskWith(context.Background(), Definition{Name: "b", Model: "eyes", KBs: []string{"kb"}}, AskOptions{Images: [][]byte{img}}, "What cake is this?", nil)
	if err != nil || ans.ImageRead != "vision" || ans.Answer != "That is a chocolate cake." {
		t.Fatalf("%+v %v", ans, err)
	}
	chats := srv.Chats()
	last := chats[0].Messages[len(chats[0].Messages)-1]
	if last.Role != "user" || len(last.Images) != 1 || last.Images[0] != base64.StdEncoding.EncodeToString(img) || !strings.Contains(last.Content, "What cake is this?") {
		t.Fatalf("the question's message: %+v", last)
	}
	for _, m := range chats[0].Messages[:len(chats[0].Messages)-1] {
		if len(m.Images) != 0 {
			t.Fatalf("the image went to a %s message too", m.Role)
		}
	}
}

// TestImageReadByOCR: a model without vision gets the image's text after
// the question, never the image; the answer (streamed and stored) starts
// with a note saying so, in the question's language.
func TestImageReadByOCR(t *testing.T) {
	srv, c := fakeClient(t)
	convs := NewConversations(t.TempDir())
	r := NewRunner(c, nil, convs)
	var read [][]byte
	r.ReadImage = func(_ context.Context, img []byte) (string, error) {
		read = append(read, img)
		return "Opening hours: 7 to 18, closed Mondays", nil
	}
	srv.Script(ollamafake.Reply{Text: "You are closed on Mondays."})
	var streamed strings.Builder
	ans, err := r.AskWith(context.Background(), Definition{Name: "b", Model: ollamafake.DefaultChatModel}, AskOptions{Images: [][]byte{[]byte("jpeg")}}, "When is the shop closed?",
		func(s string) error { streamed.WriteString(s); return nil })
	if err != nil || ans.ImageRead != "ocr" || len(read) != 1 {
		t.Fatalf("%+v %v", ans, err)
	}
	if !strings.HasPrefix(ans.Answer, "_(This model cannot see images") || !strings.HasSuffix(ans.Answer, "You are closed on Mondays.") || streamed.String() != ans.Answer {
		t.Fatalf("answer %q, streamed %q", ans.Answer, streamed.String())
	}
	msgs := srv.Chats()[0].Messages
	last := msgs[len(msgs)-1]
	if len(last.Images) != 0 || !strings.Contains(last.Content, "When is the shop closed?") || !strings.Contains(last.Content, "closed Mondays") {
		t.Fatalf("the question's message: %+v", last)
	}
	conv, err := convs.Get(ans.Conversation)
	if err != nil || len(conv.Messages) != 2 || !strings.HasPrefix(conv.Messages[1].Content, "_(This model cannot see images") {
		t.Fatalf("stored: %+v %v", conv, err)
	}

	srv.Script(ollamafake.Reply{Text: "周一休息。"})
	ans, err = r.AskWith(context.Background(), Definition{Name: "b", Model: ollamafake.DefaultChatModel}, AskOptions{Images: [][]byte{[]byte("jpeg")}}, "这家店哪天休息？", nil)
	if err != nil || !strings.HasPrefix(ans.Answer, "_（当前模型无法查看图片") {
		t.Fatalf("Chinese: %q %v", ans.Answer, err)
	}

	// OCR that cannot run is the user's sentence, and nothing is asked.
	r.ReadImage = func(context.Context, []byte) (string, error) {
		return "", errors.New("the image cannot be read: install Tesseract OCR")
	}
	n := len(srv.Chats())
	if _, err := r.AskWith(context.Background(), Definition{Name: "b", Model: ollamafake.DefaultChatModel}, AskOptions{Images: [][]byte{[]byte("x")}}, "What is this?", nil); err == nil || !strings.Contains(err.Error(), "Tesseract") || len(srv.Chats()) != n {
		t.Fatalf("OCR failure: %v", err)
	}
	if _, err := r.AskWith(context.Background(), Definition{Name: "b", Model: ollamafake.DefaultChatModel}, AskOptions{Images: make([][]byte, MaxImages+1)}, "Too many?", nil); err == nil {
		t.Fatal("more than MaxImages images accepted")
	}
}
