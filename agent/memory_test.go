package agent

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"atoll/internal/ollamafake"
)

func TestMemoryExtractAndInject(t *testing.T) {
	srv, c := fakeClient(t)
	r := NewRunner(c, nil, NewConversations(t.TempDir()))
	r.Memory = NewMemories(filepath.Join(t.TempDir(), "memory"))
	def := Definition{Name: "chef", Model: ollamafake.DefaultChatModel, Memory: true}
	ctx := context.Background()

	srv.Script(
		ollamafake.Reply{Text: "Nice to meet you, Sam."},
		ollamafake.Reply{JSON: map[string]any{"facts": []string{"The user is called Sam.", "The user is vegetarian.", "  "}}},
	)
	ans, err := r.Ask(ctx, def, "", "Hi, I'm Sam and I'm vegetarian.", nil)
	if err != nil {
		t.Fatal(err)
	}
	chats := srv.Chats()
	if len(chats) != 2 || !strings.Contains(string(chats[1].Format), "facts") || !strings.Contains(chats[1].Messages[1].Content, "I'm Sam") {
		t.Fatalf("extraction request: %d chats, format %s", len(chats), chats[len(chats)-1].Format)
	}
	facts, err := r.Memory.List("chef", LocalUser)
	if err != nil || len(facts) != 2 || facts[1].Text != "The user is vegetarian." || facts[0].Conversation != ans.Conversation {
		t.Fatalf("facts: %+v %v", facts, err)
	}

	// A later conversation gets the facts as a system note; a fact already
	// known (in another case) is not stored twice.
	srv.Script(
		ollamafake.Reply{Text: "Try the mushroom tart, Sam."},
		ollamafake.Reply{JSON: map[string]any{"facts": []string{"the user is vegetarian.", "The user lives in Lyon."}}},
	)
	if _, err := r.Ask(ctx, def, "", "What should I cook tonight? I live in Lyon.", nil); err != nil {
		t.Fatal(err)
	}
	sys := srv.Chats()[2].Messages[0]
	if sys.Role != "system" || !strings.Contains(sys.Content, "- The user is called Sam.") || !strings.Contains(sys.Content, "- The user is vegetarian.") {
		t.Fatalf("memory note missing from the prompt: %+v", sys)
	}
	facts, _ = r.Memory.List("chef", LocalUser)
	if len(facts) != 3 || facts[2].Text != "The user lives in Lyon." {
		t.Fatalf("after the second turn: %+v", facts)
	}
	// Another end user shares nothing.
	if other, _ := r.Memory.List("chef", "visitor-42"); len(other) != 0 {
		t.Fatalf("memories leaked across users: %+v", other)
	}

	// Edit, delete, clear.
	if f, err := r.Memory.Update("chef", LocalUser, facts[0].ID, "The user is called Samantha."); err != nil || f.Text != "The user is called Samantha." {
		t.Fatalf("update: %+v %v", f, err)
	}
	if err := r.Memory.Delete("chef", LocalUser, facts[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := r.Memory.Delete("chef", LocalUser, "nope"); !errors.Is(err, ErrFactNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
	facts, _ = r.Memory.List("chef", LocalUser)
	if len(facts) != 2 || facts[0].Text != "The user is called Samantha." {
		t.Fatalf("after edit and delete: %+v", facts)
	}

	// Test runs neither read nor make memories; an agent without Memory neither.
	before := len(srv.Chats())
	srv.Script(ollamafake.Reply{Text: "ok"})
	if _, err := r.AskWith(ctx, def, AskOptions{Ephemeral: true}, "Hello", nil); err != nil {
		t.Fatal(err)
	}
	def.Memory = false
	srv.Script(ollamafake.Reply{Text: "ok"})
	if _, err := r.Ask(ctx, def, "", "Hello again", nil); err != nil {
		t.Fatal(err)
	}
	chats = srv.Chats()
	if len(chats) != before+2 || strings.Contains(chats[before].Messages[0].Content, "Samantha") {
		t.Fatalf("ephemeral or memory-off turns used memory: %d chats", len(chats)-before)
	}
	if err := r.Memory.Clear("chef", LocalUser); err != nil {
		t.Fatal(err)
	}
	if facts, _ := r.Memory.List("chef", LocalUser); len(facts) != 0 {
		t.Fatalf("after clear: %+v", facts)
	}
	if _, err := r.Memory.List("chef", "../etc"); err == nil {
		t.Fatal("path-like user id accepted")
	}
}
