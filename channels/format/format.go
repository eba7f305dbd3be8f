// Package format turns an agent's Markdown answer into what each messaging
// platform shows: its own markup (or plain text where it has none), parts
// that fit its message limit, citations as one short source line, and
// follow-up questions as numbered text where it has no quick replies.
package format

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"atoll/channels"
)

// Style is a platform's markup.
type Style int

const (
	// Plain has no markup (WeChat, WeCom): emphasis is dropped, links
	// become "text (url)", bullets "• ".
	Plain Style = iota
	// TelegramHTML is Telegram's parse_mode=HTML subset.
	TelegramHTML
	// SlackMrkdwn is Slack's mrkdwn.
	SlackMrkdwn
	// WhatsApp is WhatsApp's *bold* _italic_ ~strike~ ```mono```.
	WhatsApp
	// LarkMD is Feishu card markdown: Markdown without headings.
	LarkMD
	// DingTalkMD is DingTalk's markdown message, close to standard.
	DingTalkMD
)

// Measure is how a platform counts a message's length.
type Measure func(string) int

// Runes counts Unicode characters.
func Runes(s string) int { return utf8.RuneCountInString(s) }

// Bytes counts UTF-8 bytes (WeChat and WeCom limits are in bytes).
func Bytes(s string) int { return len(s) }

// UTF16 counts UTF-16 code units (Telegram counts so).
func UTF16(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

var (
	fenceRe   = regexp.MustCompile("^\\s*```")
	headingRe = regexp.MustCompile(`^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$`)
	bulletRe  = regexp.MustCompile(`^(\s*)[-*+]\s+`)
	linkRe    = regexp.MustCompile(`\[([^\]\n]+)\]\((https?://[^)\s]+)\)`)
	boldRe    = regexp.MustCompile(`\*\*([^*\n]+?)\*\*|__([^_\n]+?)__`)
	italRe    = regexp.MustCompile(`(^|[^\w*])\*([^*\s](?:[^*\n]*[^*\s])?)\*`)
	italURe   = regexp.MustCompile(`(^|[^\w])_([^_\s](?:[^_\n]*[^_\s])?)_`)
	strikeRe  = regexp.MustCompile(`~~([^~\n]+?)~~`)
)

// Sentinels mark emphasis between parsing and rendering, so one style's
// output (Slack's *bold*) is not read again as another's input (italic).
const (
	sBold   = "\x01"
	sItal   = "\x02"
	sStrike = "\x03"
	sLink   = "\x04"
)

// Convert renders Markdown in a platform's style.
func Convert(md string, st Style) string {
	if st == DingTalkMD {
		return md
	}
	var out []string
	inCode := false
	var code []string
	flush := func() {
		body := strings.Join(code, "\n")
		switch st {
		case TelegramHTML:
			out = append(out, "<pre>"+html.EscapeString(body)+"</pre>")
		case Plain:
			out = append(out, body)
		default:
			out = append(out, "```\n"+body+"\n```")
		}
		code = code[:0]
	}
	for _, line := range strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n") {
		if fenceRe.MatchString(line) {
			if inCode {
				flush()
			}
			inCode = !inCode
			continue
		}
		if inCode {
			code = append(code, line)
			continue
		}
		out = append(out, convertLine(line, st))
	}
	if inCode {
		flush()
	}
	return strings.Join(out, "\n")
}

func convertLine(line string, st Style) string {
	heading := false
	if m := headingRe.FindStringSubmatch(line); m != nil {
		line, heading = m[1], true
	}
	prefix := ""
	if st != LarkMD {
		if m := bulletRe.FindStringSubmatchIndex(line); m != nil {
			prefix = line[m[2]:m[3]] + "• "
			line = line[m[1]:]
		}
	}
	// Inline code spans are left alone: split on backticks, odd
	// segments are code.
	segs := strings.Split(line, "`")
	if len(segs)%2 == 0 { // an unpaired backtick: treat it as text
		segs = []string{line}
	}
	var b strings.Builder
	b.WriteString(prefix)
	if heading {
		b.WriteString(openTag(sBold, st, true))
	}
	for i, s := range segs {
		if i%2 == 1 {
			switch st {
			case TelegramHTML:
				b.WriteString("<code>" + html.EscapeString(s) + "</code>")
			case Plain:
				b.WriteString(s)
			default:
				b.WriteString("`" + s + "`")
			}
			continue
		}
		b.WriteString(inline(s, st))
	}
	if heading {
		b.WriteString(openTag(sBold, st, false))
	}
	return b.String()
}

func inline(s string, st Style) string {
	var links [][2]string
	s = linkRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := linkRe.FindStringSubmatch(m)
		links = append(links, [2]string{sub[1], sub[2]})
		return sLink + strconv.Itoa(len(links)-1) + sLink
	})
	if st == TelegramHTML {
		s = html.EscapeString(s)
	} else if st == SlackMrkdwn {
		s = slackEscape(s)
	}
	s = boldRe.ReplaceAllString(s, sBold+"$1$2"+sBold)
	s = strikeRe.ReplaceAllString(s, sStrike+"$1"+sStrike)
	s = italRe.ReplaceAllString(s, "$1"+sItal+"$2"+sItal)
	s = italURe.ReplaceAllString(s, "$1"+sItal+"$2"+sItal)
	s = renderMarks(s, st)
	if len(links) > 0 {
		parts := strings.Split(s, sLink)
		var b strings.Builder
		for i, p := range parts {
			if i%2 == 0 {
				b.WriteString(p)
				continue
			}
			n, err := strconv.Atoi(p)
			if err != nil || n >= len(links) {
				continue
			}
			b.WriteString(link(links[n][0], links[n][1], st))
		}
		s = b.String()
	}
	return s
}

// renderMarks replaces each sentinel pair with the style's markup.
func renderMarks(s string, st Style) string {
	for _, mark := range []string{sBold, sItal, sStrike} {
		parts := strings.Split(s, mark)
		if len(parts) == 1 {
			continue
		}
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				if i%2 == 1 {
					b.WriteString(openTag(mark, st, true))
				} else {
					b.WriteString(openTag(mark, st, false))
				}
			}
			b.WriteString(p)
		}
		s = b.String()
	}
	return s
}

func openTag(mark string, st Style, opening bool) string {
	switch st {
	case TelegramHTML:
		t := map[string]string{sBold: "b", sItal: "i", sStrike: "s"}[mark]
		if opening {
			return "<" + t + ">"
		}
		return "</" + t + ">"
	case SlackMrkdwn, WhatsApp:
		return map[string]string{sBold: "*", sItal: "_", sStrike: "~"}[mark]
	case LarkMD:
		return map[string]string{sBold: "**", sItal: "*", sStrike: "~~"}[mark]
	default:
		return ""
	}
}

func link(text, url string, st Style) string {
	switch st {
	case TelegramHTML:
		// text was escaped with the rest of the line
		return `<a href="` + html.EscapeString(url) + `">` + html.EscapeString(text) + "</a>"
	case SlackMrkdwn:
		return "<" + url + "|" + slackEscape(text) + ">"
	case LarkMD, DingTalkMD:
		return "[" + text + "](" + url + ")"
	default:
		if text == url {
			return url
		}
		return text + " (" + url + ")"
	}
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// SourceLine is the citations as one short line ("Sources: a.pdf p. 3;
// b.docx"), at most max of them (0: 3), with links in the style where the
// source has a URL.
func SourceLine(srcs []channels.Source, st Style, max int) string {
	if max <= 0 {
		max = 3
	}
	seen := map[string]bool{}
	var items []string
	for _, s := range srcs {
		t := strings.TrimSpace(s.Title)
		if t == "" {
			continue
		}
		if s.Page > 0 {
			t += fmt.Sprintf(" p. %d", s.Page)
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		if s.URL != "" {
			t = "[" + t + "](" + s.URL + ")"
		}
		items = append(items, t)
		if len(items) == max {
			break
		}
	}
	if len(items) == 0 {
		return ""
	}
	return Convert("Sources: "+strings.Join(items, "; "), st)
}

// Numbered is follow-up questions as numbered text, for platforms without
// quick replies; the dispatcher reads a bare number back as the question.
func Numbered(followups []string, st Style) string {
	if len(followups) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("You can also ask (reply with the number):")
	for i, f := range followups {
		fmt.Fprintf(&b, "\n%d. %s", i+1, f)
	}
	return Convert(b.String(), st)
}

// Split cuts text into parts of at most limit (as measure counts), at a
// paragraph, line or word boundary where one is near, never inside a
// UTF-8 character; a cut inside a code fence closes and reopens it.
func Split(text string, limit int, measure Measure) []string {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	if measure == nil {
		measure = Runes
	}
	var parts []string
	for measure(text) > limit {
		runes := []rune(text)
		// Largest rune prefix that fits (binary search).
		lo, hi := 1, len(runes)
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if measure(string(runes[:mid])) <= limit-8 { // room to close a fence
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		cut := lo
		head := string(runes[:cut])
		for _, sep := range []string{"\n\n", "\n", "。", ". ", " "} {
			if i := strings.LastIndex(head, sep); i > len(head)/2 {
				head = head[:i+len(sep)]
				break
			}
		}
		rest := text[len(head):]
		head = strings.TrimRight(head, " \n")
		if strings.Count(head, "```")%2 == 1 {
			head += "\n```"
			rest = "```\n" + strings.TrimLeft(rest, "\n")
		}
		parts = append(parts, head)
		text = strings.TrimLeft(rest, " \n")
		if text == "" {
			break
		}
	}
	if text != "" {
		parts = append(parts, text)
	}
	return parts
}

// Options say how a platform shows a reply.
type Options struct {
	Style   Style
	Limit   int     // the platform's message limit
	Measure Measure // how it counts; nil: runes
	// Numbered adds the follow-ups as numbered text (platforms without
	// quick replies).
	Numbered bool
}

// Parts renders a reply into messages that each fit the limit: the answer,
// then the source line and numbered follow-ups on the last part.
func Parts(rep channels.Reply, o Options) []string {
	if o.Measure == nil {
		o.Measure = Runes
	}
	md := strings.TrimSpace(rep.Text)
	if l := SourceLine(rep.Sources, DingTalkMD, 0); l != "" {
		md += "\n\n" + l
	}
	if o.Numbered && len(rep.Followups) > 0 {
		var b strings.Builder
		b.WriteString("You can also ask (reply with the number):")
		for i, f := range rep.Followups {
			fmt.Fprintf(&b, "\n%d. %s", i+1, f)
		}
		md += "\n\n" + b.String()
	}
	// Split the Markdown with headroom for the markup conversion adds,
	// then check each converted part; one still too long is sent plain.
	var out []string
	for _, p := range Split(md, o.Limit*8/10, o.Measure) {
		c := Convert(p, o.Style)
		if o.Measure(c) <= o.Limit {
			out = append(out, c)
			continue
		}
		out = append(out, Split(Convert(p, Plain), o.Limit, o.Measure)...)
	}
	return out
}
