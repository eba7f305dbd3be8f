package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"
	"unsafe"

	"atoll/rag"
)

// docs.log records are binary: JSON spent most of the time of opening a
// large knowledge base (about 1.5 s of 5 for 100k chunks) on escaping and
// allocating. The first byte says what follows:
//
//	'P' put:    a Doc, fields in the order of encodePut
//	'Q' put:    the same, then the OCR section (pending pages, chunk boxes);
//	            written only for documents that have one, so a log without
//	            scans stays readable by versions that know only 'P'
//	'D' delete: uvarint length + path
//	'{'         a JSON docRecord written by Atoll 0.1 (still read)
//
// Strings are uvarint length + bytes; integers are varints. Decoded strings
// point into the log's bytes (read once per open and never modified), so
// replaying 100k chunks allocates their texts zero times.

const (
	recPut    = 'P'
	recPutOCR = 'Q'
	recDel    = 'D'
)

// boxScale stores box coordinates (fractions of the page) as integers:
// 1/10000 of a page is a third of a pixel on a 300 dpi scan.
const boxScale = 10000

// maxBoxCoord bounds a stored coordinate (2.0: boxes are within 0..1).
const maxBoxCoord = 2 * boxScale

func boxCoord(x float64) uint64 {
	return uint64(math.Round(min(max(x, 0), 2) * boxScale))
}

type docRecord struct {
	Op   string `json:"op"` // "put" or "del"
	Doc  *Doc   `json:"doc,omitempty"`
	Path string `json:"path,omitempty"`
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func encodePut(d *Doc) []byte {
	n := 64 + len(d.Path) + len(d.Name) + len(d.Error)
	for _, c := range d.Chunks {
		n += 48 + len(c.ID) + len(c.Key) + len(c.Text)
		for _, h := range c.Headings {
			n += 2 + len(h)
		}
	}
	ocr := len(d.OCRPending) > 0
	for _, c := range d.Chunks {
		n += 24 * len(c.Boxes)
		ocr = ocr || len(c.Boxes) > 0
	}
	b := make([]byte, 0, n)
	if ocr {
		b = append(b, recPutOCR)
	} else {
		b = append(b, recPut)
	}
	b = appendString(b, d.Path)
	b = appendString(b, d.Name)
	b = appendString(b, d.Format)
	b = appendString(b, d.Hash)
	b = binary.AppendVarint(b, d.Size)
	b = binary.AppendVarint(b, int64(d.Pages))
	b = appendString(b, d.Status)
	b = appendString(b, d.Error)
	b = appendStrings(b, d.Warnings)
	b = appendString(b, d.Root)
	var ns int64 // the zero time has no UnixNano
	if !d.Ingested.IsZero() {
		ns = d.Ingested.UnixNano()
	}
	b = binary.AppendVarint(b, ns)
	b = binary.AppendUvarint(b, uint64(len(d.Chunks)))
	for _, c := range d.Chunks {
		b = appendString(b, c.ID)
		b = appendString(b, c.Key)
		b = binary.AppendVarint(b, int64(c.Page))
		b = appendStrings(b, c.Headings)
		b = binary.AppendVarint(b, int64(c.Start))
		b = binary.AppendVarint(b, int64(c.End))
		b = appendString(b, c.Text)
	}
	if ocr {
		b = binary.AppendUvarint(b, uint64(len(d.OCRPending)))
		for _, p := range d.OCRPending {
			b = binary.AppendVarint(b, int64(p))
		}
		boxed := 0
		for _, c := range d.Chunks {
			if len(c.Boxes) > 0 {
				boxed++
			}
		}
		b = binary.AppendUvarint(b, uint64(boxed))
		for i, c := range d.Chunks {
			if len(c.Boxes) == 0 {
				continue
			}
			b = binary.AppendUvarint(b, uint64(i))
			b = binary.AppendUvarint(b, uint64(len(c.Boxes)))
			for _, x := range c.Boxes {
				b = binary.AppendVarint(b, int64(x.Page))
				b = binary.AppendUvarint(b, boxCoord(x.X0))
				b = binary.AppendUvarint(b, boxCoord(x.Y0))
				b = binary.AppendUvarint(b, boxCoord(x.X1))
				b = binary.AppendUvarint(b, boxCoord(x.Y1))
			}
		}
	}
	return b
}

func encodeDel(path string) []byte {
	return appendString([]byte{recDel}, path)
}

var errRecord = errors.New("malformed record")

// reader decodes from a payload whose bytes outlive every string it returns.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errRecord
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int() int { return int(r.varint()) }

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errRecord
		return ""
	}
	if n == 0 {
		return ""
	}
	s := unsafe.String(&r.b[0], int(n))
	r.b = r.b[n:]
	return s
}

func (r *reader) strings() []string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) { // each string takes at least one byte
		r.err = errRecord
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

// ocr reads a 'Q' record's OCR section into d. Boxed chunks come in
// increasing order, each with at least one box, so that a record that
// decodes encodes back to the same bytes.
func (r *reader) ocr(d *Doc) {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errRecord
		return
	}
	if n > 0 {
		d.OCRPending = make([]int, n)
	}
	for i := range d.OCRPending {
		d.OCRPending[i] = r.int()
	}
	boxed := r.uvarint()
	if r.err != nil || boxed > uint64(len(d.Chunks)) {
		r.err = errRecord
		return
	}
	next := uint64(0)
	for range boxed {
		i, k := r.uvarint(), r.uvarint()
		if r.err != nil || i < next || i >= uint64(len(d.Chunks)) || k == 0 || k > uint64(len(r.b)/5) {
			r.err = errRecord
			return
		}
		next = i + 1
		boxes := make([]rag.Box, k)
		for j := range boxes {
			x := &boxes[j]
			x.Page = r.int()
			var c [4]uint64
			for m := range c {
				if c[m] = r.uvarint(); c[m] > maxBoxCoord {
					r.err = errRecord
				}
			}
			x.X0, x.Y0 = float64(c[0])/boxScale, float64(c[1])/boxScale
			x.X1, x.Y1 = float64(c[2])/boxScale, float64(c[3])/boxScale
		}
		d.Chunks[i].Boxes = boxes
	}
	if n == 0 && boxed == 0 {
		r.err = errRecord // written as 'P'
	}
}

// decodeRecord reads one docs.log payload. The payload's bytes must never be
// modified afterwards: the returned strings share them.
func decodeRecord(p []byte) (docRecord, error) {
	if len(p) == 0 {
		return docRecord{}, errRecord
	}
	switch p[0] {
	case '{':
		var rec docRecord
		err := json.Unmarshal(p, &rec)
		return rec, err
	case recDel:
		r := reader{b: p[1:]}
		path := r.string()
		if r.err != nil || len(r.b) != 0 {
			return docRecord{}, errRecord
		}
		return docRecord{Op: "del", Path: path}, nil
	case recPut, recPutOCR:
		r := reader{b: p[1:]}
		d := &Doc{}
		d.Path = r.string()
		d.Name = r.string()
		d.Format = r.string()
		d.Hash = r.string()
		d.Size = r.varint()
		d.Pages = r.int()
		d.Status = r.string()
		d.Error = r.string()
		d.Warnings = r.strings()
		d.Root = r.string()
		if ns := r.varint(); ns != 0 {
			d.Ingested = time.Unix(0, ns).UTC()
		}
		n := r.uvarint()
		if r.err != nil || n > uint64(len(r.b)) {
			return docRecord{}, errRecord
		}
		if n > 0 {
			d.Chunks = make([]Chunk, n)
		}
		for i := range d.Chunks {
			c := &d.Chunks[i]
			c.ID = r.string()
			c.Key = r.string()
			c.Page = r.int()
			c.Headings = r.strings()
			c.Start = r.int()
			c.End = r.int()
			c.Text = r.string()
		}
		if p[0] == recPutOCR {
			r.ocr(d)
		}
		if r.err != nil || len(r.b) != 0 {
			return docRecord{}, errRecord
		}
		return docRecord{Op: "put", Doc: d}, nil
	}
	return docRecord{}, errRecord
}
