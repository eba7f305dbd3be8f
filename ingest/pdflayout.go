package ingest

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pdfLine is one visual line of a page, in device space (y grows upwards).
type pdfLine struct {
	text   string
	x0, x1 float64
	y      float64
	size   float64
}

func isLetterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// Word gaps wider than spaceRatio×font size become spaces. TeX's shrunk
// inter-word space is ~0.22 em and its kerns stay under ~0.05 em.
const spaceRatio = 0.12

// buildLines groups glyphs (in content-stream order) into lines and words.
func buildLines(gs []glyph) []pdfLine {
	var lines []pdfLine
	var sb strings.Builder
	var cur pdfLine
	open, pending := false, false
	var lastX float64
	var lastS string
	closeLine := func() {
		if open {
			cur.text = strings.TrimSpace(dotLeaders.ReplaceAllString(sb.String(), " … "))
			if cur.text != "" {
				lines = append(lines, cur)
			}
		}
		sb.Reset()
		open, pending = false, false
	}
	for _, g := range gs {
		if g.s == "" {
			continue
		}
		size := g.size
		if size <= 0.5 || math.IsNaN(size) || math.IsInf(size, 0) {
			size = 10
		}
		w := g.w
		if w <= 0 || math.IsNaN(w) {
			w = 0.5 * size
		}
		space := strings.TrimSpace(g.s) == ""
		if open {
			tol := 0.45 * math.Max(size, cur.size)
			gap := g.x - cur.x1
			if math.Abs(g.y-cur.y) > tol || gap < -2*math.Max(size, cur.size) {
				closeLine()
			} else if space {
				pending = true
				cur.x1 = math.Max(cur.x1, g.x+w)
				continue
			} else {
				if g.s == lastS && math.Abs(g.x-lastX) < 0.1*size { // overprinted (fake bold)
					continue
				}
				if pending || gap > spaceRatio*math.Min(size, cur.size) {
					sb.WriteByte(' ')
				}
				pending = false
				sb.WriteString(g.s)
				cur.x1 = g.x + w
				cur.x0 = math.Min(cur.x0, g.x)
				lastX, lastS = g.x, g.s
				continue
			}
		}
		if space {
			continue
		}
		cur = pdfLine{x0: g.x, x1: g.x + w, y: g.y, size: size}
		open = true
		sb.WriteString(g.s)
		lastX, lastS = g.x, g.s
	}
	closeLine()
	return lines
}

// dotLeaders are the ". . . . ." runs of a table of contents.
var dotLeaders = regexp.MustCompile(`(?:\s?\.){5,}\s?`)

var pageNumberLine = regexp.MustCompile(`(?i)^(?:page\s*)?[-–—\s]*(?:\d{1,5}|[ivxlcdm]{1,8})[-–—\s]*(?:(?:/|of)\s*\d{1,5})?$|^第\s*\d{1,5}\s*页(?:\s*共\s*\d{1,5}\s*页)?$`)

var digitsRun = regexp.MustCompile(`\d+`)

func furnitureKey(s string) string {
	return digitsRun.ReplaceAllString(strings.ToLower(strings.Join(strings.Fields(s), " ")), "#")
}

// layoutPDF drops running headers, footers and page numbers, finds headings
// by font size, and joins lines into paragraphs.
// ocrPage, when not nil, is called at each page's place in reading order,
// so pages read by OCR come between the pages around them.
func layoutPDF(pages [][]pdfLine, b *builder, ocrPage func(page int) bool) {
	// Body size: the size carrying the most characters.
	bySize := map[float64]int{}
	for _, lines := range pages {
		for _, l := range lines {
			bySize[math.Round(l.size*2)/2] += len(l.text)
		}
	}
	body, bodyN := 0.0, -1
	for s, n := range bySize {
		if n > bodyN || n == bodyN && s < body {
			body, bodyN = s, n
		}
	}
	var headSizes []float64
	for s, n := range bySize {
		if s >= body*1.15 && n < bodyN {
			headSizes = append(headSizes, s)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(headSizes)))
	headingLevel := func(l pdfLine) int {
		if body == 0 || l.size < body*1.15 || utf8.RuneCountInString(l.text) > 200 || strings.IndexFunc(l.text, unicode.IsLetter) < 0 {
			return 0
		}
		s := math.Round(l.size*2) / 2
		for i, h := range headSizes {
			if s >= h {
				return min(i+1, 6)
			}
		}
		return min(len(headSizes)+1, 6)
	}

	dropFurniture(pages, headingLevel)

	for pi, lines := range pages {
		page := pi + 1
		if ocrPage != nil && !ocrPage(page) {
			return
		}
		// Typical line pitch and width on this page, for paragraph breaks.
		var pitches []float64
		maxW := 0.0
		for i, l := range lines {
			maxW = math.Max(maxW, l.x1-l.x0)
			if i > 0 {
				d := lines[i-1].y - l.y
				if d > 0 && math.Abs(lines[i-1].size-l.size) < 0.5 {
					pitches = append(pitches, d)
				}
			}
		}
		pitch := 0.0
		if len(pitches) >= 3 {
			sort.Float64s(pitches)
			pitch = pitches[len(pitches)/2]
		}
		var para string
		paraLevel := 0
		flush := func() bool {
			kind := KindParagraph
			if paraLevel > 0 {
				kind = KindHeading
			}
			ok := b.add(kind, paraLevel, page, para)
			para, paraLevel = "", 0
			return ok
		}
		for i, l := range lines {
			lvl := headingLevel(l)
			brk := i == 0
			if i > 0 {
				prev := lines[i-1]
				d := prev.y - l.y
				switch {
				case lvl != paraLevel:
					brk = true
				case math.Abs(prev.size-l.size) > 0.15*math.Max(prev.size, l.size):
					brk = true
				case d < -0.5*l.size: // moved up: new column or out-of-order block
					brk = true
				case pitch > 0 && d > 1.45*pitch, d > 2.5*l.size:
					brk = true
				case pitch == 0 && d > 1.8*l.size:
					brk = true
				case maxW > 0 && prev.x1-prev.x0 < 0.7*maxW && endsSentence(prev.text):
					brk = true
				}
			}
			if brk && para != "" {
				if !flush() {
					return
				}
			}
			if para == "" {
				para, paraLevel = l.text, lvl
				continue
			}
			para = joinPDFLines(para, l.text)
		}
		if para != "" && !flush() {
			return
		}
	}
}

func endsSentence(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return strings.ContainsRune(".!?:。！？：；;", r)
}

// joinPDFLines joins a wrapped line, undoing end-of-line hyphenation when
// the hyphen sits between lower-case letters ("extrac-" + "tion").
func joinPDFLines(a, b string) string {
	if strings.HasSuffix(a, "\u00AD") {
		return strings.TrimSuffix(a, "\u00AD") + b
	}
	if strings.HasSuffix(a, "-") && len(a) >= 2 {
		before, _ := utf8.DecodeLastRuneInString(a[:len(a)-1])
		after, _ := utf8.DecodeRuneInString(b)
		if unicode.IsLower(before) && unicode.IsLower(after) {
			return a[:len(a)-1] + b
		}
	}
	return joinLines(a, b)
}

// Running headers and footers are removed only where they are clearly
// that: a short line among the top two or bottom two of a page, with the
// same text (digits masked) at the same height on more than half of the
// pages, or a page number, and in both cases set apart from the body by
// more than a line's pitch. Body text that merely repeats (a boilerplate
// paragraph at the top of every page) flows with the lines next to it and
// is kept, and a page never loses all of its lines this way.
func dropFurniture(pages [][]pdfLine, headingLevel func(pdfLine) int) {
	byY := func(lines []pdfLine) []int {
		idx := make([]int, len(lines))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(i, j int) bool { return lines[idx[i]].y > lines[idx[j]].y })
		return idx
	}
	edge := func(n int) []int {
		if n <= 4 {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		}
		return []int{0, 1, n - 2, n - 1}
	}
	key := func(l pdfLine) string {
		return furnitureKey(l.text) + "@" + strconv.Itoa(int(math.Round(l.y/2)))
	}
	counts := map[string]int{}
	nonEmpty := 0
	orders := make([][]int, len(pages))
	for pi, lines := range pages {
		if len(lines) > 0 {
			nonEmpty++
		}
		orders[pi] = byY(lines)
		seen := map[string]bool{}
		for _, j := range edge(len(lines)) {
			if k := key(lines[orders[pi][j]]); !seen[k] {
				seen[k] = true
				counts[k]++
			}
		}
	}
	firstSeen := map[string]bool{}
	for pi, lines := range pages {
		ord := orders[pi]
		n := len(ord)
		var pitches []float64
		for j := 1; j < n; j++ {
			a, b := lines[ord[j-1]], lines[ord[j]]
			if d := a.y - b.y; d > 0.5 && math.Abs(a.size-b.size) < 0.15*math.Max(a.size, b.size) {
				pitches = append(pitches, d)
			}
		}
		pitch := 0.0
		if len(pitches) > 0 {
			// The lower quartile: a short page's few gaps include the
			// header's and footer's own.
			sort.Float64s(pitches)
			pitch = pitches[len(pitches)/4]
		}
		apart := func(a, b pdfLine) bool {
			d := math.Abs(a.y - b.y)
			if pitch > 0 {
				return d > 1.4*pitch
			}
			return d > 1.6*math.Max(a.size, b.size)
		}
		furniture := func(l pdfLine) bool {
			k := key(l)
			// The title on the first page often repeats as the running
			// header: keep its first, heading-sized appearance.
			keepTitle := !firstSeen[k] && headingLevel(l) > 0
			firstSeen[k] = true
			running := nonEmpty >= 3 && counts[k] >= 3 && counts[k]*2 > nonEmpty &&
				utf8.RuneCountInString(l.text) <= 80 && !keepTitle
			return running || pageNumberLine.MatchString(strings.TrimSpace(l.text))
		}
		drop := map[int]bool{}
		// From the inside out, so that a two-line header counts as set
		// apart when the line below it is furniture that is.
		for _, j := range []int{1, 0} {
			if j < n && furniture(lines[ord[j]]) && (j+1 >= n || drop[ord[j+1]] || apart(lines[ord[j]], lines[ord[j+1]])) {
				drop[ord[j]] = true
			}
		}
		for _, j := range []int{n - 2, n - 1} {
			if j >= 2 && furniture(lines[ord[j]]) && (drop[ord[j-1]] || apart(lines[ord[j]], lines[ord[j-1]])) {
				drop[ord[j]] = true
			}
		}
		if len(drop) == 0 || len(drop) == n && n > 2 {
			continue
		}
		kept := lines[:0:0]
		for i, l := range lines {
			if !drop[i] {
				kept = append(kept, l)
			}
		}
		pages[pi] = kept
	}
}
