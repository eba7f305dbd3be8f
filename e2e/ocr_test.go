package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"atoll/agent"
	"atoll/ingest"
	"atoll/internal/ollamafake"
	"atoll/knowledge"
	"atoll/store"
)

// ocrScan renders one line of text as a 300 dpi scan with ImageMagick.
func ocrScan(t *testing.T, dir, name, text string) string {
	t.Helper()
	convert := "/usr/bin/convert" // a stand-in may shadow ImageMagick on PATH
	if _, err := os.Stat(convert); err != nil {
		convert = "convert"
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(convert, "-units", "PixelsPerInch", "-density", "300", "-size", "2100x", "-background", "white", "-fill", "black",
		"-font", "DejaVu-Serif", "-pointsize", "12", "caption:"+text, "-bordercolor", "white", "-border", "150", "-rotate", "0.6", "-flatten",
		"-colorspace", "Gray", "-quality", "85", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("convert: %v\n%s", err, b)
	}
	return out
}

// TestScanCitationHighlighted: a scanned PDF (ImageMagick text → image →
// img2pdf) and a photo are ingested with OCR; asked about them, the answer
// cites the scan, and the citation panel shows the page with the passage's
// boxes drawn on it; the photo's citation shows the photo with its boxes.
// Then a photo attached to a question reaches a model without vision as
// OCR'd text, and the answer says so.
func TestScanCitationHighlighted(t *testing.T) {
	for _, p := range []string{"tesseract", "img2pdf", "pdfimages"} {
		if _, err := exec.LookPath(p); err != nil {
			need(t, p+" is not installed")
		}
	}
	fake := ollamafake.New(t)
	files := t.TempDir()
	scanText := "The harbour ferry leaves at nine fifteen every Tuesday morning from the north pier."
	photoText := "Lighthouse tickets cost seven euros for adults and three euros for children."
	pdf := filepath.Join(files, "timetable.pdf")
	if b, err := exec.Command("img2pdf", "-o", pdf, ocrScan(t, t.TempDir(), "page.jpg", scanText)).CombinedOutput(); err != nil {
		t.Fatalf("img2pdf: %v\n%s", err, b)
	}
	photo := ocrScan(t, files, "prices.png", photoText)
	question := ocrScan(t, t.TempDir(), "question.png", "Opening hours of the fish market: six to noon, closed on Sundays.")
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)

	e := start(t, fake.URL, func(data string) {
		st, err := store.Open(data)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		in := knowledge.New(st, nil)
		in.OCR = ingest.OCR{CacheDir: filepath.Join(cache, "atoll", "ocr")}
		sum, err := in.Run(context.Background(), "seed", "port", "", []string{pdf, photo}, nil)
		if err != nil || sum.OK != 2 || sum.OCRPending != 0 {
			t.Fatalf("ingest: %+v %v", sum, err)
		}
		seedAgent(t, data, agent.Definition{Name: "port", Model: ollamafake.DefaultChatModel, KBs: []string{"port"}})
	})

	ask := func(what, q string) {
		t.Helper()
		e.run(what,
			chromedp.WaitEnabled(tid("chat-input")),
			chromedp.SendKeys(tid("chat-input"), q),
			chromedp.WaitEnabled(tid("chat-send")),
			chromedp.SendKeys(tid("chat-input"), kb.Enter),
			waitJS(`(() => { const a = [...document.querySelectorAll('[data-testid="answer"]')].pop(); return !!a && a.dataset.streaming !== 'true' && a.textContent.trim() !== '' })()`),
		)
	}
	openSource := func(what, file string) {
		t.Helper()
		e.run(what,
			chromedp.Click(chromedp.Search(`(//button[starts-with(@data-testid, "source-")][contains(., "`+file+`")])[last()]`)),
			waitText(tid("cite-source"), func(s string) bool { return s == file }, nil),
		)
	}

	fake.Script(ollamafake.Reply{Text: "It leaves at nine fifteen [1]."})
	e.run("open chat", chromedp.Navigate(e.url+"/#/chat"))
	ask("ask about the scan", "When does the harbour ferry leave on Tuesday?")
	openSource("open the scan's citation", "timetable.pdf")
	e.run("scan page with boxes",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cite-pdf"][data-state="ready"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cite-pdf"] [data-testid="ocr-box"]`)),
	)
	e.screenshot("chat-scan")
	// The boxes lie on the rendered page, inside it, and cover the text line
	// (the scan's text is in its upper part).
	box := eval[map[string]float64](e, `(() => {
		const page = document.querySelector('[data-testid="cite-pdf"] canvas').getBoundingClientRect();
		const bs = [...document.querySelectorAll('[data-testid="cite-pdf"] [data-testid="ocr-box"]')].map(b => b.getBoundingClientRect());
		return {n: bs.length, pageW: page.width, pageH: page.height,
			left: Math.min(...bs.map(b => b.left)) - page.left, top: Math.min(...bs.map(b => b.top)) - page.top,
			right: Math.max(...bs.map(b => b.right)) - page.left, bottom: Math.max(...bs.map(b => b.bottom)) - page.top,
			width: Math.max(...bs.map(b => b.width))};
	})()`)
	if box["n"] < 1 || box["left"] < 0 || box["top"] < 0 || box["right"] > box["pageW"]+1 || box["bottom"] > box["pageH"]+1 || box["width"] < box["pageW"]/4 {
		t.Errorf("the boxes are not on the scanned line: %v", box)
	}

	fake.Script(ollamafake.Reply{Text: "Adults pay seven euros [1]."})
	ask("ask about the photo", "How much are lighthouse tickets for adults?")
	openSource("open the photo's citation", "prices.png")
	e.run("photo with boxes",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cite-image"][data-state="ready"] img`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cite-image"] [data-testid="ocr-box"]`)),
	)
	e.screenshot("chat-photo")

	// A photo attached to a question: this model cannot see, so OCR reads it.
	fake.Script(ollamafake.Reply{Text: "The fish market is closed on Sundays."})
	e.run("attach a photo",
		chromedp.SetUploadFiles(tid("chat-attach-input"), []string{question}, chromedp.NodeReady),
		waitText(tid("chat-attached"), func(s string) bool { return strings.Contains(s, "question.png") }, nil),
	)
	e.screenshot("chat-attach")
	ask("ask with the photo", "When is the fish market closed?")
	var answer string
	e.run("the answer notes OCR", waitText(chromedp.CSS(`[data-testid="message-assistant"]:last-of-type [data-testid="answer"]`), func(s string) bool {
		return strings.Contains(s, "cannot see images") && strings.Contains(s, "closed on Sundays")
	}, &answer))
	chats := fake.Chats()
	last := chats[len(chats)-1].Messages
	if q := last[len(last)-1].Content; !strings.Contains(q, "When is the fish market closed?") || !strings.Contains(q, "closed on Sundays") || len(last[len(last)-1].Images) != 0 {
		t.Errorf("the model should get the question and the photo's text, not the image: %q", q)
	}
}
