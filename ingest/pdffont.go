package ingest

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ledongthuc/pdf"
	"golang.org/x/text/unicode/norm"
)

// pdfFont is everything the layout pass needs from a font, resolved once per
// document. The library resolves (and re-inflates) a font's Widths object for
// every glyph; caching here is what makes extraction fast.
type pdfFont struct {
	v       pdf.Value
	cid     bool
	ident   bool // Type 0 with Identity-H/V: always two-byte codes
	twoByte bool
	cmap    *toUnicodeMap
	builtin map[byte]string // embedded Type 1 font's own encoding
	enc     pdf.TextEncoding
	dec1    [256]string
	have1   [256]bool
	dec2    map[string]string

	first   int
	widths  []float64
	missing float64
	cidW    map[int]float64
	dw      float64
	scale   float64 // glyph space to text space: 1/1000, or Type3 FontMatrix
	noWidth bool

	undecodable bool
}

func loadPDFFont(v pdf.Value) *pdfFont {
	f := &pdfFont{v: v, scale: 0.001, dec2: map[string]string{}}
	sub := v.Key("Subtype").Name()
	if tu := v.Key("ToUnicode"); tu.Kind() == pdf.Stream {
		f.cmap = parseToUnicode(tu, v)
	}
	if f.cmap == nil || f.cmap.empty() {
		f.cmap = nil
		if (sub == "Type1" || sub == "MMType1") && v.Key("Encoding").IsNull() {
			f.builtin = builtinEncoding(v)
		}
		f.libEncoder()
	}
	switch sub {
	case "Type0":
		f.twoByte, f.cid = true, true
		switch v.Key("Encoding").Name() {
		case "Identity-H", "Identity-V":
			f.ident = true
		}
		desc := v.Key("DescendantFonts").Index(0)
		f.dw = 1000
		if dw := desc.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			f.dw = dw.Float64()
		}
		f.cidW = map[int]float64{}
		w := desc.Key("W")
		for i := 0; i < w.Len() && i < 200000; {
			c := int(w.Index(i).Int64())
			next := w.Index(i + 1)
			if next.Kind() == pdf.Array {
				for j := 0; j < next.Len() && j < 65536; j++ {
					f.cidW[c+j] = next.Index(j).Float64()
				}
				i += 2
				continue
			}
			last := int(next.Int64())
			wd := w.Index(i + 2).Float64()
			for c2 := c; c2 <= last && c2-c < 65536; c2++ {
				f.cidW[c2] = wd
			}
			i += 3
		}
	default:
		f.first = int(v.Key("FirstChar").Int64())
		ws := v.Key("Widths")
		for i := 0; i < ws.Len() && i < 256; i++ {
			f.widths = append(f.widths, ws.Index(i).Float64())
		}
		f.missing = v.Key("FontDescriptor").Key("MissingWidth").Float64()
		if len(f.widths) == 0 {
			f.noWidth = true
		}
		if sub == "Type3" {
			if m := v.Key("FontMatrix"); m.Len() >= 1 && m.Index(0).Float64() != 0 {
				f.scale = m.Index(0).Float64()
			}
		}
	}
	if f.cid && f.cmap == nil && v.Key("Encoding").Name() != "UniGB-UCS2-H" {
		// A CID font without a ToUnicode map: its codes are glyph ids, and
		// reading them as text gives Latin-looking garbage. Say so instead.
		f.undecodable = true
	}
	if f.cid && f.cmap != nil && f.cmap.twoByte() {
		f.twoByte = true
	}
	return f
}

func (f *pdfFont) libEncoder() pdf.TextEncoding {
	if f.enc == nil {
		lf := pdf.Font{V: f.v}
		f.enc = lf.Encoder()
	}
	return f.enc
}

// width returns the glyph width in glyph space.
func (f *pdfFont) width(code int) float64 {
	if f.cidW != nil {
		if w, ok := f.cidW[code]; ok {
			return w
		}
		return f.dw
	}
	if i := code - f.first; i >= 0 && i < len(f.widths) {
		return f.widths[i]
	}
	if f.noWidth {
		return 500 // no metrics: assume an average glyph
	}
	return f.missing
}

// decode maps one character code to text, memoised.
func (f *pdfFont) decode(code string) string {
	if len(code) == 1 {
		c := code[0]
		if !f.have1[c] {
			f.dec1[c] = f.decodeSlow(code)
			f.have1[c] = true
		}
		return f.dec1[c]
	}
	s, ok := f.dec2[code]
	if !ok {
		s = f.decodeSlow(code)
		if len(f.dec2) < 1<<16 {
			f.dec2[code] = s
		}
	}
	return s
}

func (f *pdfFont) decodeSlow(code string) string {
	if f.undecodable {
		return "\uFFFD"
	}
	var s string
	if f.cmap != nil {
		var ok bool
		s, ok = f.cmap.lookup(code)
		if !ok && !f.cid && len(code) == 1 {
			// groff and others write a simple font's ToUnicode with
			// two-byte source codes (<0041>); the code's value is what counts.
			s, ok = f.cmap.lookup("\x00" + code)
		}
		if !ok && !f.cid {
			s = f.libEncoder().Decode(code)
		} else if !ok {
			s = "\uFFFD"
		}
	} else if t, ok := f.builtin[code[0]]; ok && len(code) == 1 {
		s = t
	} else if f.enc != nil {
		s = f.enc.Decode(code)
	} else {
		s = code
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return normalizeGlyph(s)
}

// normalizeGlyph applies NFKC (ligatures such as "ﬁ" become "fi") but keeps
// full-width CJK punctuation, which NFKC would turn into ASCII.
func normalizeGlyph(s string) string {
	for _, r := range s {
		if r >= 0x80 && !(r >= 0xFF00 && r <= 0xFFEF) && !isCJK(r) {
			return norm.NFKC.String(s)
		}
	}
	return s
}

// codeLen says how many bytes the next character code in raw takes. A
// simple font's codes are one byte whatever its ToUnicode's codespace says
// (groff declares <0000> <FFFF>); only a Type 0 font's CMap decides.
func (f *pdfFont) codeLen(raw string) int {
	if !f.cid {
		return 1
	}
	if f.ident && len(raw) >= 2 {
		return 2
	}
	if f.cmap != nil {
		if n := f.cmap.codeLen(raw); n > 0 {
			return n
		}
	}
	if f.twoByte && len(raw) >= 2 {
		return 2
	}
	return 1
}

// toUnicodeMap is a parsed ToUnicode CMap.
type toUnicodeMap struct {
	space  [][2]string
	single map[string]string
	ranges []cmapRange
}

type cmapRange struct {
	lo, hi string
	dst    string   // UTF-16BE of lo
	arr    []string // or one UTF-16BE string per code
}

func (m *toUnicodeMap) empty() bool { return len(m.single) == 0 && len(m.ranges) == 0 }

func (m *toUnicodeMap) twoByte() bool {
	for _, s := range m.space {
		if len(s[0]) != 2 {
			return false
		}
	}
	return len(m.space) > 0
}

func (m *toUnicodeMap) codeLen(raw string) int {
	for n := 1; n <= 4 && n <= len(raw); n++ {
		for _, s := range m.space {
			if len(s[0]) == n && inRange(raw[:n], s[0], s[1]) {
				return n
			}
		}
	}
	return 0
}

// inRange compares byte by byte, as the CMap spec asks.
func inRange(code, lo, hi string) bool {
	if len(code) != len(lo) || len(lo) != len(hi) {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < lo[i] || code[i] > hi[i] {
			return false
		}
	}
	return true
}

func codeValue(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		v = v<<8 | int(s[i])
	}
	return v
}

func (m *toUnicodeMap) lookup(code string) (string, bool) {
	if s, ok := m.single[code]; ok {
		return s, true
	}
	for _, r := range m.ranges {
		if len(r.lo) != len(code) || code < r.lo || code > r.hi {
			continue
		}
		off := codeValue(code) - codeValue(r.lo)
		if r.arr != nil {
			if off < len(r.arr) {
				return utf16String(r.arr[off], 0), true
			}
			return "", false
		}
		return utf16String(r.dst, off), true
	}
	return "", false
}

// utf16String decodes UTF-16BE, adding off to the last code unit (bfrange).
func utf16String(s string, off int) string {
	if len(s)%2 == 1 {
		s = s[:len(s)-1]
	}
	u := make([]uint16, len(s)/2)
	for i := range u {
		u[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
	}
	if off != 0 && len(u) > 0 {
		u[len(u)-1] += uint16(off)
	}
	return string(utf16.Decode(u))
}

// parseToUnicode reads a ToUnicode CMap with the library's PostScript
// interpreter. fontDict is only used as a scratch dictionary for the
// "findresource begin" preamble, which the interpreter needs on its stack.
func parseToUnicode(strm, fontDict pdf.Value) (m *toUnicodeMap) {
	defer func() {
		if recover() != nil {
			m = nil
		}
	}()
	m = &toUnicodeMap{single: map[string]string{}}
	base := 0
	popAll := func(stk *pdf.Stack) []pdf.Value {
		n := stk.Len() - base
		if n < 0 {
			n = 0
		}
		out := make([]pdf.Value, n)
		for i := n - 1; i >= 0; i-- {
			out[i] = stk.Pop()
		}
		return out
	}
	pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
		switch op {
		case "findresource":
			stk.Pop()
			stk.Pop()
			stk.Push(fontDict)
		case "begincodespacerange", "beginbfchar", "beginbfrange":
			stk.Pop()
			base = stk.Len()
		case "endcodespacerange":
			a := popAll(stk)
			for i := 0; i+1 < len(a); i += 2 {
				lo, hi := a[i].RawString(), a[i+1].RawString()
				if len(lo) > 0 && len(lo) == len(hi) && len(lo) <= 4 {
					m.space = append(m.space, [2]string{lo, hi})
				}
			}
		case "endbfchar":
			a := popAll(stk)
			for i := 0; i+1 < len(a); i += 2 {
				if len(m.single) < 1<<17 {
					m.single[a[i].RawString()] = utf16String(a[i+1].RawString(), 0)
				}
			}
		case "endbfrange":
			a := popAll(stk)
			for i := 0; i+2 < len(a) && len(m.ranges) < 1<<16; i += 3 {
				r := cmapRange{lo: a[i].RawString(), hi: a[i+1].RawString()}
				if dst := a[i+2]; dst.Kind() == pdf.Array {
					for j := 0; j < dst.Len() && j < 65536; j++ {
						r.arr = append(r.arr, dst.Index(j).RawString())
					}
					if r.arr == nil {
						r.arr = []string{}
					}
				} else {
					r.dst = dst.RawString()
				}
				m.ranges = append(m.ranges, r)
			}
		case "defineresource":
			v := stk.Pop()
			stk.Pop()
			stk.Pop()
			stk.Push(v)
		}
	})
	return m
}
