package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// visionStub is a VisionFunc that answers scripted texts in turn and
// records the images it was given.
type visionStub struct {
	mu      sync.Mutex
	answers []string
	err     error
	images  [][]byte
}

func (v *visionStub) read(ctx context.Context, img []byte) (string, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.images = append(v.images, img)
	if v.err != nil {
		return "", v.err
	}
	if len(v.answers) == 0 {
		return "", errors.New("no scripted answer")
	}
	a := v.answers[0]
	v.answers = v.answers[1:]
	return a, nil
}

func (v *visionStub) calls() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.images)
}

func writePNG(t *testing.T, path string, w, h int, c color.Gray) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = c.Y
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestVisionOCRImage: with a vision model set, an image is read by it (not
// Tesseract, which is made unavailable), its answer becomes the text with no
// word boxes, a passage's citation is the whole page, and the result is
// cached per image and model.
func TestVisionOCRImage(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "menu.png")
	writePNG(t, img, 64, 48, color.Gray{Y: 200})
	stub := &visionStub{answers: []string{"```\nLemon tart 4.50\nPlum cake 3.20\n\nOpen daily from seven.\n```", "Other reading"}}
	o := &OCR{CacheDir: filepath.Join(dir, "cache"), Tesseract: filepath.Join(dir, "no-tesseract"), Vision: stub.read, Model: "fake-vision"}
	if v, ok := OCRAvailable(o); !ok || !strings.Contains(v, "fake-vision") {
		t.Fatalf("OCRAvailable with a vision model: %q %v", v, ok)
	}
	doc, err := ExtractWith(context.Background(), img, DefaultLimits(), ExtractOptions{OCR: o})
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Text(); !strings.Contains(got, "Lemon tart 4.50\nPlum cake 3.20") || !strings.Contains(got, "Open daily from seven.") || strings.Contains(got, "```") {
		t.Fatalf("text %q", got)
	}
	if len(doc.Blocks) != 2 || len(doc.OCR) != 1 || doc.OCR[0].Model != "fake-vision" || len(doc.OCR[0].Words) != 0 || doc.OCR[0].Cached {
		t.Fatalf("blocks %d, OCR %+v", len(doc.Blocks), doc.OCR)
	}
	if len(stub.images) != 1 || !bytes.Equal(stub.images[0], mustRead(t, img)) {
		t.Fatalf("the model was not sent the PNG as it is")
	}
	boxes := doc.OCRBoxes(0, 5)
	if len(boxes) != 1 || !boxes[0].PageLevel() || boxes[0].Page != 1 {
		t.Fatalf("boxes %+v, want one page-level box", boxes)
	}
	again, err := ExtractWith(context.Background(), img, DefaultLimits(), ExtractOptions{OCR: o})
	if err != nil {
		t.Fatal(err)
	}
	if stub.calls() != 1 || !again.OCR[0].Cached || again.Text() != doc.Text() {
		t.Fatalf("second read: %d calls, cached %v", stub.calls(), again.OCR[0].Cached)
	}
	// Another model is another reading.
	o2 := *o
	o2.Model = "other-vision"
	other, err := ExtractWith(context.Background(), img, DefaultLimits(), ExtractOptions{OCR: &o2})
	if err != nil {
		t.Fatal(err)
	}
	if stub.calls() != 2 || other.Text() != "Other reading" {
		t.Fatalf("another model: %d calls, text %q", stub.calls(), other.Text())
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVisionOCRPendingThenDone: a vision model that fails leaves the image
// pending with a sentence naming the model; a later run reads it.
func TestVisionOCRPendingThenDone(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "scan.png")
	writePNG(t, img, 32, 32, color.Gray{Y: 255})
	stub := &visionStub{err: errors.New("Ollama is not reachable")}
	o := &OCR{CacheDir: filepath.Join(dir, "cache"), Vision: stub.read, Model: "fake-vision"}
	doc, err := ExtractWith(context.Background(), img, DefaultLimits(), ExtractOptions{OCR: o})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.PendingOCR()) != 1 || len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0], "vision model fake-vision") || !strings.Contains(doc.Warnings[0], "Ollama is not reachable") {
		t.Fatalf("pending %v, warnings %q", doc.PendingOCR(), doc.Warnings)
	}
	if m, _ := filepath.Glob(filepath.Join(o.CacheDir, "*.json")); len(m) != 0 {
		t.Fatalf("a failed reading was cached: %v", m)
	}
	stub.err, stub.answers = nil, []string{"Signed by both parties"}
	doc, err = ExtractWith(context.Background(), img, DefaultLimits(), ExtractOptions{OCR: o})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.PendingOCR()) != 0 || doc.Text() != "Signed by both parties" {
		t.Fatalf("pending %v, text %q", doc.PendingOCR(), doc.Text())
	}
}

// TestVisionOCRMultiPageTIFF: each frame of a TIFF is sent as its own PNG
// (Ollama reads no TIFF) and becomes its own page.
func TestVisionOCRMultiPageTIFF(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	writePNG(t, a, 40, 30, color.Gray{Y: 10})
	writePNG(t, b, 50, 20, color.Gray{Y: 240})
	tif := filepath.Join(dir, "contract.tif")
	runTool(t, dir, "", convertProg(t), a, b, "-compress", "lzw", tif)
	data := mustRead(t, tif)
	if n := ImagePages(data); n != 2 {
		t.Fatalf("ImagePages = %d, want 2", n)
	}
	stub := &visionStub{answers: []string{"First page text", "Second page text"}}
	doc, err := ExtractWith(context.Background(), tif, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: filepath.Join(dir, "cache"), Vision: stub.read, Model: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Pages != 2 || len(doc.Blocks) != 2 || doc.Blocks[1].Page != 2 || doc.Blocks[1].Text != "Second page text" {
		t.Fatalf("pages %d, blocks %+v", doc.Pages, doc.Blocks)
	}
	for i, want := range []image.Point{{40, 30}, {50, 20}} {
		cfg, err := png.DecodeConfig(bytes.NewReader(stub.images[i]))
		if err != nil || cfg.Width != want.X || cfg.Height != want.Y {
			t.Fatalf("image %d sent: %v %dx%d, want a %v PNG", i, err, cfg.Width, cfg.Height, want)
		}
	}
	if boxes := doc.OCRBoxes(len([]rune(doc.Blocks[0].Text))+2, len([]rune(doc.Text()))); len(boxes) != 1 || boxes[0].Page != 2 {
		t.Fatalf("boxes of the second page's passage: %+v", boxes)
	}
}

// TestImagePNG: a TIFF page converts to PNG for display; a TIFF whose
// directory chain loops is one page; an image claiming more pixels than
// the bound is refused before it is decoded.
func TestImagePNG(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "p.png")
	writePNG(t, src, 30, 20, color.Gray{Y: 128})
	tif := filepath.Join(dir, "p.tif")
	runTool(t, dir, "", convertProg(t), src, tif)
	data := mustRead(t, tif)
	out, err := ImagePNG(data, 1)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(out)); err != nil || cfg.Width != 30 || cfg.Height != 20 {
		t.Fatalf("PNG of the TIFF: %v %+v", err, cfg)
	}
	if _, err := ImagePNG(data, 2); err == nil || !strings.Contains(err.Error(), "1 pages, not page 2") {
		t.Fatalf("page 2 of a one-page TIFF: %v", err)
	}
	// Grey with an alpha channel is a TIFF x/image/tiff does not read:
	// the sentence says the TIFF could not be converted, not that it is
	// no image.
	alpha := filepath.Join(dir, "alpha.tif")
	runTool(t, dir, "", convertProg(t), "-size", "20x10", "xc:white", "-colorspace", "Gray", "-alpha", "set", "-compress", "lzw", alpha)
	if _, err := ImagePNG(mustRead(t, alpha), 1); err == nil || !strings.Contains(err.Error(), "the TIFF could not be converted") {
		t.Fatalf("a grey+alpha TIFF: %v", err)
	}
	// Point the first directory's "next" at itself.
	offs, order := tiffIFDs(data)
	loop := bytes.Clone(data)
	n := int(order.Uint16(loop[offs[0]:]))
	order.PutUint32(loop[int(offs[0])+2+12*n:], offs[0])
	if got := ImagePages(loop); got != 1 {
		t.Fatalf("a looping TIFF has %d pages, want 1", got)
	}
	// A PNG header claiming 100000×100000 pixels.
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	huge := b.Bytes()
	order2 := []byte{0, 1, 0x86, 0xa0} // 100000, big-endian
	copy(huge[16:20], order2)
	copy(huge[20:24], order2)
	binary.BigEndian.PutUint32(huge[29:33], crc32.ChecksumIEEE(huge[12:29]))
	if _, err := ImagePNG(huge, 1); err == nil || !strings.Contains(err.Error(), "megapixels") {
		t.Fatalf("an oversized image: %v", err)
	}
}

// TestVisionOCRScannedPDF: in a PDF mixing a text page and a scanned page,
// the scan is read by the vision model and its passages cite page 2 as a
// whole.
func TestVisionOCRScannedPDF(t *testing.T) {
	dir := t.TempDir()
	path := scannedPDF(t, dir, "ts")
	stub := &visionStub{answers: []string{"The scanned page says the shop closes at nine."}}
	doc, err := ExtractWith(context.Background(), path, DefaultLimits(), ExtractOptions{OCR: &OCR{CacheDir: filepath.Join(dir, "cache"), Tesseract: filepath.Join(dir, "none"), Vision: stub.read, Model: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	if stub.calls() != 1 || !strings.Contains(doc.Text(), "bakery opens at seven") || !strings.Contains(doc.Text(), "closes at nine") {
		t.Fatalf("%d calls, text %q", stub.calls(), doc.Text())
	}
	if !bytes.HasPrefix(stub.images[0], []byte("\xff\xd8\xff")) && !bytes.HasPrefix(stub.images[0], []byte("\x89PNG")) {
		t.Fatalf("the model was sent neither PNG nor JPEG")
	}
	runes := []rune(doc.Text())
	at := strings.Index(doc.Text(), "closes at nine")
	start := len([]rune(doc.Text()[:at]))
	if boxes := doc.OCRBoxes(start, start+5); len(boxes) != 1 || boxes[0].Page != 2 || !boxes[0].PageLevel() {
		t.Fatalf("boxes %+v", boxes)
	}
	if boxes := doc.OCRBoxes(0, 5); len(boxes) != 0 {
		t.Fatalf("the text page got boxes: %+v (%d runes)", boxes, len(runes))
	}
}
