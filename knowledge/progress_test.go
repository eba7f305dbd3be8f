package knowledge

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"atoll/store"
)

// A PDF reports each page as it is read, and the bytes done move with the
// pages, so the bar and the time left move inside a long file.
func TestProgressCountsPages(t *testing.T) {
	docs := t.TempDir()
	pdf, err := os.ReadFile(filepath.Join("testdata", "five-pages.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(docs, "prices.pdf"), pdf, 0o644)
	os.WriteFile(filepath.Join(docs, "notes.md"), []byte("# Notes\n\nOpen every day."), 0o644)
	st, _ := store.Open(t.TempDir())
	defer st.Close()
	in := New(st, nil)
	in.ProgressEvery = -1 // every report: this PDF is read in a millisecond
	var events []Progress
	sum, err := in.Run(context.Background(), "j", "kb", "", []string{docs}, func(p Progress) { events = append(events, p) })
	if err != nil || sum.OK != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	var pages []int
	var lastBytes int64
	for _, p := range events {
		if p.BytesDone < lastBytes {
			t.Fatalf("bytes done went back: %d after %d", p.BytesDone, lastBytes)
		}
		lastBytes = p.BytesDone
		if filepath.Base(p.Current) == "prices.pdf" && p.FilePages > 0 {
			if p.FilePages != 5 {
				t.Fatalf("file pages %d, want 5", p.FilePages)
			}
			if len(pages) == 0 || pages[len(pages)-1] != p.FilePage {
				pages = append(pages, p.FilePage)
			}
		}
		if filepath.Base(p.Current) == "notes.md" && p.FilePages != 0 {
			t.Fatalf("a Markdown file has no pages: %+v", p)
		}
	}
	if len(pages) != 5 || pages[0] != 1 || pages[4] != 5 {
		t.Fatalf("pages seen while reading the PDF: %v", pages)
	}
	last := events[len(events)-1]
	if last.Pages != 5 || last.BytesDone != last.Bytes || last.FilesDone != 2 {
		t.Fatalf("final progress: %+v", last)
	}
}
