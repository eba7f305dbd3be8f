package rag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unsafe"
)

// A snapshot is the index's derived state: posting lists, field lengths and
// the vector codes. Rebuilding them means tokenising every passage and
// quantising every vector (about 3 s for 100k passages on two cores);
// reading them back is a few large copies. Passages and float vectors are
// not in it: the caller holds them already and hands them back on restore.
//
// Layout (little-endian; every array starts 8-byte aligned so it can be
// used in place):
//
//	"ATIX" version:u32
//	slots:u64  idBlob:u64  [idBlob]byte  idLen[slots]u32 (0 = empty slot)
//	bodyLen[slots]i32  headLen[slots]i32  hasVec[slots]u8
//	free:u64 [free]i64  dead live bodyLen headLen :i64
//	terms:u64 termBlob:u64 [termBlob]byte termLen[terms]u32 df[terms]i32
//	count[terms]u32 postings:u64 [postings]{slot i32, body u16, head u16}
//	dims words count centredAt vecSlots :u64
//	sum[dims]f64 mean[dims]f32 spread[dims]f32 present[vecSlots]u8
//	scales[vecSlots]f32 ones[vecSlots]u16 codes[vecSlots*dims]i8
//	signs[vecSlots*words]u64
//	crc32c of everything before it:u32

const snapshotVersion = 1

var snapMagic = [4]byte{'A', 'T', 'I', 'X'}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// littleEndian: snapshots store arrays in memory order, so only
// little-endian machines (amd64, arm64) write or read them; elsewhere the
// caller rebuilds the index as it would without a snapshot.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// ErrSnapshot means a snapshot cannot be used (damaged, from another
// version, or not matching the passages it is restored with); the caller
// rebuilds the index instead.
var ErrSnapshot = errors.New("index snapshot unusable")

type snapWriter struct {
	w   io.Writer
	crc uint32
	n   int64
	err error
}

func (s *snapWriter) bytes(b []byte) {
	if s.err != nil || len(b) == 0 {
		return
	}
	s.crc = crc32.Update(s.crc, crcTable, b)
	s.n += int64(len(b))
	_, s.err = s.w.Write(b)
}

func (s *snapWriter) pad() {
	var zero [8]byte
	if r := s.n % 8; r != 0 {
		s.bytes(zero[:8-r])
	}
}

func (s *snapWriter) u64(x uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], x)
	s.bytes(b[:])
}

func asBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z)))
}

func writeArray[T any](s *snapWriter, a []T) {
	s.pad()
	s.bytes(asBytes(a))
}

// WriteSnapshot writes the index's derived state to w.
func (ix *Index) WriteSnapshot(w io.Writer) error {
	if !littleEndian {
		return fmt.Errorf("%w: not a little-endian machine", ErrSnapshot)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := &snapWriter{w: w}
	s.bytes(snapMagic[:])
	var ver [4]byte
	binary.LittleEndian.PutUint32(ver[:], snapshotVersion)
	s.bytes(ver[:])

	// Slots.
	n := len(ix.docs)
	idLen := make([]uint32, n)
	hasVec := make([]uint8, n)
	blob := 0
	for i, d := range ix.docs {
		if d != nil {
			idLen[i] = uint32(len(d.p.ID))
			blob += len(d.p.ID)
			if d.hasVec {
				hasVec[i] = 1
			}
		}
	}
	s.u64(uint64(n))
	s.u64(uint64(blob))
	ids := make([]byte, 0, blob)
	for _, d := range ix.docs {
		if d != nil {
			ids = append(ids, d.p.ID...)
		}
	}
	s.bytes(ids)
	writeArray(s, idLen)
	writeArray(s, ix.bodyLens)
	writeArray(s, ix.headLens)
	writeArray(s, hasVec)
	s.pad()
	s.u64(uint64(len(ix.free)))
	for _, f := range ix.free {
		s.u64(uint64(f))
	}
	for _, x := range []int{ix.dead, ix.live, ix.bodyLen, ix.headLen} {
		s.u64(uint64(x))
	}

	// Terms and postings.
	nt := len(ix.terms)
	termLen := make([]uint32, 0, nt)
	df := make([]int32, 0, nt)
	count := make([]uint32, 0, nt)
	var termBlob []byte
	total := 0
	lists := make([][]posting, 0, nt)
	for t, ps := range ix.terms {
		termBlob = append(termBlob, t...)
		termLen = append(termLen, uint32(len(t)))
		df = append(df, int32(ps.df))
		count = append(count, uint32(len(ps.list)))
		lists = append(lists, ps.list)
		total += len(ps.list)
	}
	s.u64(uint64(nt))
	s.u64(uint64(len(termBlob)))
	s.bytes(termBlob)
	writeArray(s, termLen)
	writeArray(s, df)
	writeArray(s, count)
	s.pad()
	s.u64(uint64(total))
	for _, l := range lists {
		s.bytes(asBytes(l))
	}

	// Vectors (codes only: the floats are the caller's).
	v := ix.vec
	vn := len(v.present)
	s.pad()
	for _, x := range []int{v.dims, v.words, v.count, v.centredAt, vn} {
		s.u64(uint64(x))
	}
	if v.dims > 0 {
		present := make([]uint8, vn)
		for k, ok := range v.present {
			if ok {
				present[k] = 1
			}
		}
		writeArray(s, v.sum)
		writeArray(s, v.mean)
		writeArray(s, v.spread)
		writeArray(s, present)
		writeArray(s, v.scales[:vn])
		writeArray(s, v.ones[:vn])
		writeArray(s, v.codes[:vn*v.dims])
		writeArray(s, v.signs[:vn*v.words])
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], s.crc)
	if s.err == nil {
		_, s.err = w.Write(sum[:])
	}
	return s.err
}

type snapReader struct {
	b   []byte
	off int
	err error
}

func (r *snapReader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.err = ErrSnapshot
		return nil
	}
	b := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *snapReader) pad() {
	if m := r.off % 8; m != 0 {
		r.take(8 - m)
	}
}

func (r *snapReader) u64() int {
	b := r.take(8)
	if b == nil {
		return 0
	}
	x := binary.LittleEndian.Uint64(b)
	if x > 1<<40 {
		r.err = ErrSnapshot
		return 0
	}
	return int(x)
}

// readArray returns n elements of T in place (the slice shares r.b).
func readArray[T any](r *snapReader, n int) []T {
	r.pad()
	var z T
	size := int(unsafe.Sizeof(z))
	if n < 0 || n > (len(r.b)-r.off)/size {
		r.err = ErrSnapshot
		return nil
	}
	b := r.take(n * size)
	if r.err != nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// RestoreIndex rebuilds an index from a snapshot. lookup returns, for a
// passage ID in the snapshot, the passage and its vector (nil when it has
// none); ok false, or a vector the snapshot does not expect, makes the
// snapshot unusable (ErrSnapshot). data must be 8-byte aligned, and is
// kept and modified by the index: the caller must not reuse it.
func RestoreIndex(data []byte, lookup func(id string) (p Passage, vec []float32, ok bool)) (*Index, error) {
	if !littleEndian || len(data) < 12 || uintptr(unsafe.Pointer(&data[0]))%8 != 0 {
		return nil, ErrSnapshot
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrSnapshot)
	}
	r := &snapReader{b: body}
	if [4]byte(r.take(4)) != snapMagic || binary.LittleEndian.Uint32(r.take(4)) != snapshotVersion {
		return nil, fmt.Errorf("%w: not a version %d snapshot", ErrSnapshot, snapshotVersion)
	}
	ix := NewIndex()

	n := r.u64()
	ids := string(r.take(r.u64()))
	idLen := readArray[uint32](r, n)
	ix.bodyLens = readArray[int32](r, n)
	ix.headLens = readArray[int32](r, n)
	hasVec := readArray[uint8](r, n)
	r.pad()
	nfree := r.u64()
	if r.err != nil || nfree > n {
		return nil, ErrSnapshot
	}
	ix.free = make([]int, nfree)
	for i := range ix.free {
		ix.free[i] = r.u64()
	}
	ix.dead, ix.live, ix.bodyLen, ix.headLen = r.u64(), r.u64(), r.u64(), r.u64()

	nt := r.u64()
	termBlob := string(r.take(r.u64()))
	termLen := readArray[uint32](r, nt)
	df := readArray[int32](r, nt)
	count := readArray[uint32](r, nt)
	r.pad()
	total := r.u64()
	all := readArray[posting](r, total)

	r.pad()
	v := ix.vec
	v.dims, v.words, v.count, v.centredAt = r.u64(), r.u64(), r.u64(), r.u64()
	vn := r.u64()
	if r.err != nil {
		return nil, ErrSnapshot
	}
	var present []uint8
	if v.dims > 0 {
		if v.words != (v.dims+63)/64 || vn > n || v.count > vn {
			return nil, ErrSnapshot
		}
		v.sum = append([]float64(nil), readArray[float64](r, v.dims)...)
		v.mean = readArray[float32](r, v.dims)
		v.spread = readArray[float32](r, v.dims)
		present = readArray[uint8](r, vn)
		v.scales = readArray[float32](r, vn)
		v.ones = readArray[uint16](r, vn)
		v.codes = readArray[int8](r, vn*v.dims)
		v.signs = readArray[uint64](r, vn*v.words)
	} else if vn != 0 || v.count != 0 {
		return nil, ErrSnapshot
	}
	if r.err != nil || r.off != len(body) {
		return nil, ErrSnapshot
	}

	// Slots and passages.
	ix.docs = make([]*doc, n)
	docs := make([]doc, n)
	ix.byID = make(map[string]int, n)
	v.present = make([]bool, vn)
	v.vecs = make([][]float32, vn)
	off := 0
	live, vecs := 0, 0
	for slot := 0; slot < n; slot++ {
		l := int(idLen[slot])
		if l == 0 {
			if ix.bodyLens[slot] != -1 {
				return nil, ErrSnapshot
			}
			continue
		}
		if off+l > len(ids) {
			return nil, ErrSnapshot
		}
		id := ids[off : off+l]
		off += l
		p, vec, ok := lookup(id)
		if !ok || p.ID != id {
			return nil, fmt.Errorf("%w: passage %s is gone", ErrSnapshot, id)
		}
		d := &docs[slot]
		d.p = p
		d.bodyLen, d.headLen = int(ix.bodyLens[slot]), int(ix.headLens[slot])
		d.hasVec = hasVec[slot] == 1
		if d.hasVec {
			if slot >= vn || present[slot] != 1 || len(vec) != v.dims {
				return nil, fmt.Errorf("%w: vector of %s missing", ErrSnapshot, id)
			}
			v.present[slot] = true
			v.vecs[slot] = vec
			vecs++
		}
		ix.docs[slot] = d
		ix.byID[id] = slot
		live++
	}
	for _, f := range ix.free {
		if f < 0 || f >= n || ix.docs[f] != nil {
			return nil, ErrSnapshot
		}
	}
	if live != ix.live || vecs != v.count || off != len(ids) {
		return nil, ErrSnapshot
	}
	ix.vecCount = vecs

	// Terms: each list is a window of the shared array, capped so an append
	// reallocates instead of running into the next term's postings.
	ix.terms = make(map[string]*postings, nt)
	slab := make([]postings, nt)
	toff, poff := 0, 0
	for i := 0; i < nt; i++ {
		l, c := int(termLen[i]), int(count[i])
		if toff+l > len(termBlob) || poff+c > len(all) {
			return nil, ErrSnapshot
		}
		ps := &slab[i]
		ps.df = int(df[i])
		ps.list = all[poff : poff+c : poff+c]
		ix.terms[termBlob[toff:toff+l]] = ps
		toff += l
		poff += c
	}
	if toff != len(termBlob) || poff != len(all) {
		return nil, ErrSnapshot
	}
	for _, p := range all {
		if p.slot < 0 || int(p.slot) >= n {
			return nil, ErrSnapshot
		}
	}
	return ix, nil
}
