package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzExtract writes data to a file and extracts it: any error is fine, a
// panic or a hang is not, and a returned document must chunk cleanly.
func fuzzExtract(t *testing.T, name string, data []byte) {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	doc, err := Extract(ctx, p, Limits{MaxFileBytes: 1 << 20, MaxTextBytes: 1 << 20})
	if err != nil {
		if fe, ok := err.(*FileError); !ok || fe.Reason == "" {
			t.Fatalf("error %v is not a *FileError with a reason", err)
		}
		return
	}
	for _, b := range doc.Blocks {
		if !utf8.ValidString(b.Text) {
			t.Fatalf("invalid UTF-8 in block %q", b.Text)
		}
	}
	opt := ChunkOptions{Target: 120, Overlap: 20, Min: 10}
	checkChunks(t, doc, Split(doc, opt), opt)
}

func FuzzExtractPDF(f *testing.F) {
	f.Add(tinyPDF())
	if b, err := os.ReadFile("testdata/tiny.pdf"); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile("testdata/encrypted-empty-password.pdf"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("%PDF-1.4\n%%EOF\n"))
	f.Add(buildPDF([]pdfPage{"BT /F2 12 Tf <00010002> Tj ET q 1 0 0 1 5 5 cm BT /F9 3 Tf (x) ' ET Q"}, []rune("中文")))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.pdf", data) })
}

func FuzzExtractDOCX(f *testing.F) {
	f.Add(tinyDOCX(f))
	f.Add(buildDOCX(f, `<w:tbl><w:tr><w:tc><w:tbl><w:tr><w:tc>`+wPara("", "nested")+`</w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>`))
	f.Add(buildDOCX(f, `<w:p><w:r><w:t>unclosed`))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, "f.docx", data) })
}

func FuzzSplit(f *testing.F) {
	f.Add("# Title\n\nSome text. More text!\n\n## 二\n\n中文句子。另一个句子！", 50, 10, 5)
	f.Add(strings.Repeat("无标点的中文", 100), 30, 5, 3)
	f.Add(strings.Repeat("word ", 200), 20, 19, 10)
	f.Add("a\n\n\n\nb", 1, 0, 0)
	f.Fuzz(func(t *testing.T, text string, target, overlap, minimum int) {
		if target > 5000 || target < -5 || overlap > 5000 || minimum > 5000 {
			return
		}
		tm := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("slow: %d bytes %d %d %d", len(text), target, overlap, minimum)) })
		defer tm.Stop()
		doc := &Document{Format: "markdown"}
		b := newBuilder(doc, DefaultLimits())
		parseMarkdown(strings.ToValidUTF8(text, "\uFFFD"), b)
		opt := ChunkOptions{Target: target, Overlap: overlap, Min: minimum}
		chunks := Split(doc, opt)
		// Split normalises options the same way for the size check.
		if opt.Target <= 0 {
			opt.Target = DefaultChunkOptions().Target
		}
		if opt.Overlap < 0 || opt.Overlap >= opt.Target {
			opt.Overlap = 0
		}
		if opt.Min < 0 || opt.Min > opt.Target/2 {
			opt.Min = min(DefaultChunkOptions().Min, opt.Target/2)
		}
		checkChunks(t, doc, chunks, opt)
		if len(doc.Blocks) > 0 && len(chunks) == 0 {
			t.Fatal("no chunks for a non-empty document")
		}
	})
}
