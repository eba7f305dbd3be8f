package ingest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The producer corpus is made at test time with the Debian packages that
// real users' PDFs come from, and every file is held to poppler's pdftotext:
// word F1 on whitespace tokens (no NFKC, which would hide radicals standing
// in for Han characters), CJK character F1 on raw characters, and no page
// left empty where pdftotext finds text.

// requireTools fails under ATOLL_REQUIRE_PDFTOTEXT=1 (make test installs the
// tools) and skips elsewhere.
func requireTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("ATOLL_REQUIRE_PDFTOTEXT") == "1" {
				tb.Fatalf("%s is required here (make test installs it: see scripts/setup.sh)", tool)
			}
			tb.Skipf("%s is not installed", tool)
		}
	}
}

func runTool(tb testing.TB, dir, stdin string, name string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

type producer struct {
	name  string
	tools []string
	make  func(tb testing.TB, dir string) string // returns the PDF's path
}

func chromiumPDF(tb testing.TB, dir, name, html string) string {
	src := filepath.Join(dir, name+".html")
	out := filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(src, []byte(html), 0o644); err != nil {
		tb.Fatal(err)
	}
	runTool(tb, dir, "", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-zygote",
		"--user-data-dir="+filepath.Join(dir, "chromium-"+name), "--no-pdf-header-footer",
		"--print-to-pdf="+out, "file://"+src)
	return out
}

// zhText has the characters Noto CJK draws with radical-mapped glyphs
// (长 户 高 见 青 风 用 文 一) many times over.
const zhText = `长江是中国最长的河流，发源于青海省的高原。用户在网站上看见长江和青海的风景照片，觉得非常漂亮。` +
	`这个文件用于检查中文文字的提取是否正确：每一个汉字都应当原样保留，不能变成部首。` +
	`高山上的户外活动很受欢迎，许多用户每年都会去青海看湖，看见成群的飞鸟。` +
	`本地优先的软件把数据保存在用户自己的设备上，隐私因此得到保护，网络断开时也能正常工作。`

func zhHTML(font string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `<html><head><meta charset="utf-8"><style>body{font-family:%q;font-size:15px}</style></head><body><h1>长江与青海：用户看见的高原</h1>`, font)
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&sb, "<p>第%d段。%s</p>\n", i+1, zhText)
	}
	sb.WriteString("<p>Mixed English words: Atoll reads PDF files locally.</p></body></html>")
	return sb.String()
}

// manPage is a man page in the style of bash(1), so groff sets the words
// that came out as "Bashisansh-compatible" and "Softw are F oundation".
const manPage = `.TH BASHLIKE 1 "2024-01-01" "GNU" "User Commands"
.SH NAME
bashlike \- GNU Bourne-Again SHell look-alike
.SH SYNOPSIS
.B bashlike
[options] [command_string | file]
.SH COPYRIGHT
Bash is Copyright (C) 1989-2022 by the Free Software Foundation, Inc.
.SH DESCRIPTION
.B Bash
is an sh-compatible command language interpreter that executes commands read
from the standard input or from a file.
.B Bash
also incorporates useful features from the Korn and C shells (ksh and csh).
.PP
Bash is intended to be a conformant implementation of the Shell and Utilities
portion of the IEEE POSIX specification (IEEE Standard 1003.1).
.SH OPTIONS
All of the single-character shell options documented in the description of
the set builtin command, including \-o, can be used as options when the shell
is invoked.
.TP
.B \-c
If the \-c option is present, then commands are read from the first non-option
argument command_string.
.TP
.B \-i
If the \-i option is present, the shell is interactive.
.TP
.B \-\-login
Make bash act as if it had been invoked as a login shell; efficient, affine,
office and waffle are words with ligatures.
.SH ENVIRONMENT
When a program is invoked it is given an array of strings called the
environment. This is a list of name-value pairs, of the form name=value.
`

var producers = []producer{
	{"chromium-noto-cjk", []string{"chromium"}, func(tb testing.TB, dir string) string {
		return chromiumPDF(tb, dir, "noto", zhHTML("Noto Sans CJK SC"))
	}},
	{"chromium-wqy-zenhei", []string{"chromium"}, func(tb testing.TB, dir string) string {
		return chromiumPDF(tb, dir, "wqy", zhHTML("WenQuanYi Zen Hei"))
	}},
	{"chromium-repeated-paragraphs", []string{"chromium"}, func(tb testing.TB, dir string) string {
		// Boilerplate paragraphs that start every page at the same height
		// (body text, not running headers), and a last page holding only
		// two of them.
		paras := []string{
			"Chapter notes repeat here so that the same paragraph appears on many pages of this long report.",
			"The committee reviewed the budget and agreed to keep the reserve at its current level for another year.",
			"Every section ends with the same reminder: keep receipts for all travel and equipment purchases.",
		}
		var sb strings.Builder
		sb.WriteString(`<html><head><meta charset="utf-8"><style>p{margin:0 0 8px 0;font-size:14px}</style></head><body>`)
		for i := 0; i < 360; i++ {
			fmt.Fprintf(&sb, "<p>%s</p>\n", paras[i%3])
		}
		fmt.Fprintf(&sb, `<p style="page-break-before:always">%s</p><p>%s</p></body></html>`, paras[0], paras[2])
		return chromiumPDF(tb, dir, "repeated", sb.String())
	}},
	{"groff-man", []string{"groff"}, func(tb testing.TB, dir string) string {
		out := filepath.Join(dir, "man.pdf")
		runTool(tb, dir, manPage, "sh", "-c", "groff -man -Tpdf > man.pdf")
		return out
	}},
	{"ghostscript-ps2pdf", []string{"groff", "ps2pdf"}, func(tb testing.TB, dir string) string {
		runTool(tb, dir, manPage, "sh", "-c", "groff -man -Tps | ps2pdf - gs.pdf")
		return filepath.Join(dir, "gs.pdf")
	}},
	{"pdftocairo", []string{"chromium", "pdftocairo"}, func(tb testing.TB, dir string) string {
		// cairo rewrites Chromium's file without its ActualText: the
		// radicals are then in the file itself, for pdftotext too.
		src := chromiumPDF(tb, dir, "cairo-src", zhHTML("WenQuanYi Zen Hei"))
		out := filepath.Join(dir, "cairo.pdf")
		runTool(tb, dir, "", "pdftocairo", "-pdf", src, out)
		return out
	}},
	{"wkhtmltopdf", []string{"wkhtmltopdf"}, func(tb testing.TB, dir string) string {
		// A bold face the font lacks makes Qt draw every run twice.
		html := `<html><head><meta charset="utf-8"><style>body{font-family:"WenQuanYi Zen Hei"} h2,b{font-weight:bold}</style></head><body>
<h1>Quarterly Report</h1><h2>Cost Breakdown</h2>
<p>The project spent most of its budget on <b>hardware and travel</b> during the first quarter of the year.</p>
<table border="1"><tr><th>Item</th><th>Cost</th></tr><tr><td>Laptop</td><td>1200</td></tr><tr><td><b>Travel</b></td><td>800</td></tr></table>
<h2>Next Steps</h2><p><b>Bold words</b> and plain words appear in this paragraph, with <b>中文粗体</b> too.</p></body></html>`
		src := filepath.Join(dir, "wk.html")
		if err := os.WriteFile(src, []byte(html), 0o644); err != nil {
			tb.Fatal(err)
		}
		runTool(tb, dir, "", "wkhtmltopdf", "-q", src, filepath.Join(dir, "wk.pdf"))
		return filepath.Join(dir, "wk.pdf")
	}},
}

// isCJKChar: Han, the radical blocks (what a wrong glyph map yields),
// CJK punctuation and full-width forms.
func isCJKChar(r rune) bool {
	return unicode.Is(unicode.Han, r) || (r >= 0x2E80 && r <= 0x2FDF) || (r >= 0x3000 && r <= 0x303F) || (r >= 0xFF00 && r <= 0xFFEF)
}

func bagF1(a, b map[string]int) float64 {
	na, nb, common := 0, 0, 0
	for w, n := range a {
		na += n
		common += min(n, b[w])
	}
	for _, n := range b {
		nb += n
	}
	if na == 0 && nb == 0 {
		return 1
	}
	if common == 0 {
		return 0
	}
	p, r := float64(common)/float64(na), float64(common)/float64(nb)
	return 2 * p * r / (p + r)
}

// wsWordF1 compares whitespace-separated tokens as they are (CJK
// characters are left to cjkCharF1: line breaks split them differently).
func wsWordF1(a, b string) float64 {
	bag := func(s string) map[string]int {
		m := map[string]int{}
		for _, w := range strings.Fields(strings.Map(func(r rune) rune {
			if isCJKChar(r) {
				return ' '
			}
			return r
		}, s)) {
			m[w]++
		}
		return m
	}
	return bagF1(bag(a), bag(b))
}

func cjkCharF1(a, b string) (float64, int) {
	bag := func(s string) (map[string]int, int) {
		m, n := map[string]int{}, 0
		for _, r := range s {
			if isCJKChar(r) {
				m[string(r)]++
				n++
			}
		}
		return m, n
	}
	ba, _ := bag(a)
	bb, n := bag(b)
	return bagF1(ba, bb), n
}

type producerScore struct {
	pages       int
	wordF1, cjk float64
	cjkChars    int
	emptyPages  []int
}

func scoreAgainstPdftotext(tb testing.TB, path string, doc *Document) producerScore {
	ref := pdftotext(tb, path)
	refPages := strings.Split(ref, "\f")
	ours := make([]strings.Builder, doc.Pages+1)
	for _, b := range doc.Blocks {
		if b.Page >= 1 && b.Page <= doc.Pages {
			ours[b.Page].WriteString(b.Text + "\n")
		}
	}
	s := producerScore{pages: doc.Pages, wordF1: wsWordF1(doc.Text(), ref)}
	s.cjk, s.cjkChars = cjkCharF1(doc.Text(), ref)
	for i, p := range refPages {
		if i+1 <= doc.Pages && strings.TrimSpace(p) != "" && strings.TrimSpace(ours[i+1].String()) == "" {
			s.emptyPages = append(s.emptyPages, i+1)
		}
	}
	return s
}

func TestPDFProducers(t *testing.T) {
	requireTools(t, "pdftotext")
	for _, p := range producers {
		t.Run(p.name, func(t *testing.T) {
			requireTools(t, p.tools...)
			path := p.make(t, t.TempDir())
			doc, err := Extract(context.Background(), path, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			s := scoreAgainstPdftotext(t, path, doc)
			t.Logf("%s: %d pages, word F1 %.4f, CJK F1 %.4f (%d CJK chars)", p.name, s.pages, s.wordF1, s.cjk, s.cjkChars)
			if s.wordF1 < 0.98 {
				t.Errorf("word F1 %.4f < 0.98 against pdftotext", s.wordF1)
			}
			if s.cjkChars > 0 && s.cjk < 0.99 {
				t.Errorf("CJK character F1 %.4f < 0.99 against pdftotext", s.cjk)
			}
			if len(s.emptyPages) > 0 {
				t.Errorf("pages %v came back empty; pdftotext has text there", s.emptyPages)
			}
			text := doc.Text()
			switch p.name {
			case "chromium-noto-cjk", "chromium-wqy-zenhei":
				for _, q := range []string{"长江", "青海", "看见", "用户", "高原", "风景"} {
					if !strings.Contains(text, q) {
						t.Errorf("%q is not in the text", q)
					}
				}
				if i := strings.IndexFunc(text, func(r rune) bool { return r >= 0x2E80 && r <= 0x2FDF }); i >= 0 {
					t.Errorf("a radical stands for a character: %q", text[max(0, i-12):min(len(text), i+12)])
				}
			case "groff-man":
				for _, q := range []string{"Bash is an sh-compatible command", "Free Software Foundation"} {
					if !strings.Contains(text, q) {
						t.Errorf("%q is not in the text", q)
					}
				}
			case "wkhtmltopdf":
				for _, q := range []string{"Cost Breakdown Cost", "Bold words Bold", "Travel Travel", "中文粗体中文"} {
					if strings.Contains(text, q) {
						t.Errorf("duplicated run %q in the text", q)
					}
				}
			}
		})
	}
}

// BenchmarkPDFProducers prints one row per producer: pages, the time ratio
// to pdftotext on the same file, word F1 and CJK F1.
//
//	go test ./ingest -run '^$' -bench PDFProducers -benchtime 5x
func BenchmarkPDFProducers(b *testing.B) {
	requireTools(b, "pdftotext")
	dir := b.TempDir()
	for _, p := range producers {
		b.Run(p.name, func(b *testing.B) {
			requireTools(b, p.tools...)
			path := p.make(b, dir)
			var ours, ref time.Duration
			var doc *Document
			for b.Loop() {
				t0 := time.Now()
				var err error
				if doc, err = Extract(context.Background(), path, DefaultLimits()); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := exec.Command("pdftotext", "-enc", "UTF-8", path, os.DevNull).Run(); err != nil {
					b.Fatal(err)
				}
				ours += t1.Sub(t0)
				ref += time.Since(t1)
			}
			s := scoreAgainstPdftotext(b, path, doc)
			b.ReportMetric(float64(s.pages), "pages")
			b.ReportMetric(float64(ours)/float64(ref), "x-pdftotext")
			b.ReportMetric(s.wordF1, "wordF1")
			b.ReportMetric(s.cjk, "cjkF1")
		})
	}
}
