package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

func init() {
	for _, ext := range []string{".xlsx", ".xlsm", ".pptx", ".ods"} {
		supportedExt[ext] = true
	}
}

// Supported reports whether Collect picks a file of this name up inside a
// folder: a type Atoll reads, and not hidden (editors' lock and swap files
// are hidden or of other types).
func Supported(name string) bool {
	base := filepath.Base(name)
	return !strings.HasPrefix(base, ".") && !strings.HasPrefix(base, "~$") && supportedExt[strings.ToLower(filepath.Ext(base))]
}

// rowSep joins "column: value" pairs in a spreadsheet row's passage. The
// middle dot reads as a separator in English and Chinese alike, and is
// rare inside cells, unlike ";" and ",".
const rowSep = " · "

// maxFormulaCalcs bounds how many formulas without a cached value are
// computed per file: a file written by a program (not a spreadsheet app)
// stores formulas without results, and excelize's calculation engine is
// slow enough that a million of them would take minutes.
const maxFormulaCalcs = 20000

// sheetCite is how a passage of a spreadsheet names its place; it is the
// chunk's heading, which every citation shows.
func sheetCite(sheet string, row int) string {
	return fmt.Sprintf("Sheet %q · row %d", sheet, row)
}

// extractXLSX reads every sheet of a workbook through excelize. Each data
// row becomes one passage that carries its column names; formulas read as
// the value the spreadsheet app cached (computed here only when the file has
// none); merged cells lend their value to every cell they cover, so a merged
// group header names each column under it.
func extractXLSX(ctx context.Context, f *os.File, size int64, doc *Document, lim Limits) error {
	if err := checkZip(f, size, lim); err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	wb, err := excelize.OpenReader(f, excelize.Options{UnzipSizeLimit: lim.maxInflated(), UnzipXMLSizeLimit: lim.maxInflated()})
	if err != nil {
		if strings.Contains(err.Error(), "password") || strings.Contains(err.Error(), "encrypt") {
			return fileErr("", "is encrypted; remove the password and add it again", err)
		}
		return fileErr("", "is not a valid XLSX (the workbook cannot be read)", err)
	}
	defer wb.Close()
	b := newBuilder(doc, lim)
	calcs := 0
	sheets := wb.GetSheetList()
	doc.Pages = 0
	for _, sheet := range sheets {
		if ctx.Err() != nil {
			return fileErr("", "was not read (cancelled)", ctx.Err())
		}
		rows, err := wb.GetRows(sheet)
		if err != nil {
			b.warn(fmt.Sprintf("sheet %q could not be read", sheet))
			continue
		}
		raw, _ := wb.GetRows(sheet, excelize.Options{RawCellValue: true})
		dateStyle := map[int]bool{}
		for r := range rows {
			if len(rows[r]) > maxCSVColumns {
				rows[r] = rows[r][:maxCSVColumns]
			}
			for c, v := range rows[r] {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if v == "" {
					// A formula with no cached result.
					if calcs < maxFormulaCalcs {
						if fm, _ := wb.GetCellFormula(sheet, cell); fm != "" {
							calcs++
							if cv, err := wb.CalcCellValue(sheet, cell); err == nil {
								rows[r][c] = cv
							}
						}
					}
					continue
				}
				if r < len(raw) && c < len(raw[r]) && raw[r][c] != v {
					// Formatted differently from its value: a date reads
					// as ISO 8601, not "01-15-26", whose order depends on
					// where the file was made.
					if iso, ok := xlsxDate(wb, sheet, cell, raw[r][c], dateStyle); ok {
						rows[r][c] = iso
					}
				}
			}
		}
		merged := fillMerged(wb, sheet, rows)
		if !sheetRows(b, sheet, rows, merged) {
			break
		}
		doc.Pages++
	}
	if len(doc.Blocks) == 0 {
		doc.Warnings = append(doc.Warnings, "the file has no text")
	}
	return nil
}

// xlsxDate reads a numeric cell shown with a date format as a date.
func xlsxDate(wb *excelize.File, sheet, cell, raw string, cache map[int]bool) (string, bool) {
	serial, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return "", false
	}
	id, err := wb.GetCellStyle(sheet, cell)
	if err != nil {
		return "", false
	}
	isDate, ok := cache[id]
	if !ok {
		if st, err := wb.GetStyle(id); err == nil {
			isDate = isDateFormat(st.NumFmt, deref(st.CustomNumFmt))
		}
		cache[id] = isDate
	}
	if !isDate {
		return "", false
	}
	t, err := excelize.ExcelDateToTime(serial, false)
	if err != nil {
		return "", false
	}
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return t.Format(time.DateOnly), true
	}
	return t.Format("2006-01-02 15:04"), true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// isDateFormat tells the built-in date formats (ECMA-376 18.8.30, with the
// East Asian ones) and custom formats that show a day, month or year.
func isDateFormat(id int, custom string) bool {
	switch {
	case id >= 14 && id <= 22, id >= 27 && id <= 36, id >= 45 && id <= 47, id >= 50 && id <= 58:
		return true
	case custom == "":
		return false
	}
	quoted := false
	for _, r := range strings.ToLower(custom) {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == 'y' || r == 'd' || r == 'm'):
			return true
		}
	}
	return false
}

// fillMerged copies each merged range's value into every cell it covers and
// reports the rows where a range spans several columns (group headers).
func fillMerged(wb *excelize.File, sheet string, rows [][]string) map[int]bool {
	across := map[int]bool{}
	ranges, err := wb.GetMergeCells(sheet)
	if err != nil {
		return across
	}
	for _, m := range ranges {
		c0, r0, err1 := excelize.CellNameToCoordinates(m.GetStartAxis())
		c1, r1, err2 := excelize.CellNameToCoordinates(m.GetEndAxis())
		if err1 != nil || err2 != nil || r0 < 1 || r0 > len(rows) || c0 < 1 || c0 > len(rows[r0-1]) {
			continue
		}
		val := rows[r0-1][c0-1]
		if val == "" {
			continue
		}
		if c1 > c0 {
			across[r0-1] = true
		}
		for r := r0; r <= min(r1, len(rows)); r++ {
			for c := c0; c <= min(c1, maxCSVColumns); c++ {
				for len(rows[r-1]) < c {
					rows[r-1] = append(rows[r-1], "")
				}
				rows[r-1][c-1] = val
			}
		}
	}
	return across
}

// sheetRows turns one sheet's rows into passages. Rows before the header
// that hold a single value (a title, often merged across the table) are
// kept as they are; the header is the first row with several values, and
// the row under it too when the header has merged group cells ("Price" over
// "Small" and "Large" names the columns "Price › Small" and "Price ›
// Large"). It reports false once the text budget is spent.
func sheetRows(b *builder, sheet string, rows [][]string, mergedAcross map[int]bool) bool {
	distinct := func(row []string) int {
		seen := map[string]bool{}
		for _, v := range row {
			if v = strings.TrimSpace(v); v != "" {
				seen[v] = true
			}
		}
		return len(seen)
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r))
	}
	i := 0
	for ; i < len(rows); i++ {
		n := distinct(rows[i])
		if n == 0 {
			continue
		}
		if n > 1 || width <= 1 {
			break
		}
		if !b.addCited(KindParagraph, strings.TrimSpace(firstValue(rows[i])), sheetCite(sheet, i+1)) {
			return false
		}
	}
	if i >= len(rows) {
		return true
	}
	header := make([]string, width)
	for c := range header {
		if c < len(rows[i]) {
			header[c] = strings.TrimSpace(rows[i][c])
		}
	}
	start := i + 1
	if mergedAcross[i] && start < len(rows) {
		for c := range header {
			sub := ""
			if c < len(rows[start]) {
				sub = strings.TrimSpace(rows[start][c])
			}
			switch {
			case sub == "" || sub == header[c]:
			case header[c] == "":
				header[c] = sub
			default:
				header[c] += " › " + sub
			}
		}
		start++
	}
	for c := range header {
		if header[c] == "" {
			name, _ := excelize.ColumnNumberToName(c + 1)
			header[c] = "column " + name
		}
	}
	long := 0
	for r := start; r < len(rows); r++ {
		var sb strings.Builder
		for c, v := range rows[r] {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if sb.Len() > maxCSVRowBytes {
				long++
				break
			}
			if sb.Len() > 0 {
				sb.WriteString(rowSep)
			}
			sb.WriteString(header[c])
			sb.WriteString(": ")
			sb.WriteString(v)
		}
		if sb.Len() == 0 {
			continue
		}
		if !b.addCited(KindRow, sb.String(), sheetCite(sheet, r+1)) {
			return false
		}
	}
	if long > 0 {
		b.warn(fmt.Sprintf("%d rows of sheet %q were longer than %s: the rest of each was not kept", long, sheet, formatBytes(maxCSVRowBytes)))
	}
	return true
}

func firstValue(row []string) string {
	for _, v := range row {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
