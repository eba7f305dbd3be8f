package rag

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// The real extractor and chunker live in package ingest; these tests only
// need passages shaped like its output, so a simple local splitter stands in:
// lines packed to ~800 runes with ~160 runes of overlap, markdown headings
// (and HTML h1-h4 turned into them) kept as the passage's heading path.

var (
	reScript  = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>`)
	reHeading = regexp.MustCompile(`(?is)<h([1-4])[^>]*>(.*?)</h[1-4]>`)
	reBlock   = regexp.MustCompile(`(?i)</?(p|div|br|li|ul|ol|pre|table|tr|td|th|dl|dt|dd|h[1-6])\b[^>]*>`)
	reTag     = regexp.MustCompile(`<[^>]+>`)
)

func extractText(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := string(b)
	if strings.HasSuffix(path, ".html") {
		s = reScript.ReplaceAllString(s, "")
		s = reHeading.ReplaceAllStringFunc(s, func(m string) string {
			g := reHeading.FindStringSubmatch(m)
			return "\n\n" + strings.Repeat("#", len(g[1])) + " " + reTag.ReplaceAllString(g[2], "") + "\n\n"
		})
		s = reBlock.ReplaceAllString(s, "\n")
		s = reTag.ReplaceAllString(s, "")
		s = html.UnescapeString(s)
	}
	return s, nil
}

func splitText(kb, source, text string, size, overlap int) []Passage {
	runes := []rune(text)
	type line struct {
		start, end int
		heads      []string
	}
	var lines []line
	var heads []string
	markdown := strings.HasSuffix(source, ".md") || strings.HasSuffix(source, ".html")
	for start := 0; start < len(runes); {
		end := start
		for end < len(runes) && runes[end] != '\n' {
			end++
		}
		if end < len(runes) {
			end++ // keep the newline with its line
		}
		l := strings.TrimSpace(string(runes[start:end]))
		if markdown && strings.HasPrefix(l, "#") {
			level := len(l) - len(strings.TrimLeft(l, "#"))
			title := strings.TrimSpace(l[level:])
			if level <= len(heads) {
				heads = heads[:level-1]
			}
			for len(heads) < level-1 {
				heads = append(heads, "")
			}
			heads = append(heads, title)
		}
		// Long lines are cut into pieces no longer than size.
		for s := start; s < end; s += size {
			lines = append(lines, line{s, min(s+size, end), append([]string(nil), heads...)})
		}
		start = end
	}
	var out []Passage
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j].end-lines[i].start <= size {
			j++
		}
		if j == i {
			j = i + 1
		}
		p := Passage{
			ID: fmt.Sprintf("%s#%d", filepath.Base(source), len(out)), KB: kb, Source: source,
			Page: 1, Headings: lines[i].heads, Start: lines[i].start, End: lines[j-1].end,
		}
		p.Text = string(runes[p.Start:p.End])
		if strings.TrimSpace(p.Text) != "" {
			out = append(out, p)
		}
		if j >= len(lines) {
			break
		}
		// Step back over trailing lines worth up to `overlap` runes.
		next := j
		for next-1 > i && lines[j-1].end-lines[next-1].start <= overlap {
			next--
		}
		i = next
	}
	return out
}
