package store

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// A record log is the unit of crash safety: every record is framed as
// [length uint32][crc32 uint32][payload], appended and fsynced. On open, the
// first frame that is short or fails its checksum marks where a crash cut the
// file; everything from there on is truncated away, so a kill -9 during a
// write loses at most the record being written and never yields half of one.

const frameHeader = 8

// maxRecord bounds one record so a corrupt length cannot make us allocate
// gigabytes. The largest records are whole documents' chunk lists.
const maxRecord = 512 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

type recordLog struct {
	f    *os.File
	info os.FileInfo // which file: another process's compaction replaces it
	size int64       // the end of the last intact record this process has read or written
	last uint32      // checksum of the last record: with size, it identifies a state of the log
}

// openLog replays every intact record through fn and leaves the file open
// for appending. The file is read whole, once: each payload handed to fn is a
// slice of that buffer, valid (and never modified) for as long as fn's caller
// keeps it, so decoders may point into it. end is the offset just past the
// record. With repair (only under the writer lock), a torn tail is cut off;
// without it, what follows the last intact record may be another process's
// write in progress, and is left alone.
func openLog(path string, repair bool, fn func(payload []byte, end int64) error) (*recordLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("couldn't open %s: %w", path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	data, err := readAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	good, last, err := replay(data, fn)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	l := &recordLog{f: f, info: info, size: good, last: last}
	if repair && int64(len(data)) != good {
		if err := l.cut(); err != nil {
			f.Close()
			return nil, fmt.Errorf("couldn't repair %s: %w", path, err)
		}
	}
	return l, nil
}

// cut drops whatever follows the last intact record: a crash's torn tail.
// Only the writer-lock holder may call it.
func (l *recordLog) cut() error {
	if err := l.f.Truncate(l.size); err != nil {
		return err
	}
	return l.f.Sync()
}

// catchUp reads the records other processes appended since this one last
// read or wrote, handing each to fn as openLog does. With repair (under the
// writer lock), a torn tail after them is cut off.
func (l *recordLog) catchUp(repair bool, fn func(payload []byte, end int64) error) error {
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == l.size {
		return nil
	}
	data := make([]byte, st.Size()-l.size)
	n, err := l.f.ReadAt(data, l.size)
	if err != nil && err != io.EOF {
		return err
	}
	base := l.size
	good, last, err := replay(data[:n], func(p []byte, end int64) error { return fn(p, base+end) })
	if err != nil {
		return err
	}
	if good > 0 {
		l.size += good
		l.last = last
	}
	if repair && st.Size() > l.size {
		return l.cut()
	}
	return nil
}

// changed reports whether the file at path is no longer the one this log has
// open (replaced by a compaction, or the knowledge base deleted), or shorter
// than what was read (which only a replacement can make it).
func (l *recordLog) changed(path string) (replaced bool, grown bool, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return true, false, err
	}
	if !os.SameFile(st, l.info) || st.Size() < l.size {
		return true, false, nil
	}
	return false, st.Size() > l.size, nil
}

func readAll(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size())
	n, err := io.ReadFull(f, data)
	if err == io.ErrUnexpectedEOF { // shrank while reading: use what is there
		err = nil
	}
	return data[:n], err
}

// replay returns the offset just past the last intact record, and that
// record's checksum.
func replay(data []byte, fn func([]byte, int64) error) (off int64, last uint32, err error) {
	for {
		rest := data[off:]
		if len(rest) < frameHeader {
			return off, last, nil // clean end or torn header
		}
		n := binary.LittleEndian.Uint32(rest[0:4])
		sum := binary.LittleEndian.Uint32(rest[4:8])
		// A zero length is never written: it is a hole, not a record.
		if n == 0 || n > maxRecord || int64(n) > int64(len(rest)-frameHeader) {
			return off, last, nil
		}
		p := rest[frameHeader : frameHeader+int(n) : frameHeader+int(n)]
		if crc32.Checksum(p, crcTable) != sum {
			return off, last, nil
		}
		end := off + frameHeader + int64(n)
		if err := fn(p, end); err != nil {
			return off, last, err
		}
		off, last = end, sum
	}
}

// append writes records as one write and fsyncs: the batch lands together or,
// after a crash, its torn tail is dropped on the next open.
func (l *recordLog) append(payloads ...[]byte) error {
	total := 0
	for _, p := range payloads {
		if len(p) > maxRecord {
			return errors.New("record too large")
		}
		total += frameHeader + len(p)
	}
	out := make([]byte, 0, total)
	for _, p := range payloads {
		out = appendFrame(out, p)
	}
	// At the known end, not the file position: under the writer lock the
	// known end is the file's end (refresh caught up first).
	if _, err := l.f.WriteAt(out, l.size); err != nil {
		// Roll back a partial write so the next append starts on a frame boundary.
		_ = l.f.Truncate(l.size)
		return err
	}
	if err := l.f.Sync(); err != nil {
		return err
	}
	l.size += int64(total)
	if len(payloads) > 0 {
		l.last = crc32.Checksum(payloads[len(payloads)-1], crcTable)
	}
	return nil
}

func (l *recordLog) close() error { return l.f.Close() }

// appendFrame frames one record: [length][crc32][payload].
func appendFrame(out, p []byte) []byte {
	out = binary.LittleEndian.AppendUint32(out, uint32(len(p)))
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(p, crcTable))
	return append(out, p...)
}

// writeLogAtomically writes a fresh log to path through a temporary file and a
// rename, so a crash leaves either the old log or the new one.
func writeLogAtomically(path string, payloads func(emit func([]byte) error) error) error {
	return writeAtomically(path, 0o600, func(w io.Writer) error {
		var hdr [frameHeader]byte
		return payloads(func(p []byte) error {
			binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(p)))
			binary.LittleEndian.PutUint32(hdr[4:8], crc32.Checksum(p, crcTable))
			if _, err := w.Write(hdr[:]); err != nil {
				return err
			}
			_, err := w.Write(p)
			return err
		})
	})
}

// writeAtomically writes path through a temporary file (buffered), fsync and
// rename: after a crash the file is either the old one or the new one.
func writeAtomically(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	// A name of its own, so two writers of one file never share a temporary.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
