package ingest

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func records(text string, comma rune, max int) (out [][]string, cuts int) {
	eachCSVRecord(text, comma, max, func(rec []string, cut bool) bool {
		out = append(out, append([]string(nil), rec...))
		if cut {
			cuts++
		}
		return true
	})
	return out, cuts
}

// The bounded reader reads what encoding/csv (LazyQuotes, any field count)
// reads, wherever encoding/csv reads the input without an error.
func FuzzCSVReaderMatchesEncodingCSV(f *testing.F) {
	for _, s := range []string{
		"a,b,c\n1,2,3\n", "a;b\r\n1;2\r\n", "\"q,uoted\",\"with \"\"quotes\"\"\"\nx,y\n",
		"\"multi\nline\",z\n", "a,,c\n,,\n", "trailing,\n", "\n\na,b\n\n", "\"a\"b,c\n", "ünï,cødé\n价格,十元\n",
		"a,\"unterminated\n", "x\ty\n1\t2", "\"\"\n", "a\"b,c\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, comma := range []rune{',', ';', '\t'} {
			r := csv.NewReader(strings.NewReader(s))
			r.Comma, r.LazyQuotes, r.FieldsPerRecord = comma, true, -1
			want, err := r.ReadAll()
			if err != nil {
				continue
			}
			got, _ := records(s, comma, 1<<30)
			if len(want) == 0 && len(got) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("comma %q, input %q:\n got %q\nwant %q", comma, s, got, want)
			}
		}
	})
}

func TestVeryWideCSVIsCutWithAWarning(t *testing.T) {
	const n = 200000
	var sb strings.Builder
	for row := 0; row < 3; row++ {
		for i := 0; i < n; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			if row == 0 {
				fmt.Fprintf(&sb, "h%d", i)
			} else {
				fmt.Fprintf(&sb, "v%d", i%97)
			}
		}
		sb.WriteByte('\n')
	}
	recs, cuts := records(sb.String(), ',', maxCSVColumns)
	if len(recs) != 3 || cuts != 3 || len(recs[0]) != maxCSVColumns {
		t.Fatalf("%d records, %d cut, first has %d fields", len(recs), cuts, len(recs[0]))
	}
	path := filepath.Join(t.TempDir(), "wide.csv")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := Extract(context.Background(), path, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	text := 0
	for _, blk := range doc.Blocks {
		text += len(blk.Text)
	}
	if text > 2*maxCSVRowBytes+1024 {
		t.Fatalf("kept %d bytes of text from two rows", text)
	}
	if !strings.Contains(strings.Join(doc.Warnings, "\n"), "more than 1000 columns") {
		t.Fatalf("no warning about the cut: %q", doc.Warnings)
	}
}

// BenchmarkWideCSV: a 6-million-column, two-row CSV (65 MB). Peak RSS is
// the test process's high-water mark (run this benchmark alone to read it):
// encoding/csv held every field of a row at once (about 690 MB for
// `atoll ingest` of this file); the bounded reader keeps 1000.
func BenchmarkWideCSV(b *testing.B) {
	path := wideCSV(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Extract(context.Background(), path, DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPeakRSS(b)
}

// BenchmarkWideCSVReference reads the same file's records with
// encoding/csv, as ingestion did before (run alone for its peak RSS).
func BenchmarkWideCSVReference(b *testing.B) {
	path := wideCSV(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		r := csv.NewReader(strings.NewReader(string(data)))
		r.LazyQuotes, r.FieldsPerRecord, r.ReuseRecord = true, -1, true
		for {
			if _, err := r.Read(); err != nil {
				break
			}
		}
	}
	b.StopTimer()
	reportPeakRSS(b)
}

func reportPeakRSS(b *testing.B) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
	}
}

func wideCSV(b *testing.B) string {
	const n = 6000000
	path := filepath.Join(b.TempDir(), "wide.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for row := 0; row < 2; row++ {
		for i := 0; i < n; i++ {
			if i > 0 {
				w.WriteByte(',')
			}
			if row == 0 {
				fmt.Fprintf(w, "h%d", i)
			} else {
				w.WriteByte(byte('0' + i%10))
			}
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}
