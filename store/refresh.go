package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Several processes may have one knowledge base open: the window, `atoll
// serve`, a command-line ingest, a search. Each keeps the documents and the
// index in memory and follows what the others write: before each change
// under the writer lock, and before each read when the files have grown.

// refresh brings the in-memory state up to date with the files. It runs
// under kb.mu (write). locked: this process holds the writer lock, so
// whatever follows the last intact record is a crash's torn tail and may be
// cut; without it, it may be a write in progress and is left alone.
func (kb *KB) refresh(locked bool) error {
	info, _ := os.Stat(filepath.Join(kb.dir, "kb.json"))
	m, err := readMeta(kb.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("knowledge base %q was deleted by another process", kb.meta.Name)
		}
		return fmt.Errorf("couldn't read knowledge base %q: %w", kb.meta.Name, err)
	}
	if m.EmbedModel != kb.meta.EmbedModel || m.NextEmbedModel != kb.meta.NextEmbedModel || !m.Created.Equal(kb.meta.Created) {
		return kb.reload(m, locked)
	}
	kb.meta.Dims, kb.meta.Fusion, kb.metaInfo = m.Dims, m.Fusion, info
	kb.restoreFusion()
	replaced, grown, err := kb.log.changed(filepath.Join(kb.dir, "docs.log"))
	if replaced {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return kb.reload(m, locked)
	}
	if grown {
		err := kb.log.catchUp(locked, func(p []byte, _ int64) error {
			if r, err := decodeRecord(p); err == nil {
				kb.applyIndexed(r)
				kb.live += int64(len(p)) + frameHeader
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("couldn't read what another process stored in %q: %w", kb.meta.Name, err)
		}
	}
	for _, vs := range []*vectorSet{kb.vectors, kb.next} {
		if vs == nil {
			continue
		}
		replaced, grown, err := vs.log.changed(vectorsFile(kb.dir, vs.model))
		if replaced {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return kb.reload(m, locked)
		}
		if !grown {
			continue
		}
		keys, err := vs.catchUp(context.Background(), locked)
		if err != nil {
			return err
		}
		if vs == kb.vectors && len(keys) > 0 {
			kb.vectorsArrived(keys)
		}
	}
	if locked && kb.next != nil {
		kb.promoteIfComplete()
	}
	return nil
}

// reload reads the knowledge base afresh, after another process replaced a
// file (compaction), switched the model, or deleted and re-created it.
func (kb *KB) reload(m Meta, locked bool) error {
	n, err := loadKB(kb.dir, m, locked)
	if err != nil {
		return fmt.Errorf("couldn't reopen knowledge base %q after another process changed it: %w", kb.meta.Name, err)
	}
	kb.closeFiles()
	kb.meta, kb.docs, kb.log, kb.live = n.meta, n.docs, n.log, n.live
	kb.index, kb.vectors, kb.next = n.index, n.vectors, n.next
	kb.rep, kb.refs = n.rep, n.refs
	kb.dirty, kb.changed, kb.restored = n.dirty, n.changed, n.restored
	kb.metaInfo, _ = os.Stat(filepath.Join(kb.dir, "kb.json"))
	return nil
}

// closeFiles closes the logs (not the knowledge base: reload reuses it).
func (kb *KB) closeFiles() {
	if kb.log != nil {
		kb.log.close()
	}
	if kb.vectors != nil {
		kb.vectors.close()
	}
	if kb.next != nil {
		kb.next.close()
	}
}

// follow catches up before a read when the files have changed since this
// process last looked: one stat of each log when nothing has.
func (kb *KB) follow() {
	kb.mu.RLock()
	closed := kb.closed
	stale := !closed && kb.stale()
	kb.mu.RUnlock()
	if !stale {
		return
	}
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if !kb.closed {
		// A read goes on with what is in memory if the files cannot be
		// read now; the next change reports the problem.
		_ = kb.refresh(false)
	}
}

// stale reports whether another process has written since this one last
// read the files. Under kb.mu (read).
func (kb *KB) stale() bool {
	if r, g, _ := kb.log.changed(filepath.Join(kb.dir, "docs.log")); r || g {
		return true
	}
	for _, vs := range []*vectorSet{kb.vectors, kb.next} {
		if vs == nil {
			continue
		}
		if r, g, _ := vs.log.changed(vectorsFile(kb.dir, vs.model)); r || g {
			return true
		}
	}
	st, err := os.Stat(filepath.Join(kb.dir, "kb.json"))
	return err != nil || kb.metaInfo == nil || !os.SameFile(st, kb.metaInfo) || st.ModTime() != kb.metaInfo.ModTime()
}
