package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"atoll/agent"
)

// fakeHub serves a review queue as the hub does: the items changed after
// a cursor (here, an index into a log of changes), two per page.
type fakeHub struct {
	log    []Page // one change per entry: an item or a resolution
	sinces []string
}

func (h *fakeHub) fetch(ctx context.Context, since string) (Page, error) {
	h.sinces = append(h.sinces, since)
	from := 0
	if since != "" {
		fmt.Sscan(since, &from)
	}
	var p Page
	i := from
	for ; i < len(h.log) && i < from+2; i++ {
		p.Items = append(p.Items, h.log[i].Items...)
		p.Resolved = append(p.Resolved, h.log[i].Resolved...)
	}
	p.Next = since
	if i > from {
		p.Next = fmt.Sprint(i)
	}
	return p, nil
}

func (h *fakeHub) add(it Item) { h.log = append(h.log, Page{Items: []Item{it}}) }

func hubItem(conv string, seq, rating int, comment string) Item {
	n := 0
	fmt.Sscanf(conv, "c%d", &n)
	return Item{ID: ItemID(conv, fmt.Sprint(seq)), Origin: Hub, Agent: "baker", Conversation: conv, Message: fmt.Sprint(seq),
		At: time.Date(2026, 11, 30, 10, n, seq, 0, time.UTC), Question: "Q" + conv, Answer: "A" + conv,
		Passages: []agent.Citation{{N: 1, Source: "faq.md", Text: "Cakes need 48 hours.", Used: true}}, NotCovered: rating == 0,
		Rating: rating, Comment: comment}
}

func fileLines(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "baker.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestPullIncremental: a pull follows the pages to the end and saves the
// cursor; the next pull starts there and brings only what is newer.
func TestPullIncremental(t *testing.T) {
	dir := t.TempDir()
	q := NewQueue(dir)
	h := &fakeHub{}
	h.add(hubItem("c1", 1, -1, "Wrong price."))
	h.add(hubItem("c2", 1, 0, ""))
	h.add(hubItem("c3", 1, -1, ""))
	res, err := q.Pull(context.Background(), "baker", "http://hub", h.fetch)
	if err != nil || res.New != 3 || res.Down != 2 || res.NotCovered != 1 || res.Total != 3 || res.Updated != 0 {
		t.Fatalf("first pull: %+v %v", res, err)
	}
	items, err := q.Items("baker")
	if err != nil || len(items) != 3 || items[0].ID != "c3-1" || items[2].Comment != "Wrong price." || items[2].Origin != Hub || len(items[2].Passages) != 1 {
		t.Fatalf("items: %+v %v", items, err)
	}
	h.sinces = nil
	h.add(hubItem("c4", 1, -1, "Rude."))
	res, err = q.Pull(context.Background(), "baker", "http://hub", h.fetch)
	if err != nil || res.New != 1 || res.Total != 4 {
		t.Fatalf("second pull: %+v %v", res, err)
	}
	if h.sinces[0] != "3" {
		t.Fatalf("the second pull started from %q, not the saved cursor 3", h.sinces[0])
	}
	if n := len(fileLines(t, dir)); n != 4 {
		t.Fatalf("the file has %d lines for 4 items", n)
	}
	// Another hub: its cursors mean nothing here, so it starts over.
	h.sinces = nil
	if _, err := q.Pull(context.Background(), "baker", "http://other", h.fetch); err != nil || h.sinces[0] != "" {
		t.Fatalf("a pull from another hub started at %q (%v)", h.sinces[0], err)
	}
}

// TestPullVoteChange: a later vote on the same answer replaces its item,
// and an up-vote (the hub's resolved list) drops it.
func TestPullVoteChange(t *testing.T) {
	dir := t.TempDir()
	q := NewQueue(dir)
	h := &fakeHub{}
	h.add(hubItem("c1", 1, -1, "Wrong price."))
	h.add(hubItem("c2", 1, -1, "Too slow."))
	if _, err := q.Pull(context.Background(), "baker", "http://hub", h.fetch); err != nil {
		t.Fatal(err)
	}
	h.add(hubItem("c1", 1, -1, "Wrong price: it is 38 euros."))
	h.log = append(h.log, Page{Resolved: []string{"c2-1", "c9-9"}})
	res, err := q.Pull(context.Background(), "baker", "http://hub", h.fetch)
	if err != nil || res.New != 0 || res.Updated != 1 || res.Resolved != 1 || res.Total != 1 {
		t.Fatalf("pull after the vote changes: %+v %v", res, err)
	}
	items, _ := q.Items("baker")
	if len(items) != 1 || items[0].ID != "c1-1" || items[0].Comment != "Wrong price: it is 38 euros." {
		t.Fatalf("items: %+v", items)
	}
	if _, ok, _ := q.Item("baker", "c2-1"); ok {
		t.Fatal("the up-voted item is still there")
	}
	// Voted down again later: back in the queue, as new.
	h.add(hubItem("c2", 1, -1, "Still slow."))
	if res, _ := q.Pull(context.Background(), "baker", "http://hub", h.fetch); res.New != 1 || res.Total != 2 {
		t.Fatalf("voted down again: %+v", res)
	}
}

// TestPullKilled: a pull killed mid-write leaves a torn last line and an
// old cursor. The items before it stay readable; the next pull cuts the
// torn line, fetches the same pages again and adds nothing twice.
func TestPullKilled(t *testing.T) {
	dir := t.TempDir()
	q := NewQueue(dir)
	h := &fakeHub{}
	for i := range 5 {
		h.add(hubItem(fmt.Sprintf("c%d", i), 1, -1, "bad"))
	}
	if _, err := q.Pull(context.Background(), "baker", "http://hub", h.fetch); err != nil {
		t.Fatal(err)
	}
	// The state of a kill after the items were written, before the cursor
	// was, with the next record cut in the middle.
	os.Remove(filepath.Join(dir, "baker.cursor"))
	f, _ := os.OpenFile(filepath.Join(dir, "baker.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"item":{"id":"c7-1","question":"half a rec`)
	f.Close()
	items, err := q.Items("baker")
	if err != nil || len(items) != 5 {
		t.Fatalf("after the kill: %d items, %v", len(items), err)
	}
	h.add(hubItem("c7", 1, -1, "bad"))
	res, err := q.Pull(context.Background(), "baker", "http://hub", h.fetch)
	if err != nil || res.New != 1 || res.Updated != 0 || res.Total != 6 {
		t.Fatalf("the pull after the kill: %+v %v", res, err)
	}
	lines := fileLines(t, dir)
	seen := map[string]bool{}
	for _, l := range lines {
		var rec line
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Item == nil {
			t.Fatalf("a line that does not parse after the repair: %q", l)
		}
		if seen[rec.Item.ID] {
			t.Fatalf("%s written twice", rec.Item.ID)
		}
		seen[rec.Item.ID] = true
	}
	if len(lines) != 6 {
		t.Fatalf("%d lines for 6 items", len(lines))
	}
}

// TestPullError: a failed fetch keeps what earlier pages brought and the
// cursor that goes with them.
func TestPullError(t *testing.T) {
	dir := t.TempDir()
	q := NewQueue(dir)
	h := &fakeHub{}
	for i := range 4 {
		h.add(hubItem(fmt.Sprintf("c%d", i), 1, -1, "bad"))
	}
	calls := 0
	failing := func(ctx context.Context, since string) (Page, error) {
		if calls++; calls == 2 {
			return Page{}, errors.New("couldn't reach the hub")
		}
		return h.fetch(ctx, since)
	}
	if _, err := q.Pull(context.Background(), "baker", "http://hub", failing); err == nil || !strings.Contains(err.Error(), "reach the hub") {
		t.Fatalf("want the fetch error, got %v", err)
	}
	if items, _ := q.Items("baker"); len(items) != 2 {
		t.Fatalf("the first page's items are lost: %d", len(items))
	}
	h.sinces = nil
	if res, err := q.Pull(context.Background(), "baker", "http://hub", h.fetch); err != nil || res.New != 2 || h.sinces[0] != "2" {
		t.Fatalf("the pull after the error: %+v %v (from %v)", res, err, h.sinces)
	}
}

// TestPullCompacts: replacing the same items again and again keeps the
// file proportional to the queue.
func TestPullCompacts(t *testing.T) {
	dir := t.TempDir()
	q := NewQueue(dir)
	h := &fakeHub{}
	for round := range 100 {
		h.add(hubItem("c1", 1, -1, fmt.Sprint("comment ", round)))
		if _, err := q.Pull(context.Background(), "baker", "http://hub", h.fetch); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(fileLines(t, dir)); n > 2+64+1 {
		t.Fatalf("%d lines for one item", n)
	}
	if it, ok, _ := q.Item("baker", "c1-1"); !ok || it.Comment != "comment 99" {
		t.Fatalf("after compaction: %+v", it)
	}
}
