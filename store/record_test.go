package store

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"atoll/rag"
)

// oldPut is a 'P' record as encodePut wrote it before OCR boxes existed
// (made by that version's code): a document with one chunk.
const oldPut = "500e2f6f6c642f7072696365732e6d64097072696365732e6d64086d61726b646f776e0268315402026f6b00010177000001026331026b3102010543616b6573002c1663686f636f6c6174652063616b65203338206575726f"

func ocrDoc() Doc {
	return Doc{Path: "/scans/contract.pdf", Name: "contract.pdf", Format: "pdf", Hash: "h2", Size: 9000, Pages: 3, Status: StatusOK,
		Warnings: []string{"page 3 is a scan waiting for OCR"}, OCRPending: []int{3},
		Chunks: []Chunk{
			{ID: "t1", Key: TextKey("typed page"), Page: 1, Text: "typed page", End: 10},
			{ID: "s1", Key: TextKey("signed by both parties"), Page: 2, Start: 12, End: 34, Text: "signed by both parties",
				Boxes: []rag.Box{{Page: 2, X0: 0.1, Y0: 0.2, X1: 0.4567, Y1: 0.25}, {Page: 2, X0: 0, Y0: 0.9999, X1: 1, Y1: 1}}},
		}}
}

// Old records read as before, and a document without OCR is still written
// byte for byte as they were, so older versions read new logs of text files.
func TestOldRecordsRoundTrip(t *testing.T) {
	old, _ := hex.DecodeString(oldPut)
	r, err := decodeRecord(old)
	if err != nil || r.Op != "put" || r.Doc.Path != "/old/prices.md" || len(r.Doc.Chunks) != 1 || r.Doc.Chunks[0].Text != "chocolate cake 38 euro" {
		t.Fatalf("old record: %v %+v", err, r.Doc)
	}
	if r.Doc.OCRPending != nil || r.Doc.Chunks[0].Boxes != nil {
		t.Fatalf("an old record has no OCR: %+v", r.Doc)
	}
	if again := encodePut(r.Doc); !bytes.Equal(again, old) {
		t.Fatalf("a text document is no longer written as before:\n%x\n%x", again, old)
	}
}

func TestOCRRecordRoundTrip(t *testing.T) {
	in := ocrDoc()
	b := encodePut(&in)
	if b[0] != recPutOCR {
		t.Fatalf("record type %q, want %q", b[0], recPutOCR)
	}
	out, err := decodeRecord(b)
	if err != nil || !reflect.DeepEqual(*out.Doc, in) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, out.Doc, in)
	}
	for i := 1; i < len(b); i++ {
		if _, err := decodeRecord(b[:i]); err == nil {
			t.Fatalf("a record cut at %d of %d decoded", i, len(b))
		}
	}
	only := Doc{Path: "/img.png", Status: StatusOK, OCRPending: []int{1}}
	if out, err := decodeRecord(encodePut(&only)); err != nil || !reflect.DeepEqual(*out.Doc, only) {
		t.Fatalf("pending only: %v %+v", err, out.Doc)
	}
}

// A log written before boxes existed opens, takes documents with boxes
// beside its old records, and both survive a reopen and a compaction.
func TestOldLogTakesOCRDocuments(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "")
	st.Close()
	old, _ := hex.DecodeString(oldPut)
	var frame []byte
	frame = binary.LittleEndian.AppendUint32(frame, uint32(len(old)))
	frame = binary.LittleEndian.AppendUint32(frame, crc32.Checksum(old, crcTable))
	frame = append(frame, old...)
	if err := os.WriteFile(filepath.Join(dir, "kb", "kb", "docs.log"), frame, 0o600); err != nil {
		t.Fatal(err)
	}
	st, kb := reopen(t, dir)
	if err := kb.Put(ocrDoc()); err != nil {
		t.Fatal(err)
	}
	check := func(kb *KB) {
		t.Helper()
		d, ok := kb.Doc("/scans/contract.pdf")
		if !ok || !reflect.DeepEqual(d.OCRPending, []int{3}) || len(d.Chunks) != 2 || len(d.Chunks[1].Boxes) != 2 || d.Chunks[1].Boxes[0].X1 != 0.4567 {
			t.Fatalf("OCR document after reopen: %+v", d)
		}
		hits := kb.Search(rag.Query{Text: "signed parties", K: 3})
		if len(hits) == 0 || hits[0].Page != 2 || len(hits[0].Boxes) != 2 || hits[0].Boxes[0] != (rag.Box{Page: 2, X0: 0.1, Y0: 0.2, X1: 0.4567, Y1: 0.25}) {
			t.Fatalf("a hit on the scan should carry its boxes: %+v", hits)
		}
		if hits := kb.Search(rag.Query{Text: "chocolate cake", K: 3}); len(hits) == 0 || hits[0].Source != "/old/prices.md" || hits[0].Boxes != nil {
			t.Fatalf("the old document: %+v", hits)
		}
	}
	check(kb)
	st.Close()
	st, kb = reopen(t, dir)
	check(kb)
	if err := kb.compact(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, kb = reopen(t, dir)
	defer st.Close()
	check(kb)
}

func TestSetOCRLang(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir)
	st.Create("kb", "")
	kb, _ := st.KB("kb")
	if kb.Meta().OCRLang != "" {
		t.Fatal("a new knowledge base picks the OCR language per page")
	}
	if err := kb.SetOCRLang("chi_sim"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, kb = reopen(t, dir)
	defer st.Close()
	if got := kb.Meta().OCRLang; got != "chi_sim" {
		t.Fatalf("OCR language after reopen: %q", got)
	}
}
