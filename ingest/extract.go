package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode/utf8"
)

// Extract reads one file and returns its text as blocks. The format is
// recognised from the content first (a PDF named .txt is a PDF) and from the
// extension second. Every failure is a *FileError whose Reason is one
// sentence; Extract never panics, whatever the bytes.
func Extract(ctx context.Context, path string, lim Limits) (doc *Document, err error) {
	return ExtractProgress(ctx, path, lim, nil)
}

// ExtractProgress is Extract, calling onPage (when not nil) after each page
// of a paged format (PDF) with the pages done and the total, so a long file
// shows progress while it is read.
func ExtractProgress(ctx context.Context, path string, lim Limits, onPage func(done, total int)) (doc *Document, err error) {
	return ExtractWith(ctx, path, lim, ExtractOptions{OnPage: onPage, OCR: &OCR{}})
}

// ExtractOptions are the optional parts of extraction.
type ExtractOptions struct {
	// OnPage is called after each page of a paged format with the pages
	// done and the total.
	OnPage func(done, total int)
	// OCR reads scanned PDF pages and image files; nil leaves them pending.
	OCR *OCR
}

// ExtractWith is Extract with options: progress and OCR settings (a
// knowledge base's language override goes in OCR.Lang).
func ExtractWith(ctx context.Context, path string, lim Limits, opt ExtractOptions) (doc *Document, err error) {
	onPage := opt.OnPage
	lim = lim.withDefaults()
	defer func() {
		if r := recover(); r != nil {
			doc = nil
			err = fileErr(path, "could not be read (the file is malformed)", fmt.Errorf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, fileErr(path, "was not read (cancelled)", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, statError(path, err)
	}
	switch {
	case fi.IsDir():
		return nil, fileErr(path, "is a folder, not a file", nil)
	case !fi.Mode().IsRegular():
		return nil, fileErr(path, "is not a regular file (device, pipe or socket)", nil)
	case fi.Size() == 0:
		return nil, fileErr(path, "is empty", nil)
	case fi.Size() > lim.MaxFileBytes:
		return nil, fileErr(path, fmt.Sprintf("is larger than the %s limit", formatBytes(lim.MaxFileBytes)), nil)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, statError(path, err)
	}
	defer f.Close()

	head := make([]byte, 1024)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, statError(path, err)
	}
	head = head[:n]
	if n == 0 {
		return nil, fileErr(path, "is empty", nil)
	}
	ext := strings.ToLower(filepath.Ext(path))
	format, reason := sniff(head, ext)
	if reason != "" {
		return nil, fileErr(path, reason, nil)
	}
	doc = &Document{Path: path, Format: format}
	switch format {
	case "pdf":
		err = extractPDF(ctx, f, fi.Size(), doc, lim, onPage, opt.OCR)
	case "image":
		err = extractImage(ctx, path, doc, lim, opt.OCR)
	case "docx":
		switch doc.Format = zipKind(f, fi.Size(), ext); doc.Format {
		case "xlsx":
			err = extractXLSX(ctx, f, fi.Size(), doc, lim)
		case "pptx":
			err = extractPPTX(ctx, f, fi.Size(), doc, lim)
		case "ods":
			err = extractODS(ctx, f, fi.Size(), doc, lim)
		default:
			err = extractDOCX(ctx, f, fi.Size(), doc, lim)
		}
	default:
		err = extractTextual(ctx, f, doc, lim)
	}
	if err != nil {
		return nil, asFileError(path, err)
	}
	return doc, nil
}

// extractTextual reads a text-like file whole (it is at most MaxFileBytes)
// and parses it by format.
func extractTextual(ctx context.Context, f *os.File, doc *Document, lim Limits) error {
	// A strings.Builder hands its buffer over without a copy, so valid
	// UTF-8 (the common case) is held in memory once.
	var sb strings.Builder
	if fi, err := f.Stat(); err == nil {
		sb.Grow(int(min(fi.Size(), lim.MaxFileBytes)) + 1)
	}
	n, err := io.Copy(&sb, io.LimitReader(f, lim.MaxFileBytes+1))
	if err != nil {
		return fileErr("", "could not be read ("+err.Error()+")", err)
	}
	if n > lim.MaxFileBytes {
		return fileErr("", fmt.Sprintf("is larger than the %s limit", formatBytes(lim.MaxFileBytes)), nil)
	}
	raw := sb.String()
	text, warn := raw, ""
	if !utf8.ValidString(raw) || strings.HasPrefix(raw, "\xEF\xBB\xBF") || strings.HasPrefix(raw, "\xFF\xFE") || strings.HasPrefix(raw, "\xFE\xFF") {
		if doc.Format == "html" {
			text, warn = decodeHTML([]byte(raw))
		} else {
			text, warn = decodeBytes([]byte(raw))
		}
	}
	raw = ""
	if warn != "" {
		doc.Warnings = append(doc.Warnings, "the file "+warn)
	}
	b := newBuilder(doc, lim)
	switch doc.Format {
	case "markdown":
		parseMarkdown(text, b)
	case "html":
		parseHTML(text, b)
	case "csv":
		parseCSV(text, b)
	default:
		parsePlain(text, b)
	}
	if err := ctx.Err(); err != nil {
		return fileErr("", "was not read (cancelled)", err)
	}
	if len(doc.Blocks) == 0 {
		doc.Warnings = append(doc.Warnings, "the file has no text")
	}
	return nil
}

var magics = []struct {
	prefix string
	reason string
}{
	{"GIF8", "is a GIF image; images are not supported"},
	{"\x1F\x8B", "is a gzip archive; unpack it first"},
	{"7z\xBC\xAF", "is a 7-Zip archive; unpack it first"},
	{"Rar!", "is a RAR archive; unpack it first"},
	{"\x7FELF", "is a program, not a document"},
	{"MZ", "is a Windows program, not a document"},
	{"%!PS", "is a PostScript file; convert it to PDF first"},
	{"{\\rtf", "is an RTF file; save it as DOCX or PDF first"},
}

// imageMagics are the images read by OCR (Tesseract reads them all).
var imageMagics = []struct{ prefix, name string }{
	{"\x89PNG", "PNG"}, {"\xFF\xD8\xFF", "JPEG"}, {"II*\x00", "TIFF"}, {"MM\x00*", "TIFF"}, {"RIFF", "WebP"},
}

// sniff decides the format from the first bytes and the extension. A
// non-empty reason means the file cannot be read.
func sniff(head []byte, ext string) (format, reason string) {
	// PDF readers accept junk before the header; a text file that merely
	// mentions "%PDF-" must stay text.
	if i := bytes.Index(head, []byte("%PDF-")); i == 0 || i > 0 && (ext == ".pdf" || looksBinary(head[:i])) {
		return "pdf", ""
	}
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")) {
		return "docx", "" // an office zip: zipKind tells which
	}
	if bytes.HasPrefix(head, []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")) {
		if ext == ".docx" {
			return "", "is an encrypted DOCX or an old Word file; remove the password or save it as DOCX"
		}
		return "", "is an old Microsoft Office file (DOC/XLS/PPT); save it as DOCX or PDF first"
	}
	for _, m := range imageMagics {
		if bytes.HasPrefix(head, []byte(m.prefix)) && (m.prefix != "RIFF" || len(head) >= 12 && string(head[8:12]) == "WEBP") {
			if ext == ".pdf" {
				return "", "is not a PDF (it is a " + m.name + " image)"
			}
			return "image", "" // read by OCR
		}
	}
	for _, m := range magics {
		if bytes.HasPrefix(head, []byte(m.prefix)) {
			if ext == ".pdf" {
				kind, _, _ := strings.Cut(m.reason, ";")
				kind, _, _ = strings.Cut(kind, ",")
				return "", "is not a PDF (it " + kind + ")"
			}
			return "", m.reason
		}
	}
	binary := looksBinary(head)
	switch ext {
	case ".pdf":
		if binary {
			return "", "is not a PDF (no %PDF header; it looks like binary data)"
		}
		return "", "is not a PDF (no %PDF header; it looks like plain text)"
	case ".docx":
		return "", "is not a valid DOCX (not a zip archive)"
	}
	if binary {
		return "", "looks like a binary file, not a document (format not supported)"
	}
	switch ext {
	case ".md", ".markdown":
		return "markdown", ""
	case ".html", ".htm", ".xhtml":
		return "html", ""
	case ".csv", ".tsv":
		return "csv", ""
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xEF\xBB\xBF")), " \t\r\n")
	lower := bytes.ToLower(t[:min(len(t), 15)])
	if bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.HasPrefix(lower, []byte("<html")) {
		return "html", ""
	}
	return "text", ""
}
