package ingest

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// A row is one passage's worth of a table. Rows wider than these bounds are
// cut, with one warning for the file: a table of a million columns is an
// export or an attack, not a price list, and keeping it whole would make it
// cost hundreds of MB to ingest and then to open for every later command.
const (
	maxCSVColumns  = 1000     // columns kept per row (the header's too)
	maxCSVRowBytes = 64 << 10 // "header: value; …" text kept per row
)

// parseCSV turns each record into one "header: value; header: value" row,
// so that every chunk carries the column names it needs to be understood.
func parseCSV(text string, b *builder) {
	wide, long := 0, 0
	var header []string
	eachCSVRecord(text, sniffDelimiter(text), maxCSVColumns, func(rec []string, cut bool) bool {
		if cut {
			wide++
		}
		if header == nil {
			header = make([]string, len(rec))
			for i, h := range rec {
				h = strings.TrimSpace(h)
				if h == "" {
					h = fmt.Sprintf("column %d", i+1)
				}
				header[i] = h
			}
			return true
		}
		var sb strings.Builder
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if sb.Len() > maxCSVRowBytes {
				long++
				break
			}
			if sb.Len() > 0 {
				sb.WriteString("; ")
			}
			if i < len(header) {
				sb.WriteString(header[i])
			} else {
				fmt.Fprintf(&sb, "column %d", i+1)
			}
			sb.WriteString(": ")
			sb.WriteString(v)
		}
		return b.add(KindRow, 0, 0, sb.String())
	})
	if wide > 0 {
		b.warn(fmt.Sprintf("%d rows had more than %d columns: only the first %d of each were kept", wide, maxCSVColumns, maxCSVColumns))
	}
	if long > 0 {
		b.warn(fmt.Sprintf("%d rows were longer than %s: the rest of each was not kept", long, formatBytes(maxCSVRowBytes)))
	}
}

// eachCSVRecord reads RFC 4180 records as encoding/csv does with LazyQuotes
// and any number of fields, but keeps at most maxFields fields of a record
// (cut reports the rest was skipped): encoding/csv holds every field of a
// record at once, which for a 65 MB one-line file of six million columns
// peaks near 700 MB. Unquoted fields are slices of text, not copies. fn
// returns false to stop.
func eachCSVRecord(text string, comma rune, maxFields int, fn func(rec []string, cut bool) bool) {
	text = strings.TrimSuffix(text, "\r") // as encoding/csv: a last "\r" ends the line
	rec := make([]string, 0, 16)
	cut := false
	i := 0
	for i < len(text) {
		if len(rec) == 0 && !cut {
			if n := lineEnd(text, i); n > 0 { // a blank line is no record
				i += n
				continue
			}
		}
		// One field, starting at i.
		var field string
		if text[i] == '"' {
			var sb strings.Builder
			j := i + 1
			for j < len(text) {
				if text[j] != '"' {
					k := strings.IndexByte(text[j:], '"')
					if k < 0 {
						k = len(text) - j
					}
					sb.WriteString(strings.ReplaceAll(text[j:j+k], "\r\n", "\n"))
					j += k
					continue
				}
				// A quote: doubled is a literal one; before a delimiter, a
				// line end or the end, it closes the field; else (lazily)
				// it is literal.
				if j+1 < len(text) && text[j+1] == '"' {
					sb.WriteByte('"')
					j += 2
					continue
				}
				if r, n := nextRune(text, j+1); n == 0 || r == comma || lineEnd(text, j+1) > 0 {
					j++
					break
				}
				sb.WriteByte('"')
				j++
			}
			field, i = sb.String(), j
		} else {
			j := i
			for j < len(text) {
				r, n := nextRune(text, j)
				if r == comma || lineEnd(text, j) > 0 {
					break
				}
				j += n
			}
			field, i = text[i:j], j
		}
		if len(rec) < maxFields {
			rec = append(rec, field)
		} else {
			cut = true
		}
		// After the field: a delimiter (another field follows) or a line end.
		if r, n := nextRune(text, i); n > 0 && r == comma {
			i += n
			if i == len(text) { // a trailing delimiter ends with an empty field
				if len(rec) < maxFields {
					rec = append(rec, "")
				}
			} else {
				continue
			}
		}
		i += lineEnd(text, i)
		if !fn(rec, cut) {
			return
		}
		rec, cut = rec[:0], false
	}
}

// lineEnd is the length of the line ending at s[i:] ("\n" or "\r\n"), or 0.
func lineEnd(s string, i int) int {
	switch {
	case i < len(s) && s[i] == '\n':
		return 1
	case i+1 < len(s) && s[i] == '\r' && s[i+1] == '\n':
		return 2
	}
	return 0
}

func nextRune(s string, i int) (rune, int) {
	if i >= len(s) {
		return 0, 0
	}
	if s[i] < utf8.RuneSelf {
		return rune(s[i]), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// sniffDelimiter picks among , ; and tab the one that splits the first lines
// into the same, largest number of fields.
func sniffDelimiter(text string) rune {
	if len(text) > 64<<10 { // ten lines are enough, and may be very long
		text = text[:64<<10]
	}
	lines := strings.SplitN(text, "\n", 11)
	if len(lines) > 10 {
		lines = lines[:10]
	}
	best, bestScore := ',', -1
	for _, d := range []rune{',', ';', '\t', '|'} {
		counts := map[int]int{}
		for _, l := range lines {
			if strings.TrimSpace(l) == "" {
				continue
			}
			counts[countOutsideQuotes(l, d)]++
		}
		score := 0
		for n, c := range counts {
			if n > 0 && c*n > score {
				score = c * n
			}
		}
		if score > bestScore {
			best, bestScore = d, score
		}
	}
	return best
}

func countOutsideQuotes(line string, d rune) int {
	n, quoted := 0, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
		case r == d && !quoted:
			n++
		}
	}
	return n
}
