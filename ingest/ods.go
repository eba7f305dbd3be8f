package ingest

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
)

// maxODSRowRepeat bounds how many times one repeated non-empty row is
// copied: LibreOffice writes the empty rest of a sheet as one row repeated
// a million times, and a hostile file can repeat a full one as often.
const maxODSRowRepeat = 1000

// extractODS reads an OpenDocument spreadsheet's content.xml: every table
// (sheet), with the same passages and citations as an XLSX. Cells read as
// their displayed text (a formula's cached result), dates as ISO 8601.
func extractODS(ctx context.Context, f *os.File, size int64, doc *Document, lim Limits) error {
	zr, err := openZip(f, size, lim, "ODS")
	if err != nil {
		return err
	}
	zf := zipEntries(zr)["content.xml"]
	if zf == nil {
		return fileErr("", "is not a valid ODS (no content.xml)", nil)
	}
	rc, err := openEntry(zf, &inflateBudget{left: lim.maxInflated()})
	if err != nil {
		return fileErr("", "is not a valid ODS (content.xml cannot be read)", err)
	}
	defer rc.Close()
	b := newBuilder(doc, lim)
	var (
		sheet   string
		rows    [][]string
		row     []string
		spans   [][4]int // row, column, rows spanned, columns spanned (0-based start)
		across  map[int]bool
		cell    strings.Builder
		inCell  bool
		cellRep int
		rowRep  int
		dateVal string
		paras   int
		full    bool
	)
	attr := func(se xml.StartElement, name string) string {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	repeat := func(s string, limit int) int {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 1
		}
		return min(n, limit)
	}
	d := xml.NewDecoder(rc)
	for !full {
		if ctx.Err() != nil {
			return fileErr("", "was not read (cancelled)", ctx.Err())
		}
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errZipBomb) {
				return zipBombErr(lim)
			}
			if len(doc.Blocks) == 0 {
				return fileErr("", "is not a valid ODS (content.xml is malformed)", err)
			}
			b.warn("the spreadsheet is damaged; cells after the damage were not read")
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "table":
				sheet, rows, spans, across = attr(t, "name"), nil, nil, map[int]bool{}
			case "table-row":
				row = nil
				rowRep = repeat(attr(t, "number-rows-repeated"), 1<<30)
			case "table-cell", "covered-table-cell":
				inCell, paras = true, 0
				cell.Reset()
				cellRep = repeat(attr(t, "number-columns-repeated"), maxCSVColumns)
				dateVal = attr(t, "date-value")
				rs, cs := repeat(attr(t, "number-rows-spanned"), 1<<20), repeat(attr(t, "number-columns-spanned"), maxCSVColumns)
				if t.Name.Local == "table-cell" && (rs > 1 || cs > 1) {
					spans = append(spans, [4]int{len(rows), len(row), rs, cs})
				}
			case "p":
				if inCell && paras > 0 {
					cell.WriteByte('\n')
				}
				paras++
			case "s": // text:s, runs of spaces
				if inCell {
					cell.WriteString(strings.Repeat(" ", repeat(attr(t, "c"), 100)))
				}
			case "line-break":
				if inCell {
					cell.WriteByte('\n')
				}
			}
		case xml.CharData:
			if inCell {
				cell.Write(t)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "table-cell", "covered-table-cell":
				inCell = false
				v := cell.String()
				if dateVal != "" {
					v = strings.Replace(strings.TrimSuffix(dateVal, ":00"), "T00:00", "", 1)
					v = strings.Replace(v, "T", " ", 1)
				}
				if t.Name.Local == "covered-table-cell" {
					v = "" // filled from the spanning cell below
				}
				for range cellRep {
					if len(row) >= maxCSVColumns {
						break
					}
					row = append(row, v)
				}
			case "table-row":
				empty := strings.TrimSpace(strings.Join(row, "")) == ""
				// Empty rows still count, so row numbers match what the
				// application shows.
				n := min(rowRep, maxODSRowRepeat)
				if empty {
					n = min(rowRep, 1<<16)
				}
				for range n {
					if empty {
						rows = append(rows, nil)
					} else {
						rows = append(rows, append([]string(nil), row...))
					}
				}
			case "table":
				for len(rows) > 0 && len(rows[len(rows)-1]) == 0 {
					rows = rows[:len(rows)-1]
				}
				for _, s := range spans {
					if s[0] >= len(rows) || s[1] >= len(rows[s[0]]) {
						continue
					}
					v := rows[s[0]][s[1]]
					if s[3] > 1 {
						across[s[0]] = true
					}
					for r := s[0]; r < min(s[0]+s[2], len(rows)); r++ {
						for c := s[1]; c < min(s[1]+s[3], maxCSVColumns); c++ {
							for len(rows[r]) <= c {
								rows[r] = append(rows[r], "")
							}
							rows[r][c] = v
						}
					}
				}
				if !sheetRows(b, sheet, rows, across) {
					full = true
				}
				doc.Pages++
				rows = nil
			}
		}
	}
	if len(doc.Blocks) == 0 {
		doc.Warnings = append(doc.Warnings, "the file has no text")
	}
	return nil
}
