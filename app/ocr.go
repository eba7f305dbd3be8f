package app

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

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
