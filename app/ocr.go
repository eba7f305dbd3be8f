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

	"atoll/ingest"
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
func (a *App) SourceImage(path string) (string, error) {
	b, err := a.sourceFile(path, "image")
	if err != nil {
		return "", err
	}
	mime := http.DetectContentType(b)
	if !strings.HasPrefix(mime, "image/") || mime == "image/tiff" {
		// TIFF has no viewer in a browser; the passage text is still shown.
		return "", fmt.Errorf("%s cannot be previewed here (TIFF); the passage text is still shown", filepath.Base(path))
	}
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(b), nil
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
	doc, err := ingest.ExtractWith(ctx, f.Name(), ingest.DefaultLimits(), ingest.ExtractOptions{OCR: &ingest.OCR{}})
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
