package knowledge

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"atoll/ingest"
	"atoll/internal/ollamafake"
	"atoll/llm"
	"atoll/rag"
	"atoll/store"
)

func pngFile(t *testing.T, path string, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestVisionOCREngine: with an Ollama vision model as the OCR engine, a
// photo is sent to it (chat with the image and the transcription prompt,
// temperature 0), its answer is searchable, the hit cites page 1 as a whole
// (no word boxes), and a file that was read is not sent again. While the
// model cannot read, the photo waits for OCR and a later run reads it.
func TestVisionOCREngine(t *testing.T) {
	fake := ollamafake.New(t)
	fake.AddModel(ollamafake.VisionModel("fake-vision"))
	client, err := llm.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	docs, data := t.TempDir(), t.TempDir()
	photo := filepath.Join(docs, "prices.png")
	raw := pngFile(t, photo, 80, 60)
	st, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in := New(st, nil)
	in.OCR = ingest.OCR{CacheDir: t.TempDir(), Tesseract: filepath.Join(docs, "no-tesseract"), Vision: VisionOCR(client, "fake-vision"), Model: "fake-vision"}

	// The model is not there yet (pulled later): the photo waits.
	fake.RemoveModel("fake-vision")
	sum, err := in.Run(context.Background(), "j1", "kb", "", []string{docs}, nil)
	if err != nil || sum.OCRPending != 1 || !strings.Contains(sum.OCRPendingWhy, "fake-vision") {
		t.Fatalf("without the model: %+v %v", sum, err)
	}

	fake.AddModel(ollamafake.VisionModel("fake-vision"))
	fake.Script(ollamafake.Reply{Text: "Croissant 1.20 euros\nBaguette 1.10 euros\n\nOpen Tuesday to Sunday."})
	before := len(fake.Chats())
	sum, err = in.Run(context.Background(), "j2", "kb", "", []string{docs}, nil)
	if err != nil || sum.OCRPending != 0 || sum.OK != 1 {
		t.Fatalf("with the model: %+v %v", sum, err)
	}
	chats := fake.Chats()[before:]
	if len(chats) != 1 {
		t.Fatalf("%d chats, want 1", len(chats))
	}
	c := chats[0]
	if c.Model != "fake-vision" || len(c.Messages) != 1 || c.Messages[0].Content != VisionPrompt || len(c.Messages[0].Images) != 1 {
		t.Fatalf("request %+v", c)
	}
	if img, _ := base64.StdEncoding.DecodeString(c.Messages[0].Images[0]); !bytes.Equal(img, raw) {
		t.Fatal("the model was not sent the photo")
	}
	if c.Options["temperature"] != 0.0 {
		t.Errorf("temperature %v, want 0", c.Options["temperature"])
	}
	kb, _ := st.KB("kb")
	hits := kb.Search(rag.Query{Text: "Baguette euros", K: 3})
	if len(hits) == 0 || filepath.Base(hits[0].Source) != "prices.png" || hits[0].Page != 1 {
		t.Fatalf("hits %+v", hits)
	}
	if b := hits[0].Boxes; len(b) != 1 || b[0] != (rag.Box{Page: 1, X0: 0, Y0: 0, X1: 1, Y1: 1}) {
		t.Fatalf("boxes %+v, want the whole page", b)
	}
	// Unchanged: not read again.
	sum, err = in.Run(context.Background(), "j3", "kb", "", []string{docs}, nil)
	if err != nil || sum.Skipped != 1 || len(fake.Chats()) != before+1 {
		t.Fatalf("third run: %+v %v, %d chats", sum, err, len(fake.Chats()))
	}
}

// TestVisionOCRRefusedByModel: a model that cannot take images (Ollama's
// runner error) leaves the page pending with Ollama's reason, not a failure.
func TestVisionOCRRefusedByModel(t *testing.T) {
	fake := ollamafake.New(t)
	client, _ := llm.New(fake.URL)
	docs := t.TempDir()
	pngFile(t, filepath.Join(docs, "scan.png"), 10, 10)
	st, _ := store.Open(t.TempDir())
	defer st.Close()
	in := New(st, nil)
	in.OCR = ingest.OCR{CacheDir: t.TempDir(), Vision: VisionOCR(client, ollamafake.DefaultChatModel), Model: ollamafake.DefaultChatModel}
	sum, err := in.Run(context.Background(), "j", "kb", "", []string{docs}, nil)
	if err != nil || sum.Failed != 0 || sum.OCRPending != 1 || !strings.Contains(sum.OCRPendingWhy, "image input") {
		t.Fatalf("%+v %v", sum, err)
	}
}
