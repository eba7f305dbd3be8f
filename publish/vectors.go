package publish

import (
	"encoding/binary"
	"fmt"
	"math"
)

// maxDims bounds a vector's length; the record format stores it in a u16.
const maxDims = math.MaxUint16

// vectors.bin is a plain sequence of records, no header, all little-endian:
//
//	u16 key length K | K bytes key (store.TextKey of the chunk text) | u16 dims D | D × float32
//
// It is the store's own vector record (store/vectors.go) without the log
// framing: the manifest's sha256 already guards the whole file.

func appendVector(b []byte, key string, v []float32) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// readVectors decodes vectors.bin, calling fn for every record. Every record
// must have dims dimensions and finite values.
func readVectors(b []byte, dims int, fn func(key string, v []float32) error) error {
	for n := 0; len(b) > 0; n++ {
		if len(b) < 2 {
			return fmt.Errorf("record %d is cut short", n+1)
		}
		kl := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if kl == 0 || len(b) < kl+2 {
			return fmt.Errorf("record %d has a bad key", n+1)
		}
		key := string(b[:kl])
		b = b[kl:]
		d := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if d != dims {
			return fmt.Errorf("record %d has %d dimensions where the manifest says %d", n+1, d, dims)
		}
		if len(b) < 4*d {
			return fmt.Errorf("record %d is cut short", n+1)
		}
		v := make([]float32, d)
		for i := range v {
			f := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return fmt.Errorf("record %d holds a value that is not a finite number", n+1)
			}
			v[i] = f
		}
		b = b[4*d:]
		if err := fn(key, v); err != nil {
			return err
		}
	}
	return nil
}
