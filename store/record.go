package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
	"unsafe"
)

// docs.log records are binary: JSON spent most of the time of opening a
// large knowledge base (about 1.5 s of 5 for 100k chunks) on escaping and
// allocating. The first byte says what follows:
//
//	'P' put:    a Doc, fields in the order of encodeDoc
//	'D' delete: uvarint length + path
//	'{'         a JSON docRecord written by Atoll 0.1 (still read)
//
// Strings are uvarint length + bytes; integers are varints. Decoded strings
// point into the log's bytes (read once per open and never modified), so
// replaying 100k chunks allocates their texts zero times.

const (
	recPut = 'P'
	recDel = 'D'
)

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
	b := make([]byte, 0, n)
	b = append(b, recPut)
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
	case recPut:
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
		if r.err != nil || len(r.b) != 0 {
			return docRecord{}, errRecord
		}
		return docRecord{Op: "put", Doc: d}, nil
	}
	return docRecord{}, errRecord
}
