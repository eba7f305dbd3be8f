package format

import (
	"strings"
	"testing"

	"atoll/channels"
)

func TestConvertStyles(t *testing.T) {
	md := "## Opening hours\n**Mon–Fri** 8–18, *closed* on ~~Sunday~~ [map](https://ex.com/a_b?x=1&y=2)\n- bread & <cakes>\n`a*b*c`"
	cases := map[Style]string{
		Plain:        "Opening hours\nMon–Fri 8–18, closed on Sunday map (https://ex.com/a_b?x=1&y=2)\n• bread & <cakes>\na*b*c",
		TelegramHTML: "<b>Opening hours</b>\n<b>Mon–Fri</b> 8–18, <i>closed</i> on <s>Sunday</s> <a href=\"https://ex.com/a_b?x=1&amp;y=2\">map</a>\n• bread &amp; &lt;cakes&gt;\n<code>a*b*c</code>",
		SlackMrkdwn:  "*Opening hours*\n*Mon–Fri* 8–18, _closed_ on ~Sunday~ <https://ex.com/a_b?x=1&y=2|map>\n• bread &amp; &lt;cakes&gt;\n`a*b*c`",
		WhatsApp:     "*Opening hours*\n*Mon–Fri* 8–18, _closed_ on ~Sunday~ map (https://ex.com/a_b?x=1&y=2)\n• bread & <cakes>\n`a*b*c`",
		LarkMD:       "**Opening hours**\n**Mon–Fri** 8–18, *closed* on ~~Sunday~~ [map](https://ex.com/a_b?x=1&y=2)\n- bread & <cakes>\n`a*b*c`",
		DingTalkMD:   md,
	}
	for st, want := range cases {
		if got := Convert(md, st); got != want {
			t.Errorf("style %d:\n got %q\nwant %q", st, got, want)
		}
	}
}

func TestConvertCodeFence(t *testing.T) {
	md := "Run:\n```\nx := a < b && *p\n```\ndone"
	if got := Convert(md, TelegramHTML); got != "Run:\n<pre>x := a &lt; b &amp;&amp; *p</pre>\ndone" {
		t.Errorf("telegram: %q", got)
	}
	if got := Convert(md, Plain); got != "Run:\nx := a < b && *p\ndone" {
		t.Errorf("plain: %q", got)
	}
}

func TestSplitFitsAndKeepsEverything(t *testing.T) {
	para := strings.Repeat("面包 bread ", 300) // mixed widths
	text := para + "\n\n" + "```\n" + strings.Repeat("code line\n", 200) + "```\n" + para
	for _, m := range []struct {
		name  string
		limit int
		f     Measure
	}{{"bytes", 2048, Bytes}, {"runes", 1000, Runes}, {"utf16", 4096, UTF16}} {
		parts := Split(text, m.limit, m.f)
		if len(parts) < 2 {
			t.Fatalf("%s: %d parts", m.name, len(parts))
		}
		var words int
		for _, p := range parts {
			if m.f(p) > m.limit {
				t.Errorf("%s: a part of %d > %d", m.name, m.f(p), m.limit)
			}
			if strings.Count(p, "```")%2 != 0 {
				t.Errorf("%s: a part leaves a code fence open", m.name)
			}
			words += strings.Count(p, "bread") + strings.Count(p, "code line")
		}
		if words != 800 {
			t.Errorf("%s: %d words survived the split, want 800", m.name, words)
		}
	}
	if got := Split("short", 10, Runes); len(got) != 1 || got[0] != "short" {
		t.Errorf("short text: %q", got)
	}
}

func TestPartsAddsSourcesAndNumbers(t *testing.T) {
	rep := channels.Reply{Text: "We open at **8**.", Sources: []channels.Source{{Title: "hours.pdf", Page: 2}, {Title: "hours.pdf", Page: 2}, {Title: "faq.md", URL: "https://hub/p/1"}},
		Followups: []string{"Do you deliver?", "Gluten free?"}}
	got := Parts(rep, Options{Style: SlackMrkdwn, Limit: 3000, Numbered: true})
	want := "We open at *8*.\n\nSources: hours.pdf p. 2; <https://hub/p/1|faq.md>\n\nYou can also ask (reply with the number):\n1. Do you deliver?\n2. Gluten free?"
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	long := channels.Reply{Text: strings.Repeat("**bold** & <x> ", 2000)}
	for _, p := range Parts(long, Options{Style: TelegramHTML, Limit: 4096, Measure: UTF16}) {
		if UTF16(p) > 4096 {
			t.Errorf("a telegram part is %d long", UTF16(p))
		}
		if strings.Count(p, "<b>") != strings.Count(p, "</b>") {
			t.Errorf("a telegram part has unbalanced tags")
		}
	}
}
