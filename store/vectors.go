package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"unsafe"

	chromem "github.com/philippgille/chromem-go"
)

// vectorSet is one embedding model's vectors for a knowledge base: durable in
// a framed log (chromem-go's own persistence writes a gob file per document,
// which its maintainer advises against at this scale), live in an in-memory
// chromem-go collection keyed by chunk text hash.
type vectorSet struct {
	model string
	dims  int
	log   *recordLog
	coll  *chromem.Collection
	// filled is closed once the collection holds the vectors read at open:
	// filling it runs beside the rest of opening (it is not needed to search).
	filled  chan struct{}
	fillErr error
	// byKey shares its slices with the collection's documents and with the
	// search index: chromem-go's GetByID copies every vector, too slow for
	// opening a large knowledge base. The slices point into the log's bytes
	// as read at open (or the caller's vectors) and are never modified.
	byKey map[string][]float32
}

var unsafeFile = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// refuseEmbedding is the collection's embedding function. chromem-go falls
// back to OpenAI's API when given nil; Atoll always supplies vectors itself,
// so anything reaching this function is a bug, and nothing leaves the machine.
func refuseEmbedding(context.Context, string) ([]float32, error) {
	return nil, errors.New("atoll computes embeddings itself; the store never embeds")
}

func vectorsFile(dir, model string) string {
	return filepath.Join(dir, "vectors-"+unsafeFile.ReplaceAllString(model, "_")+".log")
}

func openVectors(dir, model string, repair bool) (*vectorSet, error) {
	db := chromem.NewDB()
	coll, err := db.CreateCollection("v", nil, refuseEmbedding)
	if err != nil {
		return nil, err
	}
	vs := &vectorSet{model: model, coll: coll, byKey: map[string][]float32{}, filled: make(chan struct{})}
	var docs []chromem.Document
	lg, err := openLog(vectorsFile(dir, model), repair, func(p []byte, _ int64) error {
		if key, vec, ok := vs.decode(p); ok {
			docs = append(docs, chromem.Document{ID: key, Embedding: vec, Content: key})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	vs.log = lg
	go func() {
		defer close(vs.filled)
		for i := 0; i < len(docs); i += 4096 {
			if err := coll.AddDocuments(context.Background(), docs[i:min(i+4096, len(docs))], 2); err != nil {
				vs.fillErr = err
				return
			}
		}
	}()
	return vs, nil
}

// decode reads one record into byKey; ok reports a key not seen before.
func (vs *vectorSet) decode(p []byte) (key string, vec []float32, ok bool) {
	key, vec, ok = decodeVector(p)
	if !ok {
		return "", nil, false
	}
	if vs.dims == 0 {
		vs.dims = len(vec)
	}
	if len(vec) != vs.dims {
		return "", nil, false // a vector of another shape never mixes in
	}
	_, dup := vs.byKey[key]
	vs.byKey[key] = vec
	return key, vec, !dup
}

// catchUp reads the vectors other processes stored since this one last read
// or wrote the log, and returns their keys.
func (vs *vectorSet) catchUp(ctx context.Context, repair bool) ([]string, error) {
	<-vs.filled
	if vs.fillErr != nil {
		return nil, fmt.Errorf("couldn't load the stored vectors: %w", vs.fillErr)
	}
	var keys []string
	var docs []chromem.Document
	err := vs.log.catchUp(repair, func(p []byte, _ int64) error {
		if key, vec, ok := vs.decode(p); ok {
			keys = append(keys, key)
			docs = append(docs, chromem.Document{ID: key, Embedding: vec, Content: key})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't read vectors stored by another process: %w", err)
	}
	if len(docs) > 0 {
		if err := vs.coll.AddDocuments(ctx, docs, 2); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func (vs *vectorSet) get(key string) ([]float32, bool) {
	v, ok := vs.byKey[key]
	return v, ok
}

func (vs *vectorSet) add(ctx context.Context, keys []string, vecs [][]float32) error {
	if len(keys) != len(vecs) {
		return fmt.Errorf("%d keys for %d vectors", len(keys), len(vecs))
	}
	if len(keys) == 0 {
		return nil
	}
	payloads := make([][]byte, len(keys))
	docs := make([]chromem.Document, len(keys))
	for i, k := range keys {
		if vs.dims == 0 {
			vs.dims = len(vecs[i])
		}
		if len(vecs[i]) != vs.dims {
			return fmt.Errorf("the model %s gave a vector of %d dimensions where this knowledge base holds %d", vs.model, len(vecs[i]), vs.dims)
		}
		payloads[i] = encodeVector(k, vecs[i])
		docs[i] = chromem.Document{ID: k, Embedding: vecs[i], Content: k}
	}
	<-vs.filled
	if vs.fillErr != nil {
		return fmt.Errorf("couldn't load the stored vectors: %w", vs.fillErr)
	}
	if err := vs.log.append(payloads...); err != nil {
		return fmt.Errorf("couldn't store vectors: %w", err)
	}
	for i, k := range keys {
		vs.byKey[k] = vecs[i]
	}
	return vs.coll.AddDocuments(ctx, docs, 2)
}

func (vs *vectorSet) close() {
	<-vs.filled
	if vs.log != nil {
		vs.log.close()
	}
}

func encodeVector(key string, v []float32) []byte {
	b := make([]byte, 0, 2+len(key)+2+4*len(v))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// decodeVector reads a vector record. On little-endian machines, when the
// floats are 4-byte aligned in b (they are in a log read whole: the header,
// a 24-byte key and the two lengths add up to 36 bytes), the vector is b's
// bytes themselves, not a copy.
func decodeVector(b []byte) (string, []float32, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	kl := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	if len(b) < kl+2 {
		return "", nil, false
	}
	key := string(b[:kl]) // a copy: map lookups compare keys, and 100k keys 3 KB apart miss the cache each time
	b = b[kl:]
	n := int(binary.LittleEndian.Uint16(b))
	b = b[2:]
	if len(b) != 4*n || n == 0 {
		return "", nil, false
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return key, unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n), true
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return key, v, true
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
