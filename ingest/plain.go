package ingest

import "strings"

// parsePlain makes one paragraph per run of non-blank lines. Line breaks
// inside a paragraph are kept: in plain text they often matter (addresses,
// verse, lists typed by hand).
func parsePlain(text string, b *builder) {
	var para []string
	flush := func() bool {
		ok := b.add(KindParagraph, 0, 0, strings.Join(para, "\n"))
		para = para[:0]
		return ok
	}
	for len(text) > 0 {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		line = strings.TrimRight(line, " \t\r\f")
		if strings.TrimSpace(line) == "" {
			if !flush() {
				return
			}
			continue
		}
		para = append(para, line)
	}
	flush()
}
