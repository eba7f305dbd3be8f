package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"atoll/internal/ollamafake"
	"atoll/knowledge"
	"atoll/store"
)

type ingestEmitter struct {
	mu   sync.Mutex
	done []knowledge.Summary
}

func (e *ingestEmitter) Emit(name string, payload any) {
	if name == EventIngestDone {
		e.mu.Lock()
		e.done = append(e.done, payload.(knowledge.Summary))
		e.mu.Unlock()
	}
}

func (e *ingestEmitter) wait(t *testing.T, n int) knowledge.Summary {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		e.mu.Lock()
		if len(e.done) >= n {
			s := e.done[n-1]
			e.mu.Unlock()
			return s
		}
		e.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("ingest %d did not finish", n)
	return knowledge.Summary{}
}

func grayPNG(t *testing.T, path string, w, h int, y uint8) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = y
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestOCRModelEngine: the Models screen's OCR engine. Only installed vision
// models are offered and accepted; with one chosen, an image added to a
// knowledge base is read by it (Tesseract is not on PATH); while it cannot
// be reached the document and the knowledge base count the pages waiting
// for OCR; the choice survives a restart; "" goes back to Tesseract.
func TestOCRModelEngine(t *testing.T) {
	fake := ollamafake.New(t)
	dir, files := t.TempDir(), t.TempDir()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("PATH", t.TempDir()) // no Tesseract
	rec := &ingestEmitter{}
	a, err := New(Config{DataDir: dir, OllamaURL: fake.URL}, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := a.OCREngines()
	if err != nil || e.Model != "" || len(e.Vision) != 0 || e.Tesseract != "" {
		t.Fatalf("before any vision model: %+v %v", e, err)
	}
	fake.AddModel(ollamafake.VisionModel("fake-vision"))
	if e, _ = a.OCREngines(); strings.Join(e.Vision, ",") != "fake-vision:latest" {
		t.Fatalf("vision models %v", e.Vision)
	}
	if _, err := a.SetOCRModel(ollamafake.DefaultChatModel); err == nil || !strings.Contains(err.Error(), "cannot read images") {
		t.Fatalf("a model without vision: %v", err)
	}
	if _, err := a.SetOCRModel("missing-model"); err == nil || !strings.Contains(err.Error(), "missing-model") {
		t.Fatalf("a missing model: %v", err)
	}
	if e, err = a.SetOCRModel("fake-vision:latest"); err != nil || e.Model != "fake-vision:latest" {
		t.Fatalf("SetOCRModel: %+v %v", e, err)
	}

	photo := filepath.Join(files, "hours.png")
	grayPNG(t, photo, 40, 40, 250)
	fake.OnChat(func(r ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Text: "Status 503", Status: 503, Error: "server busy"}
	})
	if _, err := a.Ingest("shop", []string{photo}); err != nil {
		t.Fatal(err)
	}
	sum := rec.wait(t, 1)
	if sum.OCRPending != 1 || !strings.Contains(sum.OCRPendingWhy, "fake-vision") {
		t.Fatalf("while the model fails: %+v", sum)
	}
	docs, _ := a.ListDocuments("shop")
	kb, _ := a.kbView("shop")
	if len(docs) != 1 || docs[0].OCRPending != 1 || kb.OCRPending != 1 || !strings.Contains(kb.OCRPendingWhy, "waiting for OCR") {
		t.Fatalf("docs %+v, kb %+v", docs, kb)
	}

	fake.OnChat(func(r ollamafake.ChatRequest) ollamafake.Reply {
		return ollamafake.Reply{Text: "Open Monday to Friday, eight to six."}
	})
	if _, err := a.Ingest("shop", []string{photo}); err != nil {
		t.Fatal(err)
	}
	if sum = rec.wait(t, 2); sum.OCRPending != 0 || sum.OK != 1 {
		t.Fatalf("with the model: %+v", sum)
	}
	hits, err := a.Search("shop", "Monday Friday", 3)
	if err != nil || len(hits) == 0 || hits[0].Source != photo {
		t.Fatalf("hits %+v %v", hits, err)
	}
	if docs, _ = a.ListDocuments("shop"); docs[0].OCRPending != 0 {
		t.Fatalf("docs %+v", docs)
	}
	last := fake.Chats()[len(fake.Chats())-1]
	if last.Model != "fake-vision:latest" || len(last.Messages) != 1 || len(last.Messages[0].Images) != 1 {
		t.Fatalf("the photo was not sent to the vision model: %+v", last)
	}
	a.Close()

	a, err = New(Config{DataDir: dir, OllamaURL: fake.URL}, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if s, _ := a.GetSettings(); s.OCRModel != "fake-vision:latest" {
		t.Fatalf("after a restart: %+v", s)
	}
	if e, err = a.SetOCRModel(""); err != nil || e.Model != "" {
		t.Fatalf("back to Tesseract: %+v %v", e, err)
	}
	if a.ingesterNow().OCR.Vision != nil {
		t.Fatal("the ingester still reads with the vision model")
	}
}

// TestSourceImageTIFF: a cited TIFF is previewed as PNG, each page of a
// multi-page TIFF on its own, so the panel can draw the boxes on it.
func TestSourceImageTIFF(t *testing.T) {
	fake := ollamafake.New(t)
	dir, files := t.TempDir(), t.TempDir()
	a1, a2 := filepath.Join(files, "a.png"), filepath.Join(files, "b.png")
	grayPNG(t, a1, 30, 20, 0)
	grayPNG(t, a2, 25, 35, 255)
	tif := filepath.Join(files, "contract.tif")
	convert := "/usr/bin/convert" // a stand-in may shadow ImageMagick on PATH
	if _, err := os.Stat(convert); err != nil {
		convert = "convert"
	}
	if out, err := exec.Command(convert, a1, a2, "-compress", "zip", tif).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	b, _ := os.ReadFile(tif)
	sum := sha256.Sum256(b)
	st, _ := store.Open(dir)
	st.Create("kb", "")
	kb, _ := st.KB("kb")
	kb.Put(store.Doc{Path: tif, Format: "image", Size: int64(len(b)), Hash: hex.EncodeToString(sum[:]), Status: store.StatusOK, Pages: 2, Chunks: []store.Chunk{{Text: "x"}}})
	st.Close()
	a, err := New(Config{DataDir: dir, OllamaURL: fake.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for page, want := range map[int]color.Gray{1: {0}, 2: {255}} {
		u, err := a.SourceImagePage(tif, page)
		if err != nil || !strings.HasPrefix(u, "data:image/png;base64,") {
			t.Fatalf("page %d: %.40q %v", page, u, err)
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(u, "data:image/png;base64,"))
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		w := map[int]int{1: 30, 2: 25}[page]
		if img.Bounds().Dx() != w || color.GrayModel.Convert(img.At(3, 3)).(color.Gray) != want {
			t.Fatalf("page %d: %v, pixel %v", page, img.Bounds(), img.At(3, 3))
		}
	}
	if u, err := a.SourceImage(tif); err != nil || !strings.HasPrefix(u, "data:image/png;base64,") {
		t.Fatalf("SourceImage of a TIFF: %.40q %v", u, err)
	}
	if _, err := a.SourceImagePage(tif, 3); err == nil || !strings.Contains(err.Error(), "cannot be previewed") {
		t.Fatalf("page 3 of 2: %v", err)
	}
}
