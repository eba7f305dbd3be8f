package main

import (
	"io"
	"strconv"
	"unicode/utf8"
)

// Names, paths and passages come from files and bundles anyone may have
// written, and answers from a model quoting them: printed raw, an ESC or
// CSI sequence in them would drive the user's terminal (retitle it, hide
// text, fake a prompt). Plain-text output goes through safe or safeText,
// whether or not it is a terminal now, since output saved to a file is
// often printed to one later; --json output is JSON-escaped already.

// safe escapes every rune of a name that is not printable (controls,
// format characters such as bidi overrides, invalid UTF-8) the way
// strconv.Quote does, without the quotes: "a\x1b[31mb" prints as a\x1b[31mb.
func safe(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || !strconv.IsPrint(r) {
			return escape(s, func(r rune) bool { return strconv.IsPrint(r) })
		}
		i += n
	}
	return s
}

// safeText is safe for passage and answer text: line breaks and tabs stay,
// and printable Unicode of every script stays.
func safeText(s string) string {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || !textRune(r) {
			return escape(s, textRune)
		}
		i += n
	}
	return s
}

func textRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return true
	case r < 0x20 || r >= 0x7f && r <= 0x9f: // C0, DEL, C1
		return false
	case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069: // bidi overrides
		return false
	}
	return true
}

func escape(s string, keep func(rune) bool) string {
	out := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			out = append(out, `\x`...)
			out = append(out, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&15])
		case keep(r):
			out = append(out, s[i:i+n]...)
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			out = append(out, q[1:len(q)-1]...)
		}
		i += n
	}
	return string(out)
}

// safeStream writes streamed tokens through safeText, holding back a rune
// split across two tokens so that it is not mistaken for invalid UTF-8.
type safeStream struct {
	w    io.Writer
	tail []byte
}

func (s *safeStream) write(tok string) error {
	b := append(s.tail, tok...)
	cut := len(b)
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				cut = i
			}
			break
		}
	}
	s.tail = append([]byte(nil), b[cut:]...)
	_, err := io.WriteString(s.w, safeText(string(b[:cut])))
	return err
}

func (s *safeStream) flush() error {
	if len(s.tail) == 0 {
		return nil
	}
	_, err := io.WriteString(s.w, safeText(string(s.tail)))
	s.tail = nil
	return err
}
