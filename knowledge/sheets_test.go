package knowledge

import (
	"context"
	"path/filepath"
	"testing"

	"atoll/store"

	"github.com/xuri/excelize/v2"
)

// A search hit on a spreadsheet row cites the sheet and the row, and its
// text carries the column names.
func TestSearchCitesSheetAndRow(t *testing.T) {
	docs := t.TempDir()
	f := excelize.NewFile()
	f.SetSheetName("Sheet1", "Cakes")
	for cell, v := range map[string]any{"A1": "Size", "B1": "Flavour", "C1": "Price", "A2": "15 cm", "B2": "vanilla", "C2": 25, "A3": "20 cm", "B3": "chocolate", "C3": 38} {
		f.SetCellValue("Cakes", cell, v)
	}
	if err := f.SaveAs(filepath.Join(docs, "prices.xlsx")); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sum, err := New(st, nil).Run(context.Background(), "j", "kb", "", []string{docs}, nil)
	if err != nil || sum.OK != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	hits, err := (&Searcher{Store: st}).Search(context.Background(), []string{"kb"}, "chocolate", 3, nil)
	if err != nil || len(hits) == 0 {
		t.Fatalf("%v %v", hits, err)
	}
	h := hits[0]
	if len(h.Headings) == 0 || h.Headings[len(h.Headings)-1] != `Sheet "Cakes" · row 3` || h.Text != "Size: 20 cm · Flavour: chocolate · Price: 38" {
		t.Fatalf("top hit cites %q with %q", h.Headings, h.Text)
	}
}
