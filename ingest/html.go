package ingest

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// skippedHTML are elements whose content is navigation, chrome or code, not
// the document's text.
var skippedHTML = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true,
	"nav": true, "header": true, "footer": true, "aside": true,
	"svg": true, "iframe": true, "object": true, "head": true,
	"button": true, "select": true,
}

var blockHTML = map[string]bool{
	"p": true, "div": true, "section": true, "article": true, "main": true,
	"blockquote": true, "ul": true, "ol": true, "dl": true, "dt": true, "dd": true,
	"table": true, "thead": true, "tbody": true, "tfoot": true, "hr": true,
	"figure": true, "figcaption": true, "address": true, "body": true,
	"details": true, "summary": true, "caption": true, "center": true,
}

// decodeHTML honours a BOM, then valid UTF-8, then the page's own
// <meta charset>, then our GB18030 guess.
func decodeHTML(raw []byte) (string, string) {
	if utf8.Valid(raw) || len(raw) >= 2 && (raw[0] == 0xFF && raw[1] == 0xFE || raw[0] == 0xFE && raw[1] == 0xFF) {
		return decodeBytes(raw)
	}
	enc, name, certain := charset.DetermineEncoding(raw, "text/html")
	if certain && name != "utf-8" && name != "windows-1252" {
		if out, err := enc.NewDecoder().Bytes(raw); err == nil {
			return string(out), ""
		}
	}
	return decodeBytes(raw)
}

// parseHTML walks the token stream (not a tree, so memory stays near the
// size of the text) and emits headings, paragraphs, list items, table rows
// and preformatted code.
func parseHTML(text string, b *builder) {
	z := html.NewTokenizer(strings.NewReader(text))
	var (
		buf      strings.Builder
		kind     = KindParagraph
		level    int
		skipTag  string
		skipDep  int
		preDepth int
		cells    []string
		inCell   bool
		stop     bool
	)
	flush := func() {
		t := buf.String()
		buf.Reset()
		if inCell {
			return
		}
		if preDepth == 0 {
			t = strings.Join(strings.Fields(t), " ")
		}
		if !b.add(kind, level, 0, t) {
			stop = true
		}
		kind, level = KindParagraph, 0
	}
	for !stop {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if !inCell {
				flush()
			}
			return
		case html.TextToken:
			if skipTag != "" {
				continue
			}
			buf.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			nameB, _ := z.TagName()
			name := string(nameB)
			if skipTag != "" {
				if name == skipTag && tt == html.StartTagToken {
					skipDep++
				} else if name == skipTag && tt == html.EndTagToken {
					skipDep--
					if skipDep == 0 {
						skipTag = ""
					}
				}
				continue
			}
			if tt == html.StartTagToken && skippedHTML[name] {
				flush()
				skipTag, skipDep = name, 1
				continue
			}
			start := tt != html.EndTagToken
			switch {
			case name == "br":
				buf.WriteByte('\n')
			case len(name) == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6':
				if inCell {
					buf.WriteByte(' ')
					continue
				}
				flush()
				if start {
					kind, level = KindHeading, int(name[1]-'0')
				}
			case name == "li":
				if !inCell {
					flush()
					if start {
						kind = KindList
					}
				}
			case name == "pre":
				if !inCell {
					if start {
						flush()
						preDepth++
						kind = KindCode
					} else {
						flush()
						preDepth = max(0, preDepth-1)
					}
				}
			case name == "tr":
				if start {
					flush()
					cells = cells[:0]
				} else {
					endRow(&cells, &buf, &inCell, b, &stop)
				}
			case name == "td" || name == "th":
				if start {
					if inCell {
						cells = append(cells, strings.Join(strings.Fields(buf.String()), " "))
						buf.Reset()
					} else {
						flush()
					}
					inCell = true
				} else if inCell {
					cells = append(cells, strings.Join(strings.Fields(buf.String()), " "))
					buf.Reset()
					inCell = false
				}
			case name == "table" && !start:
				if inCell || len(cells) > 0 {
					endRow(&cells, &buf, &inCell, b, &stop)
				}
				flush()
			case blockHTML[name]:
				if inCell {
					buf.WriteByte(' ')
				} else {
					flush()
				}
			}
		}
	}
}

func endRow(cells *[]string, buf *strings.Builder, inCell *bool, b *builder, stop *bool) {
	if *inCell {
		*cells = append(*cells, strings.Join(strings.Fields(buf.String()), " "))
		buf.Reset()
		*inCell = false
	}
	nonEmpty := false
	for _, c := range *cells {
		if c != "" {
			nonEmpty = true
		}
	}
	if nonEmpty && !b.add(KindRow, 0, 0, strings.Join(*cells, " | ")) {
		*stop = true
	}
	*cells = (*cells)[:0]
}
