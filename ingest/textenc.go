package ingest

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"
)

// decodeBytes turns raw file bytes into UTF-8. It honours UTF-8 and UTF-16
// byte-order marks, recognises GB18030/GBK (common for Chinese files saved
// on Windows) and otherwise replaces invalid bytes with U+FFFD. The second
// result is a warning sentence, or "".
func decodeBytes(b []byte) (string, string) {
	switch {
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		out, err := xunicode.UTF16(xunicode.BigEndian, xunicode.ExpectBOM).NewDecoder().Bytes(b)
		if err == nil {
			return string(out), ""
		}
	}
	if utf8.Valid(b) {
		return string(b), ""
	}
	if looksGB18030(b) {
		if out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b); err == nil && !bytes.ContainsRune(out, utf8.RuneError) {
			return string(out), ""
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), "has bytes that are not valid UTF-8; they were replaced with \uFFFD"
}

// looksGB18030 is a cheap plausibility check before decoding: GBK text has
// runs of high bytes whose trail bytes sit mostly in the GB2312 range, while
// Latin-1 text has isolated high bytes followed by ASCII letters.
func looksGB18030(b []byte) bool {
	pairs, gb := 0, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x80 {
			if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' {
				return false
			}
			continue
		}
		if c == 0x80 || c == 0xFF || i+1 >= len(b) {
			return false
		}
		t := b[i+1]
		if t >= 0x30 && t <= 0x39 { // four-byte sequence
			i += 3
			pairs++
			continue
		}
		pairs++
		if c >= 0xA1 && t >= 0xA1 && t <= 0xFE {
			gb++
		}
		i++
	}
	return pairs > 0 && gb*10 >= pairs*8
}

// looksBinary reports bytes that are not text in any encoding we read:
// NULs (outside UTF-16) or many control characters.
func looksBinary(head []byte) bool {
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return false
	}
	ctl := 0
	for _, c := range head {
		if c == 0 {
			return true
		}
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b {
			ctl++
		}
	}
	return ctl*20 > len(head)
}

func isCJK(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r) ||
		(r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}

// joinLines joins wrapped lines with a space, or with nothing between two
// CJK characters (Chinese has no spaces between words).
func joinLines(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	ra, _ := utf8.DecodeLastRuneInString(a)
	rb, _ := utf8.DecodeRuneInString(b)
	if isCJK(ra) && isCJK(rb) {
		return a + b
	}
	return a + " " + b
}
