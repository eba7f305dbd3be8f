package ingest

import (
	"archive/zip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// extractDOCX reads word/document.xml. The archive is checked before any
// entry is inflated (entry count, declared sizes, compression ratio) and
// every entry is then read through a counting reader, because the declared
// sizes of a hostile zip can lie.
func extractDOCX(ctx context.Context, f *os.File, size int64, doc *Document, lim Limits) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return fileErr("", "is not a valid DOCX (the zip archive is damaged or truncated)", err)
	}
	if len(zr.File) > lim.MaxZipEntries {
		return fileErr("", fmt.Sprintf("looks like a zip bomb (more than %d entries)", lim.MaxZipEntries), nil)
	}
	var total uint64
	var docXML, stylesXML *zip.File
	for _, zf := range zr.File {
		total += zf.UncompressedSize64
		if total > uint64(lim.maxInflated()) {
			return fileErr("", "looks like a zip bomb (expands beyond "+formatBytes(lim.maxInflated())+")", nil)
		}
		if zf.UncompressedSize64 > 1<<20 && zf.UncompressedSize64 > uint64(lim.MaxZipRatio)*max(zf.CompressedSize64, 1) {
			return fileErr("", fmt.Sprintf("looks like a zip bomb (an entry expands more than %d times)", lim.MaxZipRatio), nil)
		}
		switch zf.Name {
		case "word/document.xml":
			docXML = zf
		case "word/styles.xml":
			stylesXML = zf
		case "EncryptedPackage":
			return fileErr("", "is encrypted; encrypted DOCX files are not supported", nil)
		}
	}
	if docXML == nil {
		return fileErr("", "is a zip archive but not a DOCX (no word/document.xml)", nil)
	}
	budget := &inflateBudget{left: lim.maxInflated()}
	styles := map[string]int{}
	if stylesXML != nil {
		if rc, err := openEntry(stylesXML, budget); err == nil {
			styles, err = readDOCXStyles(rc)
			rc.Close()
			if errors.Is(err, errZipBomb) {
				return zipBombErr(lim)
			}
		}
	}
	rc, err := openEntry(docXML, budget)
	if err != nil {
		return fileErr("", "is not a valid DOCX (word/document.xml cannot be read)", err)
	}
	defer rc.Close()
	err = readDOCXBody(ctx, rc, styles, newBuilder(doc, lim))
	switch {
	case errors.Is(err, errZipBomb):
		return zipBombErr(lim)
	case errors.Is(err, zip.ErrFormat):
		// archive/zip stops an entry that inflates past its declared size
		return fileErr("", "looks like a zip bomb (an entry inflates beyond the size the archive declares)", err)
	case ctx.Err() != nil:
		return fileErr("", "was not read (cancelled)", ctx.Err())
	case err != nil && len(doc.Blocks) == 0:
		return fileErr("", "is not a valid DOCX (word/document.xml is malformed)", err)
	case err != nil:
		doc.Warnings = append(doc.Warnings, "the document is damaged; text after the damage was not read")
	}
	if len(doc.Blocks) == 0 {
		doc.Warnings = append(doc.Warnings, "the file has no text")
	}
	return nil
}

var errZipBomb = errors.New("zip entry inflates beyond its limit")

func zipBombErr(lim Limits) *FileError {
	return fileErr("", "looks like a zip bomb (expands beyond "+formatBytes(lim.maxInflated())+")", errZipBomb)
}

type inflateBudget struct{ left int64 }

// countingReader fails once more bytes come out of an entry than it declared
// or than the budget for the whole archive allows.
type countingReader struct {
	r        io.Reader
	declared int64
	n        int64
	budget   *inflateBudget
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.budget.left -= int64(n)
	if c.n > c.declared || c.budget.left < 0 {
		return n, errZipBomb
	}
	return n, err
}

func openEntry(zf *zip.File, budget *inflateBudget) (io.ReadCloser, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{&countingReader{r: rc, declared: int64(zf.UncompressedSize64), budget: budget}, rc}, nil
}

// readDOCXStyles maps style ids to heading levels ("Heading2" -> 2, a
// localised style named "heading 2" -> 2, "Title" -> 1).
func readDOCXStyles(r io.Reader) (map[string]int, error) {
	out := map[string]int{}
	d := xml.NewDecoder(r)
	var id string
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "style":
			id = attr(se, "styleId")
			if l := headingLevel(id); l > 0 {
				out[id] = l
			}
		case "name":
			if l := headingLevel(attr(se, "val")); l > 0 && id != "" {
				out[id] = l
			}
		case "outlineLvl":
			if n, err := strconv.Atoi(attr(se, "val")); err == nil && n >= 0 && n < 6 && id != "" {
				out[id] = n + 1
			}
		}
	}
}

func headingLevel(style string) int {
	s := strings.ToLower(strings.ReplaceAll(style, " ", ""))
	switch {
	case s == "title":
		return 1
	case s == "subtitle":
		return 2
	case strings.HasPrefix(s, "heading") && len(s) == len("heading")+1 && s[len(s)-1] >= '1' && s[len(s)-1] <= '9':
		return min(int(s[len(s)-1]-'0'), 6)
	}
	return 0
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// readDOCXBody streams the document XML: paragraphs (with heading level
// from their style and list status from numPr), tables as rows of
// "cell | cell". Deleted revisions and field codes are skipped.
func readDOCXBody(ctx context.Context, r io.Reader, styles map[string]int, b *builder) error {
	d := xml.NewDecoder(r)
	d.Strict = false
	var (
		para       strings.Builder
		level      int
		isList     bool
		inText     bool
		tableDepth int
		cells      [][]string // per open table: cells of the current row
		cell       strings.Builder
		skipDepth  int
		count      int
	)
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if count++; count%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if skipDepth > 0 {
				skipDepth++
				continue
			}
			switch t.Name.Local {
			case "del", "instrText", "delText", "fldSimple_instr":
				skipDepth = 1
			case "p":
				para.Reset()
				level, isList = 0, false
			case "pStyle":
				level = styles[attr(t, "val")]
				if level == 0 {
					level = headingLevel(attr(t, "val"))
				}
			case "outlineLvl":
				if n, err := strconv.Atoi(attr(t, "val")); err == nil && n >= 0 && n < 6 {
					level = n + 1
				}
			case "numPr":
				isList = true
			case "t":
				inText = true
			case "tab":
				para.WriteByte('\t')
			case "br", "cr":
				para.WriteByte('\n')
			case "tbl":
				tableDepth++
				cells = append(cells, nil)
			case "tr":
				if tableDepth > 0 {
					cells[tableDepth-1] = cells[tableDepth-1][:0]
				}
			case "tc":
				cell.Reset()
			}
		case xml.EndElement:
			if skipDepth > 0 {
				skipDepth--
				continue
			}
			switch t.Name.Local {
			case "t":
				inText = false
			case "p":
				text := strings.TrimSpace(para.String())
				para.Reset()
				if tableDepth > 0 {
					if text != "" {
						if cell.Len() > 0 {
							cell.WriteByte(' ')
						}
						cell.WriteString(text)
					}
					continue
				}
				kind := KindParagraph
				switch {
				case level > 0:
					kind = KindHeading
				case isList:
					kind = KindList
				}
				if !b.add(kind, level, 0, text) {
					return nil
				}
			case "tc":
				if tableDepth > 0 {
					cells[tableDepth-1] = append(cells[tableDepth-1], strings.Join(strings.Fields(cell.String()), " "))
					cell.Reset()
				}
			case "tr":
				if tableDepth > 0 {
					row := cells[tableDepth-1]
					if tableDepth > 1 { // a nested table's row becomes text of the outer cell
						if cell.Len() > 0 {
							cell.WriteByte(' ')
						}
						cell.WriteString(strings.Join(row, " | "))
						continue
					}
					if strings.TrimSpace(strings.Join(row, "")) != "" && !b.add(KindRow, 0, 0, strings.Join(row, " | ")) {
						return nil
					}
				}
			case "tbl":
				if tableDepth > 0 {
					tableDepth--
					cells = cells[:tableDepth]
				}
			}
		case xml.CharData:
			if inText && skipDepth == 0 {
				para.Write(t)
			}
		}
	}
}
