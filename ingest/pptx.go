package ingest

import (
	"archive/zip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// zipKind tells which office format a zip archive holds from its entries,
// the extension deciding only between look-alikes.
func zipKind(f *os.File, size int64, ext string) string {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return "docx" // extractDOCX explains the damage
	}
	for _, zf := range zr.File {
		switch zf.Name {
		case "xl/workbook.xml":
			return "xlsx"
		case "ppt/presentation.xml":
			return "pptx"
		case "word/document.xml":
			return "docx"
		case "mimetype":
			if zf.UncompressedSize64 < 128 {
				if rc, err := zf.Open(); err == nil {
					b, _ := io.ReadAll(io.LimitReader(rc, 128))
					rc.Close()
					if strings.TrimSpace(string(b)) == "application/vnd.oasis.opendocument.spreadsheet" {
						return "ods"
					}
				}
			}
		}
	}
	if ext == ".ods" {
		return "ods"
	}
	return "docx"
}

// openZip is the zip-bomb check of extractDOCX for the other office formats:
// entry count, declared sizes and compression ratio, before anything is
// inflated. kind names the format in the sentences.
func openZip(f *os.File, size int64, lim Limits, kind string) (*zip.Reader, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fileErr("", "is not a valid "+kind+" (the zip archive is damaged or truncated)", err)
	}
	if len(zr.File) > lim.MaxZipEntries {
		return nil, fileErr("", fmt.Sprintf("looks like a zip bomb (more than %d entries)", lim.MaxZipEntries), nil)
	}
	var total uint64
	for _, zf := range zr.File {
		total += zf.UncompressedSize64
		if total > uint64(lim.maxInflated()) {
			return nil, zipBombErr(lim)
		}
		if zf.UncompressedSize64 > 1<<20 && zf.UncompressedSize64 > uint64(lim.MaxZipRatio)*max(zf.CompressedSize64, 1) {
			return nil, fileErr("", fmt.Sprintf("looks like a zip bomb (an entry expands more than %d times)", lim.MaxZipRatio), nil)
		}
		if zf.Name == "EncryptedPackage" {
			return nil, fileErr("", "is encrypted; remove the password and add it again", nil)
		}
	}
	return zr, nil
}

func checkZip(f *os.File, size int64, lim Limits) error {
	_, err := openZip(f, size, lim, "XLSX")
	return err
}

// zipEntries indexes an archive's entries by name.
func zipEntries(zr *zip.Reader) map[string]*zip.File {
	m := make(map[string]*zip.File, len(zr.File))
	for _, zf := range zr.File {
		m[zf.Name] = zf
	}
	return m
}

const (
	nsDrawing = "http://schemas.openxmlformats.org/drawingml/2006/main"
	nsRels    = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
)

// extractPPTX reads each slide's text, then its speaker notes, in the
// presentation's order. Every block carries "Slide N", so a citation names
// the slide (chunks never span two slides).
func extractPPTX(ctx context.Context, f *os.File, size int64, doc *Document, lim Limits) error {
	zr, err := openZip(f, size, lim, "PPTX")
	if err != nil {
		return err
	}
	files := zipEntries(zr)
	budget := &inflateBudget{left: lim.maxInflated()}
	slides, err := pptxSlides(files, budget)
	if err != nil {
		if errors.Is(err, errZipBomb) {
			return zipBombErr(lim)
		}
		return fileErr("", "is not a valid PPTX (ppt/presentation.xml cannot be read)", err)
	}
	b := newBuilder(doc, lim)
	for i, slide := range slides {
		if ctx.Err() != nil {
			return fileErr("", "was not read (cancelled)", ctx.Err())
		}
		cite := fmt.Sprintf("Slide %d", i+1)
		zf := files[slide]
		if zf == nil {
			b.warn(fmt.Sprintf("slide %d is missing from the file", i+1))
			continue
		}
		paras, err := drawingText(zf, budget, "")
		if errors.Is(err, errZipBomb) {
			return zipBombErr(lim)
		}
		if err != nil {
			b.warn(fmt.Sprintf("slide %d is damaged; its text after the damage was not read", i+1))
		}
		for _, p := range paras {
			if !b.addCited(KindParagraph, p, cite) {
				return nil
			}
		}
		if notes := relTarget(files, slide, "/notesSlide", budget); notes != "" && files[notes] != nil {
			paras, err := drawingText(files[notes], budget, "body")
			if errors.Is(err, errZipBomb) {
				return zipBombErr(lim)
			}
			if len(paras) > 0 && !b.addCited(KindParagraph, "Speaker notes: "+strings.Join(paras, "\n"), cite) {
				return nil
			}
		}
	}
	doc.Pages = len(slides)
	if len(doc.Blocks) == 0 {
		doc.Warnings = append(doc.Warnings, "the file has no text")
	}
	return nil
}

// pptxSlides lists the slides' entry names in presentation order.
func pptxSlides(files map[string]*zip.File, budget *inflateBudget) ([]string, error) {
	pres := files["ppt/presentation.xml"]
	if pres == nil {
		return nil, errors.New("no ppt/presentation.xml")
	}
	rels := readRels(files, "ppt/presentation.xml", budget)
	rc, err := openEntry(pres, budget)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []string
	d := xml.NewDecoder(rc)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "sldId" {
			for _, a := range se.Attr {
				if a.Name.Local == "id" && a.Name.Space == nsRels {
					if t, ok := rels[a.Value]; ok {
						out = append(out, t.target)
					}
				}
			}
		}
	}
}

type rel struct{ typ, target string }

// readRels reads the relationships of one part, targets resolved to entry
// names.
func readRels(files map[string]*zip.File, part string, budget *inflateBudget) map[string]rel {
	dir, name := path.Split(part)
	zf := files[dir+"_rels/"+name+".rels"]
	out := map[string]rel{}
	if zf == nil {
		return out
	}
	rc, err := openEntry(zf, budget)
	if err != nil {
		return out
	}
	defer rc.Close()
	d := xml.NewDecoder(rc)
	for {
		tok, err := d.Token()
		if err != nil {
			return out
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "Relationship" {
			continue
		}
		var id, typ, target string
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "Id":
				id = a.Value
			case "Type":
				typ = a.Value
			case "Target":
				target = a.Value
			}
		}
		if strings.HasPrefix(target, "/") {
			target = strings.TrimPrefix(target, "/")
		} else {
			target = path.Join(dir, target)
		}
		out[id] = rel{typ, target}
	}
}

// relTarget is the first relationship of part whose type ends with suffix.
func relTarget(files map[string]*zip.File, part, suffix string, budget *inflateBudget) string {
	for _, r := range readRels(files, part, budget) {
		if strings.HasSuffix(r.typ, suffix) {
			return r.target
		}
	}
	return ""
}

// drawingText returns the paragraphs of a slide or notes part, in document
// order. With onlyPlaceholder set, only shapes holding that kind of
// placeholder count (a notes page also repeats the slide number and header).
func drawingText(zf *zip.File, budget *inflateBudget, onlyPlaceholder string) ([]string, error) {
	rc, err := openEntry(zf, budget)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []string
	var para strings.Builder
	inText, inPara := false, false
	ph := "" // placeholder type of the current shape
	d := xml.NewDecoder(rc)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Local == "sp":
				ph = "-"
			case t.Name.Local == "ph":
				ph = "body" // a placeholder without a type is a body one
				for _, a := range t.Attr {
					if a.Name.Local == "type" {
						ph = a.Value
					}
				}
			case t.Name.Space == nsDrawing && t.Name.Local == "p":
				inPara = true
				para.Reset()
			case t.Name.Space == nsDrawing && t.Name.Local == "t":
				inText = true
			case t.Name.Space == nsDrawing && t.Name.Local == "br" && inPara:
				para.WriteByte('\n')
			}
		case xml.EndElement:
			switch {
			case t.Name.Space == nsDrawing && t.Name.Local == "t":
				inText = false
			case t.Name.Space == nsDrawing && t.Name.Local == "p":
				inPara = false
				if s := strings.TrimSpace(para.String()); s != "" && (onlyPlaceholder == "" || ph == onlyPlaceholder) {
					out = append(out, s)
				}
			}
		case xml.CharData:
			if inText && inPara {
				para.Write(t)
			}
		}
	}
}
