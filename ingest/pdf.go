package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
)

// extractPDF rebuilds words and lines from glyph positions (the library's
// GetPlainText loses the spaces of TeX-made PDFs), one page at a time, with a
// recover and a context check per page.
func extractPDF(ctx context.Context, f *os.File, size int64, doc *Document, lim Limits, onPage func(done, total int), o *OCR) error {
	var ra io.ReaderAt = f
	head := make([]byte, 1024)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	off := int64(bytes.Index(head, []byte("%PDF-")))
	if off > 0 { // junk before the header: offsets count from the header
		ra = io.NewSectionReader(f, off, size-off)
		size -= off
		head = head[off:]
	}
	ra = &headerFix{ReaderAt: ra, head: head}
	r, err := openPDF(ra, size)
	if err != nil {
		return err
	}
	pages := pdfPages(r)
	doc.Pages = len(pages)
	if len(pages) == 0 {
		return fileErr("", "is not a valid PDF (it has no pages)", nil)
	}
	px := &pdfExtractor{fonts: map[string]*pdfFont{}, budget: lim.MaxTextBytes}
	var all [][]pdfLine
	po := &pdfOCR{o: o, path: f.Name(), total: len(pages), results: map[int]*ocrResult{}, cached: map[int]bool{}}
	if o == nil {
		po.o = &OCR{Off: true}
	}
	for i, p := range pages {
		if err := ctx.Err(); err != nil {
			return fileErr("", "was not read (cancelled)", err)
		}
		lines, warn := px.page(ctx, p, i+1)
		// A page with an image and no usable text is a scan: OCR it.
		if len(lines) == 0 && pageHasImage(p) {
			po.page(ctx, i+1)
			warn = ""
			if err := ctx.Err(); err != nil {
				return fileErr("", "was not read (cancelled)", err)
			}
		}
		if warn != "" {
			doc.Warnings = append(doc.Warnings, warn)
		}
		all = append(all, lines)
		if onPage != nil {
			onPage(i+1, len(pages))
		}
		if px.full {
			doc.Warnings = append(doc.Warnings, fmt.Sprintf("text after page %d was not kept (over the %s limit)", i+1, formatBytes(lim.MaxTextBytes)))
			break
		}
	}
	if err := ctx.Err(); err != nil { // cancelled inside the last page
		return fileErr("", "was not read (cancelled)", err)
	}
	b := newBuilder(doc, lim)
	layoutPDF(all, b, func(page int) bool {
		if r := po.results[page]; r != nil && len(r.Pages) > 0 {
			op := addOCRPage(b, page, r, 0)
			op.Cached = po.cached[page]
			doc.OCR = append(doc.OCR, op)
		}
		return !b.full
	})
	for _, p := range po.pending {
		doc.OCR = append(doc.OCR, OCRPage{Page: p, Pending: "page " + strconv.Itoa(p) + " is a scan waiting for OCR: " + po.why})
	}
	doc.Warnings = append(doc.Warnings, po.warnings()...)
	return nil
}

// pageHasImage: an image XObject in the page's resources, or in a form it
// uses (scanners and PDF makers wrap the scan in one).
func pageHasImage(p pdf.Value) (has bool) {
	defer func() {
		if recover() != nil {
			has = false
		}
	}()
	var look func(res pdf.Value, depth int) bool
	look = func(res pdf.Value, depth int) bool {
		xo := res.Key("XObject")
		for _, k := range xo.Keys() {
			x := xo.Key(k)
			switch x.Key("Subtype").Name() {
			case "Image":
				return true
			case "Form":
				if depth < 3 && look(x.Key("Resources"), depth+1) {
					return true
				}
			}
		}
		return false
	}
	return look(inheritedKey(p, "Resources"), 0)
}

// headerFix presents a strict "%PDF-1.7\n" header to the library, which
// refuses PDF 2.0 files and headers followed by a space or comment. Byte
// offsets are unchanged.
type headerFix struct {
	io.ReaderAt
	head []byte
}

func (h *headerFix) ReadAt(p []byte, off int64) (int, error) {
	n, err := h.ReaderAt.ReadAt(p, off)
	if off < 9 && len(h.head) >= 9 && !(h.head[5] == '1' && h.head[7] >= '0' && h.head[7] <= '7' && (h.head[8] == '\r' || h.head[8] == '\n')) {
		fix := "%PDF-1.7\n"
		for i := off; i < 9 && int(i-off) < n; i++ {
			p[i-off] = fix[i]
		}
	}
	return n, err
}

func openPDF(ra io.ReaderAt, size int64) (r *pdf.Reader, err error) {
	defer func() {
		if x := recover(); x != nil {
			r, err = nil, fileErr("", "is not a valid PDF (it is damaged)", fmt.Errorf("panic: %v", x))
		}
	}()
	r, err = pdf.NewReader(ra, size)
	if err == nil {
		return r, nil
	}
	msg := err.Error()
	switch {
	case errors.Is(err, pdf.ErrInvalidPassword):
		return nil, fileErr("", "is encrypted; encrypted PDFs are not supported (remove the password and try again)", err)
	case strings.Contains(msg, "encryption"):
		return nil, fileErr("", "is encrypted with a method that is not supported; remove the password and try again", err)
	case strings.Contains(msg, "%%EOF"), strings.Contains(msg, "%EOF"), strings.Contains(msg, "startxref"):
		return nil, fileErr("", "is not a valid PDF (it is truncated or damaged: no end-of-file marker or cross-reference table)", err)
	}
	return nil, fileErr("", "is not a valid PDF ("+msg+")", err)
}

// pdfPages walks the page tree once (the library's Page(i) walks it from
// the root for every page). The visit budget stops cyclic trees.
func pdfPages(r *pdf.Reader) (pages []pdf.Value) {
	defer func() { recover() }()
	budget := 200000
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		if budget--; budget < 0 || depth > 64 || v.Kind() != pdf.Dict {
			return
		}
		kids := v.Key("Kids")
		if v.Key("Type").Name() == "Pages" || (v.Key("Type").Name() != "Page" && kids.Kind() == pdf.Array) {
			for i := 0; i < kids.Len(); i++ {
				walk(kids.Index(i), depth+1)
			}
			return
		}
		pages = append(pages, v)
	}
	walk(r.Trailer().Key("Root").Key("Pages"), 0)
	return pages
}

type affine struct{ a, b, c, d, e, f float64 }

var identity = affine{1, 0, 0, 1, 0, 0}

// mul returns m×n (apply m first, then n).
func (m affine) mul(n affine) affine {
	return affine{
		m.a*n.a + m.b*n.c, m.a*n.b + m.b*n.d,
		m.c*n.a + m.d*n.c, m.c*n.b + m.d*n.d,
		m.e*n.a + m.f*n.c + n.e, m.e*n.b + m.f*n.d + n.f,
	}
}

func affineFrom(args []pdf.Value) affine {
	return affine{args[0].Float64(), args[1].Float64(), args[2].Float64(), args[3].Float64(), args[4].Float64(), args[5].Float64()}
}

type glyph struct {
	x, y, w, size float64
	s             string
}

type gstate struct {
	ctm, tm, tlm        affine
	tc, tw, th, tl, tfs float64
	trise               float64
	font                *pdfFont
}

type pdfExtractor struct {
	fonts  map[string]*pdfFont
	budget int64
	used   int64
	full   bool
}

// Per-page caps: a normal dense page has a few thousand glyphs and tens of
// thousands of operators; hostile content streams stop here.
const (
	maxGlyphsPerPage = 300_000
	maxOpsPerPage    = 20_000_000
)

// errPageAborted stops a page's content stream from inside the interpreter.
var errPageAborted = errors.New("page aborted")

// page extracts the lines of one page. A panic inside the library keeps the
// lines read so far and becomes a warning.
func (px *pdfExtractor) page(ctx context.Context, p pdf.Value, num int) (lines []pdfLine, warn string) {
	var glyphs []glyph
	defer func() {
		if x := recover(); x != nil {
			lines = buildLines(glyphs)
			if len(lines) == 0 {
				warn = fmt.Sprintf("page %d could not be read (damaged content)", num)
			} else {
				warn = fmt.Sprintf("page %d could only be partly read (damaged content)", num)
			}
		}
		lines, warn = px.check(lines, warn, num)
	}()
	res := inheritedKey(p, "Resources")
	g := gstate{ctm: identity, tm: identity, tlm: identity, th: 1}
	forms, ops := 0, 0
	// Marked content: an ActualText span's text replaces the glyphs shown
	// inside it (Chromium wraps Noto CJK glyphs whose cmap points at Kangxi
	// radicals; wkhtmltopdf wraps its fake-bold second pass in an empty one).
	// The outermost span wins, as its text covers everything inside.
	type marked struct {
		actual bool
		text   string
		start  int
	}
	var mc []marked
	inActual := 0
	var run func(strm, res pdf.Value, depth int)
	run = func(strm, res pdf.Value, depth int) {
		pageFonts := map[string]*pdfFont{}
		var stack []gstate
		show := func(raw string) {
			f := g.font
			if f == nil {
				f = px.font(pdf.Value{}, "")
			}
			m := g.tm.mul(g.ctm)
			size := math.Abs(g.tfs) * math.Hypot(m.c, m.d)
			for len(raw) > 0 && len(glyphs) < maxGlyphsPerPage {
				n := f.codeLen(raw)
				if n > len(raw) {
					n = len(raw)
				}
				code := raw[:n]
				raw = raw[n:]
				w0 := f.width(codeValue(code)) * f.scale
				m = g.tm.mul(g.ctm)
				x := g.trise*m.c + m.e
				y := g.trise*m.d + m.f
				wdev := w0 * g.tfs * g.th * m.a
				glyphs = append(glyphs, glyph{x: x, y: y, w: wdev, size: size, s: f.decode(code)})
				tx := w0*g.tfs + g.tc
				if n == 1 && code[0] == ' ' {
					tx += g.tw
				}
				tx *= g.th
				g.tm.e += tx * g.tm.a
				g.tm.f += tx * g.tm.b
			}
		}
		pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
			if ops++; ops%65536 == 0 && (ctx.Err() != nil || ops > maxOpsPerPage) {
				panic(errPageAborted)
			}
			args := make([]pdf.Value, stk.Len())
			for i := len(args) - 1; i >= 0; i-- {
				args[i] = stk.Pop()
			}
			switch op {
			case "cm":
				if len(args) == 6 {
					g.ctm = affineFrom(args).mul(g.ctm)
				}
			case "q":
				if len(stack) < 1024 {
					stack = append(stack, g)
				}
			case "Q":
				if n := len(stack); n > 0 {
					g = stack[n-1]
					stack = stack[:n-1]
				}
			case "BT":
				g.tm, g.tlm = identity, identity
			case "Tc":
				if len(args) == 1 {
					g.tc = args[0].Float64()
				}
			case "Tw":
				if len(args) == 1 {
					g.tw = args[0].Float64()
				}
			case "Tz":
				if len(args) == 1 {
					g.th = args[0].Float64() / 100
				}
			case "TL":
				if len(args) == 1 {
					g.tl = args[0].Float64()
				}
			case "Ts":
				if len(args) == 1 {
					g.trise = args[0].Float64()
				}
			case "Tf":
				if len(args) == 2 {
					name := args[0].Name()
					f, ok := pageFonts[name]
					if !ok {
						f = px.font(res.Key("Font").Key(name), name)
						pageFonts[name] = f
					}
					g.font = f
					g.tfs = args[1].Float64()
				}
			case "TD":
				if len(args) == 2 {
					g.tl = -args[1].Float64()
				}
				fallthrough
			case "Td":
				if len(args) == 2 {
					g.tlm = affine{1, 0, 0, 1, args[0].Float64(), args[1].Float64()}.mul(g.tlm)
					g.tm = g.tlm
				}
			case "Tm":
				if len(args) == 6 {
					g.tm = affineFrom(args)
					g.tlm = g.tm
				}
			case "T*":
				g.tlm = affine{1, 0, 0, 1, 0, -g.tl}.mul(g.tlm)
				g.tm = g.tlm
			case "Tj":
				if len(args) >= 1 {
					show(args[len(args)-1].RawString())
				}
			case "'", "\"":
				if op == "\"" && len(args) == 3 {
					g.tw, g.tc = args[0].Float64(), args[1].Float64()
				}
				g.tlm = affine{1, 0, 0, 1, 0, -g.tl}.mul(g.tlm)
				g.tm = g.tlm
				if len(args) >= 1 {
					show(args[len(args)-1].RawString())
				}
			case "TJ":
				if len(args) < 1 {
					return
				}
				v := args[len(args)-1]
				for i := 0; i < v.Len(); i++ {
					x := v.Index(i)
					if x.Kind() == pdf.String {
						show(x.RawString())
					} else {
						tx := -x.Float64() / 1000 * g.tfs * g.th
						g.tm.e += tx * g.tm.a
						g.tm.f += tx * g.tm.b
					}
				}
			case "BMC", "BDC":
				m := marked{}
				if op == "BDC" && len(args) == 2 && inActual == 0 {
					props := args[1]
					if props.Kind() == pdf.Name {
						props = res.Key("Properties").Key(props.Name())
					}
					if at := props.Key("ActualText"); at.Kind() == pdf.String {
						m = marked{actual: true, text: at.Text(), start: len(glyphs)}
					}
				}
				if m.actual {
					inActual++
				}
				if len(mc) < 4096 {
					mc = append(mc, m)
				}
			case "EMC":
				if len(mc) == 0 {
					return
				}
				m := mc[len(mc)-1]
				mc = mc[:len(mc)-1]
				if m.actual {
					inActual--
					glyphs = replaceActual(glyphs, m.start, m.text)
				}
			case "Do":
				if len(args) != 1 || depth >= 8 || forms >= 2000 {
					return
				}
				xo := res.Key("XObject").Key(args[0].Name())
				if xo.Kind() != pdf.Stream || xo.Key("Subtype").Name() != "Form" {
					return
				}
				forms++
				saved := g
				if m := xo.Key("Matrix"); m.Len() == 6 {
					g.ctm = affine{m.Index(0).Float64(), m.Index(1).Float64(), m.Index(2).Float64(), m.Index(3).Float64(), m.Index(4).Float64(), m.Index(5).Float64()}.mul(g.ctm)
				}
				fres := xo.Key("Resources")
				if fres.Kind() != pdf.Dict {
					fres = res
				}
				run(xo, fres, depth+1)
				g = saved
			}
		})
	}
	run(p.Key("Contents"), res, 0)
	return buildLines(dropOverprint(glyphs)), ""
}

// replaceActual puts an ActualText span's text in place of the glyphs
// shown inside it (gs[start:]), at the first glyph's position and as wide
// as all of them. A span that showed nothing adds nothing, as in poppler.
func replaceActual(gs []glyph, start int, text string) []glyph {
	if start < 0 || start >= len(gs) {
		return gs
	}
	first, last := gs[start], gs[len(gs)-1]
	gs = gs[:start]
	if strings.TrimSpace(text) == "" && text != " " {
		return gs
	}
	w := first.w
	if math.Abs(last.y-first.y) < 0.3*first.size && last.x+last.w > first.x {
		w = last.x + last.w - first.x
	}
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, "\uFFFD")
	}
	return append(gs, glyph{x: first.x, y: first.y, w: w, size: first.size, s: text})
}

// dropOverprint removes a run of glyphs drawn again over itself, slightly
// offset (fake bold, shadows): a glyph that jumps back on its baseline onto
// an earlier glyph with the same text starts a duplicate, which goes on for
// as long as the following glyphs repeat the earlier run at the same offset.
func dropOverprint(gs []glyph) []glyph {
	out := gs[:0]
	dup, dupEnd := -1, 0
	var ddx, ddy float64
	for _, g := range gs {
		tol := 0.25 * math.Max(g.size, 1)
		if dup >= 0 && dup+1 < dupEnd {
			o := out[dup+1]
			if o.s == g.s && math.Abs(g.x-o.x-ddx) < tol && math.Abs(g.y-o.y-ddy) < tol {
				dup++
				continue
			}
		}
		dup = -1
		if n := len(out); n > 0 && g.s != "" && strings.TrimSpace(g.s) != "" {
			p := out[n-1]
			if g.x < p.x-tol && math.Abs(g.y-p.y) < tol {
				for k := n - 1; k >= 0 && k >= n-512; k-- {
					o := out[k]
					if o.s == g.s && math.Abs(o.x-g.x) < tol && math.Abs(o.y-g.y) < tol {
						dup, dupEnd, ddx, ddy = k, n, g.x-o.x, g.y-o.y
						break
					}
				}
				if dup >= 0 {
					continue
				}
			}
		}
		out = append(out, g)
	}
	return out
}

func inheritedKey(p pdf.Value, key string) pdf.Value {
	for i := 0; i < 32 && p.Kind() == pdf.Dict; i++ {
		if v := p.Key(key); !v.IsNull() {
			return v
		}
		p = p.Key("Parent")
	}
	return pdf.Value{}
}

// font resolves a font once per document. The dictionary's printed form
// (which names its indirect objects) identifies it across pages.
func (px *pdfExtractor) font(v pdf.Value, name string) *pdfFont {
	key := v.String()
	if f, ok := px.fonts[key]; ok {
		return f
	}
	var f *pdfFont
	func() {
		defer func() {
			if recover() != nil {
				f = &pdfFont{scale: 0.001, dec2: map[string]string{}, noWidth: true}
			}
		}()
		f = loadPDFFont(v)
	}()
	px.fonts[key] = f
	return f
}

// check enforces the text budget and flags pages without usable text.
// Lines whose characters are mostly undecodable (U+FFFD, private-use or
// control characters) are dropped rather than indexed as garbage.
func (px *pdfExtractor) check(lines []pdfLine, warn string, num int) ([]pdfLine, string) {
	total, dropped, odd := 0, 0, 0
	kept := lines[:0]
	for _, l := range lines {
		n, bad := 0, 0
		for _, r := range l.text {
			switch {
			case r == ' ':
				continue
			case r == '\uFFFD' || (r >= 0xE000 && r <= 0xF8FF) || r < 0x20 || (r >= 0x80 && r < 0xA0):
				bad++
			case isLetterOrDigit(r) || unicode.IsPunct(r) || r < 0x80:
			default:
				odd++ // symbols: a few are normal, a page of them is not
			}
			n++
		}
		total += n
		if bad*3 > n {
			dropped++
			continue
		}
		kept = append(kept, l)
	}
	lines = kept
	switch {
	case total == 0 && warn == "":
		warn = fmt.Sprintf("page %d has no extractable text (scanned or an unsupported font)", num)
	case total > 0 && (len(lines) == 0 || (total >= 20 && odd*2 > total)):
		warn = fmt.Sprintf("page %d has text that could not be decoded (an embedded font without a Unicode map); it was left out", num)
		lines = nil
	case dropped > 0 && warn == "":
		warn = fmt.Sprintf("page %d has %d lines that could not be decoded (an embedded font without a Unicode map); they were left out", num, dropped)
	}
	for _, l := range lines {
		px.used += int64(len(l.text)) + 1
	}
	if px.budget > 0 && px.used > px.budget {
		px.full = true
	}
	return lines, warn
}
