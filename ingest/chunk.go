package ingest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ChunkOptions are in runes (characters), not bytes, so Chinese and English
// chunks carry a similar amount of meaning per chunk.
type ChunkOptions struct{ Target, Overlap, Min int }

// DefaultChunkOptions: ~800 characters is what the retrieval floor was
// measured with; 100 characters of overlap keep a sentence cut at a chunk
// edge findable from both sides; pieces under 40 characters are merged.
func DefaultChunkOptions() ChunkOptions { return ChunkOptions{Target: 800, Overlap: 100, Min: 40} }

// Chunk is a citable slice of Document.Text().
type Chunk struct {
	Page     int
	Headings []string // heading trail, outermost first
	Start    int      // rune offset into Document.Text()
	End      int      // rune offset, exclusive
	Text     string   // == []rune(doc.Text())[Start:End]
}

type span struct{ start, end, page int } // rune offsets, global

type section struct {
	trail   []string
	units   []span
	hasBody bool
	own     bool // blocks with a Cite: never merged into a neighbour
}

// Split cuts a document into chunks. Headings start sections (a chunk never
// spans two sections and carries the section's heading trail); page changes
// and paragraphs are the preferred cut points; an over-long paragraph is cut
// at sentence ends (Western and CJK punctuation), then at clause marks, then
// between words or CJK characters, and only as a last resort anywhere.
func Split(doc *Document, opt ChunkOptions) []Chunk {
	d := DefaultChunkOptions()
	if opt.Target <= 0 {
		opt.Target = d.Target
	}
	if opt.Overlap < 0 || opt.Overlap >= opt.Target {
		opt.Overlap = 0
	}
	if opt.Min < 0 || opt.Min > opt.Target/2 {
		opt.Min = min(d.Min, opt.Target/2)
	}
	if doc == nil || len(doc.Blocks) == 0 {
		return nil
	}
	text := doc.Text()

	// Sections of units, in global rune offsets.
	var secs []*section
	var trail []string
	cite := ""
	pos := 0
	for i, b := range doc.Blocks {
		if i > 0 {
			pos += utf8.RuneCountInString(blockSep)
		}
		n := utf8.RuneCountInString(b.Text)
		if b.Kind == KindHeading || len(secs) == 0 || b.Cite != cite {
			if b.Kind == KindHeading {
				lvl := max(1, min(b.Level, 6))
				if len(trail) >= lvl {
					trail = trail[:lvl-1]
				}
				trail = append(trail, strings.Join(strings.Fields(b.Text), " "))
			}
			t := append([]string(nil), trail...)
			if b.Cite != "" {
				t = append(t, b.Cite)
			}
			secs = append(secs, &section{trail: t, own: b.Cite != ""})
			cite = b.Cite
		}
		s := secs[len(secs)-1]
		s.hasBody = s.hasBody || b.Kind != KindHeading
		if n <= opt.Target {
			s.units = append(s.units, span{pos, pos + n, b.Page})
		} else {
			// Pieces leave room for the overlap the next chunk repeats.
			for _, p := range pieces([]rune(b.Text), opt.Target-opt.Overlap) {
				s.units = append(s.units, span{pos + p[0], pos + p[1], b.Page})
			}
		}
		pos += n
	}

	runes := newRuneIndex(text)
	var chunks []Chunk
	type tiny struct {
		c  span
		tr []string
	}
	var carry *tiny // a section too small to stand alone, merged into the next
	for si, s := range secs {
		if len(s.units) == 0 {
			continue
		}
		var out []span
		cur := s.units[0]
		secStart := cur.start
		// A chunk that had to run across a page break (it was still under
		// Min) is cited by the page holding most of its text.
		var share pageShare
		share.add(cur.page, cur.end-cur.start)
		for _, u := range s.units[1:] {
			newPage := u.page != share.last()
			if u.end-cur.start > opt.Target || (newPage && cur.end-cur.start >= opt.Min) {
				cur.page = share.major()
				out = append(out, cur)
				ns := u.start
				if !newPage && opt.Overlap > 0 {
					ns = runes.overlapStart(max(secStart, u.end-opt.Target), max(secStart, cur.end-opt.Overlap), u.start)
					if u.end-ns > opt.Target {
						ns = u.start
					}
				}
				cur = span{ns, u.end, u.page}
				share = pageShare{}
				share.add(u.page, u.end-ns)
				continue
			}
			cur.end = u.end
			share.add(u.page, u.end-u.start)
		}
		cur.page = share.major()
		out = append(out, cur)
		// A tiny tail joins the chunk before it.
		if n := len(out); n >= 2 && out[n-1].end-out[n-1].start < opt.Min && out[n-1].end-out[n-2].start <= opt.Target+opt.Min {
			out[n-2].end = out[n-1].end
			out = out[:n-1]
		}
		if carry != nil {
			if !s.own && carry.c.page == out[0].page && out[0].end-carry.c.start <= opt.Target+opt.Min {
				out[0].start = carry.c.start
			} else {
				chunks = append(chunks, Chunk{Page: carry.c.page, Headings: carry.tr, Start: carry.c.start, End: carry.c.end})
			}
			carry = nil
		}
		if !s.own && len(out) == 1 && (out[0].end-out[0].start < opt.Min || !s.hasBody) && si < len(secs)-1 {
			carry = &tiny{out[0], s.trail}
			continue
		}
		for _, c := range out {
			chunks = append(chunks, Chunk{Page: c.page, Headings: s.trail, Start: c.start, End: c.end})
		}
	}
	if carry != nil {
		chunks = append(chunks, Chunk{Page: carry.c.page, Headings: carry.tr, Start: carry.c.start, End: carry.c.end})
	}
	runes.fill(chunks)
	return chunks
}

// pageShare counts how much of a chunk lies on each page.
type pageShare struct{ pages, lens []int }

func (p *pageShare) add(page, n int) {
	if k := len(p.pages); k > 0 && p.pages[k-1] == page {
		p.lens[k-1] += n
		return
	}
	p.pages = append(p.pages, page)
	p.lens = append(p.lens, n)
}

func (p *pageShare) last() int { return p.pages[len(p.pages)-1] }

func (p *pageShare) major() int {
	best := 0
	for i := range p.pages {
		if p.lens[i] > p.lens[best] {
			best = i
		}
	}
	return p.pages[best]
}

// pieces cuts one long block (as runes) into ranges of at most target runes.
func pieces(r []rune, target int) [][2]int {
	var out [][2]int
	s := 0
	for s < len(r) {
		for s < len(r) && unicode.IsSpace(r[s]) {
			s++
		}
		if s >= len(r) {
			break
		}
		if len(r)-s <= target {
			out = append(out, [2]int{s, trimEnd(r, s, len(r))})
			break
		}
		limit := s + target
		cut := -1
		// Strongest boundary in the last two thirds of the window wins.
		for strength := 3; strength >= 1 && cut < 0; strength-- {
			lo := s + target/3
			if strength == 1 {
				lo = s + 1
			}
			for p := limit; p > lo; p-- {
				if boundary(r, p) >= strength {
					cut = p
					break
				}
			}
		}
		if cut < 0 {
			cut = limit
		}
		e := trimEnd(r, s, cut)
		if e > s {
			out = append(out, [2]int{s, e})
		}
		s = cut
	}
	return out
}

func trimEnd(r []rune, s, e int) int {
	for e > s && unicode.IsSpace(r[e-1]) {
		e--
	}
	return e
}

const cjkStops = "。！？；…"
const closers = "”’」』）)]\"'》〉】"

// boundary rates cutting before r[p]: 3 after a sentence, 2 after a line
// break or clause mark, 1 between words or CJK characters, 0 inside a word.
func boundary(r []rune, p int) int {
	if p <= 0 || p >= len(r) {
		return 3
	}
	prev, next := r[p-1], r[p]
	// look back over spaces and closing quotes/brackets to the stop
	q := p - 1
	spaced := unicode.IsSpace(next)
	for q > 0 && unicode.IsSpace(r[q]) {
		q--
		spaced = true
	}
	for q > 0 && strings.ContainsRune(closers, r[q]) {
		q--
	}
	stop := r[q]
	if strings.ContainsRune(cjkStops, stop) && !strings.ContainsRune(cjkStops, next) && !strings.ContainsRune(closers, next) {
		return 3
	}
	if strings.ContainsRune(".!?", stop) && spaced && !strings.ContainsRune(closers, next) {
		return 3
	}
	if prev == '\n' {
		return 2
	}
	if strings.ContainsRune("，、：,;:", prev) && !strings.ContainsRune(closers, next) {
		return 2
	}
	if unicode.IsSpace(prev) && !unicode.IsSpace(next) {
		return 1
	}
	if isCJK(prev) || isCJK(next) {
		return 1
	}
	return 0
}

// runeIndex maps rune offsets of one text to byte offsets with a moving
// cursor, so the mostly increasing lookups of Split cost O(len(text)) in all.
type runeIndex struct {
	text   string
	rn, bi int
}

func newRuneIndex(text string) *runeIndex { return &runeIndex{text: text} }

func (ri *runeIndex) byteAt(rn int) int {
	for ri.rn < rn && ri.bi < len(ri.text) {
		_, sz := utf8.DecodeRuneInString(ri.text[ri.bi:])
		ri.bi += sz
		ri.rn++
	}
	for ri.rn > rn && ri.bi > 0 {
		_, sz := utf8.DecodeLastRuneInString(ri.text[:ri.bi])
		ri.bi -= sz
		ri.rn--
	}
	return ri.bi
}

// overlapStart picks where the next chunk should start so that it repeats
// the end of the previous one: the first sentence start in [from, to), else
// the first word start, else to (no overlap).
func (ri *runeIndex) overlapStart(lo, from, to int) int {
	if from >= to {
		return to
	}
	// A sentence start may be found a little further back than the
	// overlap asks for; a clause or word start only within it.
	far := max(0, from-(to-from)/2, lo)
	base := max(0, far-1) // one rune of context before far
	seg := []rune(ri.text[ri.byteAt(base):ri.byteAt(to)])
	for strength := 3; strength >= 1; strength-- {
		p0 := from - base
		if strength == 3 {
			p0 = far - base
		}
		for p := max(p0, 1); p < len(seg); p++ {
			if boundary(seg, p) >= strength && !unicode.IsSpace(seg[p]) {
				return base + p
			}
		}
	}
	return to
}

// fill sets each chunk's Text from its rune offsets.
func (ri *runeIndex) fill(chunks []Chunk) {
	for i := range chunks {
		s := ri.byteAt(chunks[i].Start)
		chunks[i].Text = ri.text[s:ri.byteAt(chunks[i].End)]
	}
}
