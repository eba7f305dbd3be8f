package ingest

import (
	"regexp"
	"strings"
)

var (
	mdATX      = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	mdSetext1  = regexp.MustCompile(`^ {0,3}=+[ \t]*$`)
	mdSetext2  = regexp.MustCompile(`^ {0,3}-+[ \t]*$`)
	mdFence    = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
	mdList     = regexp.MustCompile(`^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+`)
	mdRule     = regexp.MustCompile(`^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$`)
	mdTableSep = regexp.MustCompile(`^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$`)
	mdLink     = regexp.MustCompile(`!?\[([^\]\n]*)\]\([^)\n]*\)`)
)

// parseMarkdown keeps the structure retrieval needs: ATX and setext
// headings, fenced code as code blocks, list items, table rows and
// paragraphs. Inline links keep their text only.
func parseMarkdown(text string, b *builder) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var para []string
	kind := KindParagraph
	flush := func() bool {
		if len(para) == 0 {
			return true
		}
		t := mdLink.ReplaceAllString(strings.Join(para, "\n"), "$1")
		para = para[:0]
		ok := b.add(kind, 0, 0, t)
		kind = KindParagraph
		return ok
	}
	i := 0
	// YAML front matter is metadata, not prose.
	if len(lines) > 0 && strings.TrimSpace(lines[0]) == "---" {
		for j := 1; j < len(lines) && j < 200; j++ {
			if t := strings.TrimSpace(lines[j]); t == "---" || t == "..." {
				i = j + 1
				break
			}
		}
	}
	for ; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t\r")
		if m := mdFence.FindStringSubmatch(line); m != nil {
			if !flush() {
				return
			}
			fence := m[1]
			var code []string
			for i++; i < len(lines); i++ {
				l := strings.TrimRight(lines[i], "\r")
				t := strings.TrimLeft(l, " ")
				if strings.HasPrefix(t, fence[:3]) && strings.Trim(t, fence[:1]+" \t") == "" && len(strings.TrimRight(t, " \t")) >= len(fence) {
					break
				}
				code = append(code, l)
			}
			if !b.add(KindCode, 0, 0, strings.Join(code, "\n")) {
				return
			}
			continue
		}
		trimmed := strings.TrimSpace(line)
		if trimmed == "" {
			if !flush() {
				return
			}
			continue
		}
		if m := mdATX.FindStringSubmatch(line); m != nil {
			if !flush() || !b.add(KindHeading, len(m[1]), 0, m[2]) {
				return
			}
			continue
		}
		if len(para) > 0 && kind == KindParagraph && (mdSetext1.MatchString(line) || mdSetext2.MatchString(line)) {
			level := 1
			if mdSetext2.MatchString(line) {
				level = 2
			}
			t := strings.Join(para, " ")
			para = para[:0]
			if !b.add(KindHeading, level, 0, t) {
				return
			}
			continue
		}
		if mdRule.MatchString(line) {
			if !flush() {
				return
			}
			continue
		}
		if strings.HasPrefix(trimmed, "|") {
			if !flush() {
				return
			}
			if mdTableSep.MatchString(trimmed) {
				continue
			}
			cells := strings.Split(strings.Trim(trimmed, "|"), "|")
			for k := range cells {
				cells[k] = strings.TrimSpace(cells[k])
			}
			if !b.add(KindRow, 0, 0, mdLink.ReplaceAllString(strings.Join(cells, " | "), "$1")) {
				return
			}
			continue
		}
		if loc := mdList.FindStringIndex(line); loc != nil {
			if !flush() {
				return
			}
			kind = KindList
			para = append(para, line[loc[1]:])
			continue
		}
		if strings.HasPrefix(trimmed, ">") {
			trimmed = strings.TrimSpace(strings.TrimLeft(trimmed, "> "))
		}
		para = append(para, trimmed)
	}
	flush()
}
