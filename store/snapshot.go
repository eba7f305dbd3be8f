package store

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"unsafe"
)

// index.snap caches the search index of a knowledge base so that opening
// one does not tokenise and quantise everything again (100k chunks: 5 s
// rebuilt). It is only a cache: docs.log and the vector logs stay the truth.
// It names the state of docs.log it was taken at (the size and the
// checksum of the last record); on open, the log is replayed up to there,
// the index restored, and any records after it applied as usual. A snapshot
// that is missing, damaged, from another embedding model or for a log state
// that no longer exists is ignored and the index rebuilt (then a fresh
// snapshot written in the background).
//
//	"ATKB" version:u32 docsEnd:u64 docsLast:u32 modelLen:u32 model
//	padding to 8 bytes, then the rag index snapshot (rag.WriteSnapshot)

const snapFile = "index.snap"

var kbSnapMagic = [4]byte{'A', 'T', 'K', 'B'}

const kbSnapVersion = 1

type snapHeader struct {
	docsEnd  int64
	docsLast uint32
	model    string
}

// readSnapshot returns the header and the index part (8-byte aligned), or
// ok false when there is no usable snapshot.
func readSnapshot(dir string) (h snapHeader, index []byte, ok bool) {
	f, err := os.Open(filepath.Join(dir, snapFile))
	if err != nil {
		return h, nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() < 24 || st.Size() > 1<<40 {
		return h, nil, false
	}
	words := make([]uint64, (st.Size()+7)/8) // aligned for the index's arrays
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)[:st.Size()]
	if _, err := io.ReadFull(f, buf); err != nil {
		return h, nil, false
	}
	if [4]byte(buf[:4]) != kbSnapMagic || binary.LittleEndian.Uint32(buf[4:]) != kbSnapVersion {
		return h, nil, false
	}
	h.docsEnd = int64(binary.LittleEndian.Uint64(buf[8:]))
	h.docsLast = binary.LittleEndian.Uint32(buf[16:])
	ml := int(binary.LittleEndian.Uint32(buf[20:]))
	if ml > 4096 || 24+ml > len(buf) {
		return h, nil, false
	}
	h.model = string(buf[24 : 24+ml])
	start := (24 + ml + 7) &^ 7
	if start >= len(buf) {
		return h, nil, false
	}
	return h, buf[start:], true
}

// writeSnapshot writes the header and the index atomically.
func writeSnapshot(dir string, h snapHeader, index func(io.Writer) error) error {
	return writeAtomically(filepath.Join(dir, snapFile), 0o600, func(w io.Writer) error {
		hdr := make([]byte, 0, 32+len(h.model))
		hdr = append(hdr, kbSnapMagic[:]...)
		hdr = binary.LittleEndian.AppendUint32(hdr, kbSnapVersion)
		hdr = binary.LittleEndian.AppendUint64(hdr, uint64(h.docsEnd))
		hdr = binary.LittleEndian.AppendUint32(hdr, h.docsLast)
		hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(h.model)))
		hdr = append(hdr, h.model...)
		for len(hdr)%8 != 0 {
			hdr = append(hdr, 0)
		}
		if _, err := w.Write(hdr); err != nil {
			return err
		}
		return index(w)
	})
}

func removeSnapshot(dir string) error {
	err := os.Remove(filepath.Join(dir, snapFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
