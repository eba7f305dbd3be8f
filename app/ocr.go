package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"atoll/ingest"
	"atoll/knowledge"
	"atoll/llm"
	"atoll/store"
)

// ocrLangs are the OCR languages a knowledge base may be set to; "" (or
// "auto") picks per page from the script Tesseract sees.
var ocrLangs = map[string]bool{"": true, "auto": true, "eng": true, "chi_sim": true, "eng+chi_sim": true, "chi_sim+eng": true}

// SetKBOCRLang sets the OCR language of a knowledge base, creating it if
// missing (the command line sets it before the first ingest).
func SetKBOCRLang(st *store.Store, kbName, lang string) error {
	if !ocrLangs[lang] {
		return fmt.Errorf("the OCR language %q is not one Atoll reads: choose eng, chi_sim, eng+chi_sim or auto", lang)
	}
	if lang == "auto" {
		lang = ""
	}
	if _, err := st.Create(kbName, ""); err != nil {
		return err
	}
	kb, err := st.KB(kbName)
	if err != nil {
		return userError(err)
	}
	return kb.SetOCRLang(lang)
}

// SetOCRLang sets the language of a knowledge base's scans and photos for
// the files read next: "eng", "chi_sim", "eng+chi_sim", or "" for auto.
func (a *App) SetOCRLang(kbName, lang string) (KB, error) {
	if _, err := a.store.KB(kbName); err != nil {
		return KB{}, userError(err)
	}
	if err := SetKBOCRLang(a.store, kbName, lang); err != nil {
		return KB{}, err
	}
	return a.kbView(kbName)
}

// OCRLang returns a knowledge base's OCR language ("" is auto).
func (a *App) OCRLang(kbName string) (string, error) {
	kb, err := a.store.KB(kbName)
	if err != nil {
		return "", userError(err)
	}
	return kb.Meta().OCRLang, nil
}

// SourceImage returns an ingested image file as a data: URL for the
// citation panel, which draws the passage's boxes on it. Only documents of
// a knowledge base are served, as for SourcePDF.
func (a *App) SourceImage(path string) (string, error) { return a.SourceImagePage(path, 1) }

// SourceImagePage is SourceImage for page (from 1) of a multi-page TIFF.
// Browsers cannot show TIFF, so a TIFF page is converted to PNG here.
func (a *App) SourceImagePage(path string, page int) (string, error) {
	b, err := a.sourceFile(path, "image")
	if err != nil {
		return "", err
	}
	if page < 1 {
		page = 1
	}
	mime := http.DetectContentType(b)
	if bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")) || page > 1 {
		png, err := ingest.ImagePNG(b, page)
		if err != nil {
			return "", fmt.Errorf("%s cannot be previewed here (%v); the passage text is still shown", filepath.Base(path), err)
		}
		b, mime = png, "image/png"
	}
	if !strings.HasPrefix(mime, "image/") {
		return "", fmt.Errorf("%s cannot be previewed here; the passage text is still shown", filepath.Base(path))
	}
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b), nil
}

// ocrEngine is the OCR configuration for the settings' engine: Tesseract,
// or the vision model named (Settings.OCRModel).
func ocrEngine(c *llm.Client, model string) ingest.OCR {
	if model == "" {
		return ingest.OCR{}
	}
	return ingest.OCR{Vision: knowledge.VisionOCR(c, model), Model: model}
}

// checkVisionModel: the model is installed and can see images.
func (a *App) checkVisionModel(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := a.client().Show(ctx, name)
	if err != nil {
		return fmt.Errorf("the OCR model %s cannot be used: %s", name, llm.Sentence(err))
	}
	if !info.Has(llm.CapVision) {
		return fmt.Errorf("%s cannot read images (it has no vision capability): choose a vision model such as qwen2.5vl or llava, or Tesseract", name)
	}
	return nil
}

// SetOCRModel chooses how scans and photos are read from now on: an
// installed Ollama vision model, or "" for Tesseract. Pages already read
// keep their text; pages waiting for OCR are read by the next ingest.
func (a *App) SetOCRModel(name string) (OCREngines, error) {
	s := a.current()
	s.OCRModel = strings.TrimSpace(name)
	if _, err := a.SaveSettings(s); err != nil {
		return OCREngines{}, err
	}
	return a.OCREngines()
}

// ocrPendingWhy is the sentence of a document's warnings that says why its
// pages wait for OCR.
func ocrPendingWhy(warnings []string) string {
	for _, w := range warnings {
		if strings.Contains(w, "waiting for OCR") {
			return w
		}
	}
	return ""
}

// MaxImageBytes bounds an image attached to a question.
const MaxImageBytes = 20 << 20

// AskImage is Ask with a photo attached (a data: URL or plain base64): a
// vision model sees it; any other model gets its text, read by OCR, and the
// answer says so.
func (a *App) AskImage(agentName, conversationID, question, image string) (string, error) {
	img, err := decodeImage(image)
	if err != nil {
		return "", err
	}
	return a.ask(agentName, conversationID, question, [][]byte{img})
}

func decodeImage(s string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(s, "data:"); ok {
		_, data, found := strings.Cut(rest, ";base64,")
		if !found {
			return nil, errors.New("the attached image could not be read: attach it again")
		}
		s = data
	}
	if base64.StdEncoding.DecodedLen(len(s)) > MaxImageBytes+3 {
		return nil, fmt.Errorf("the image is larger than %d MB: attach a smaller one", MaxImageBytes>>20)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("the attached image could not be read: attach it again")
	}
	if !isImage(b) {
		return nil, errors.New("the attachment is not a PNG, JPEG, WebP or TIFF image")
	}
	return b, nil
}

func isImage(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")), bytes.HasPrefix(b, []byte("\xff\xd8\xff")),
		bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return true
	}
	return false
}

// ReadImageText reads an image's text with Tesseract (the chat's OCR for
// models that cannot see images). Missing Tesseract is a sentence saying
// how to install it.
func ReadImageText(ctx context.Context, img []byte) (string, error) {
	return readImageText(ctx, img, ingest.OCR{})
}

// readImageText is ReadImageText with the settings' OCR engine.
func readImageText(ctx context.Context, img []byte, ocr ingest.OCR) (string, error) {
	f, err := os.CreateTemp("", "atoll-chat-image-")
	if err != nil {
		return "", fmt.Errorf("the image could not be saved for OCR: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("the image could not be saved for OCR: %w", err)
	}
	doc, err := ingest.ExtractWith(ctx, f.Name(), ingest.DefaultLimits(), ingest.ExtractOptions{OCR: &ocr})
	if err != nil {
		var fe *ingest.FileError
		if errors.As(err, &fe) {
			return "", fmt.Errorf("the attached image %s", fe.Reason)
		}
		return "", err
	}
	if len(doc.PendingOCR()) > 0 {
		return "", fmt.Errorf("this model cannot see images and the image could not be read: %s", strings.Join(doc.Warnings, "; "))
	}
	return doc.Text(), nil
}
