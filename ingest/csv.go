package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// parseCSV turns each record into one "header: value; header: value" row,
// so that every chunk carries the column names it needs to be understood.
func parseCSV(text string, b *builder) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comma = sniffDelimiter(text)
	r.LazyQuotes = true
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var header []string
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			b.warn(fmt.Sprintf("the CSV could not be parsed after record %d (%v)", line-1, err))
			return
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
			continue
		}
		var sb strings.Builder
		for i, v := range rec {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
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
		if !b.add(KindRow, 0, 0, sb.String()) {
			return
		}
	}
}

// sniffDelimiter picks among , ; and tab the one that splits the first lines
// into the same, largest number of fields.
func sniffDelimiter(text string) rune {
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
