// Package ingest turns the user's files into text with positions (pages,
// headings) and then into chunks whose offsets can be cited.
package ingest

import (
	"strings"
	"unicode/utf8"
)

// Block kinds.
const (
	KindHeading   = "heading"
	KindParagraph = "paragraph"
	KindList      = "list"
	KindRow       = "row" // a table row or a CSV record
	KindCode      = "code"
)

// Block is one structural unit of a document, in reading order.
type Block struct {
	Kind  string // "heading", "paragraph", "list", "row" (table row / CSV record), "code"
	Level int    // heading level 1..6
	Page  int    // 1-based page, 0 if the format has no pages
	Text  string
	// Cite names the block's place where pages and headings cannot: a
	// spreadsheet's sheet and row, a slide. Consecutive blocks with the same
	// Cite form chunks of their own, with Cite as their last heading, so a
	// citation says "Sheet "Cakes" · row 14" or "Slide 3".
	Cite string
}

// Document is the extracted text of one file.
type Document struct {
	Path     string
	Format   string // "pdf", "docx", "xlsx", "pptx", "ods", "html", "markdown", "text", "csv", "image"
	Pages    int
	Blocks   []Block  // reading order
	Warnings []string // one plain sentence each, e.g. "page 3 has no extractable text (scanned or an unsupported font)"
	// OCR lists the pages read by OCR (with word boxes) or waiting for it;
	// see ocr.go.
	OCR []OCRPage
}

// blockSep joins blocks in Text; chunk offsets count it.
const blockSep = "\n\n"

// Text returns the blocks joined with a blank line. Chunk offsets are rune
// offsets into this string.
func (d *Document) Text() string {
	n := 0
	for _, b := range d.Blocks {
		n += len(b.Text) + len(blockSep)
	}
	var sb strings.Builder
	sb.Grow(n)
	for i, b := range d.Blocks {
		if i > 0 {
			sb.WriteString(blockSep)
		}
		sb.WriteString(b.Text)
	}
	return sb.String()
}

// builder collects blocks while enforcing the text budget, so that a huge or
// hostile file cannot grow the document beyond Limits.MaxTextBytes.
type builder struct {
	doc    *Document
	budget int64
	used   int64
	full   bool
}

func newBuilder(doc *Document, lim Limits) *builder {
	return &builder{doc: doc, budget: lim.MaxTextBytes}
}

// add appends a block unless its text is empty; it reports false once the
// budget is spent (the caller should stop reading).
func (b *builder) add(kind string, level, page int, text string) bool {
	if b.full {
		return false
	}
	text = cleanText(text)
	if text == "" {
		return true
	}
	if b.budget > 0 && b.used+int64(len(text)) > b.budget {
		b.full = true
		b.doc.Warnings = append(b.doc.Warnings, "text beyond the "+formatBytes(b.budget)+" limit was not kept")
		// Keep what fits of this block, cut at a rune boundary.
		keep := int(max(0, b.budget-b.used))
		for keep > 0 && keep < len(text) && !utf8.RuneStart(text[keep]) {
			keep--
		}
		if text = strings.TrimSpace(text[:keep]); text != "" {
			b.doc.Blocks = append(b.doc.Blocks, Block{Kind: kind, Level: level, Page: page, Text: text})
		}
		return false
	}
	b.used += int64(len(text)) + int64(len(blockSep))
	if kind == KindHeading {
		level = max(1, min(level, 6))
	} else {
		level = 0
	}
	b.doc.Blocks = append(b.doc.Blocks, Block{Kind: kind, Level: level, Page: page, Text: text})
	return true
}

// addCited is add for a block that names its own place (see Block.Cite).
func (b *builder) addCited(kind, text, cite string) bool {
	n := len(b.doc.Blocks)
	ok := b.add(kind, 0, 0, text)
	if len(b.doc.Blocks) > n {
		b.doc.Blocks[n].Cite = cite
	}
	return ok
}

func (b *builder) warn(s string) { b.doc.Warnings = append(b.doc.Warnings, s) }

// cleanText trims surrounding white space and removes characters that only
// confuse search and display (NUL and other C0 controls except tab/newline).
func cleanText(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	if strings.IndexFunc(s, isJunkControl) < 0 {
		return s
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if isJunkControl(r) {
			if r == '\r' || r == '\v' || r == '\f' {
				return '\n'
			}
			return -1
		}
		return r
	}, s))
}

func isJunkControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || r == '\uFEFF'
}
