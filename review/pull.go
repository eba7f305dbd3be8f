package review

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"atoll/agent"
	"atoll/store"
)

// Page is one answer of a hub's review pull (GET
// /api/agents/{name}/review?since=CURSOR).
type Page struct {
	Items []Item `json:"items"`
	// Resolved names answers pulled before that left the queue: voted up,
	// or the vote taken back.
	Resolved []string `json:"resolved"`
	Next     string   `json:"next"`
}

// FetchFunc reads the page of the queue that follows the cursor since
// ("" for the start).
type FetchFunc func(ctx context.Context, since string) (Page, error)

// PullResult says what a pull brought.
type PullResult struct {
	Agent string `json:"agent"`
	Hub   string `json:"hub"`
	New   int    `json:"new"` // items not here before
	// Of the new ones: voted down, and not covered without a vote down.
	Down       int `json:"down"`
	NotCovered int `json:"notCovered"`
	Updated    int `json:"updated"`  // items here before whose vote or comment changed
	Resolved   int `json:"resolved"` // items dropped: voted up or the vote taken back
	Total      int `json:"total"`    // the agent's pulled items now
}

// Queue keeps the items pulled from a hub, per agent, in
// DIR/<agent>.jsonl: one line per item or resolution, appended, the last
// line of an id winning. Appends are fsynced before the cursor
// (DIR/<agent>.cursor) moves past them, so a pull killed at any point
// leaves every earlier item, at worst a torn last line (dropped and
// written again by the next pull) and at worst items the next pull
// fetches again (recognised by id, not duplicated).
type Queue struct {
	dir string
	mu  sync.Mutex // one pull at a time in this process; the file lock orders processes
}

// NewQueue keeps pulled items in dir.
func NewQueue(dir string) *Queue { return &Queue{dir: dir} }

// line is one record of the queue file.
type line struct {
	Item     *Item  `json:"item,omitempty"`
	Resolved string `json:"resolved,omitempty"`
}

type cursor struct {
	Hub  string `json:"hub"`
	Next string `json:"next"`
}

// maxLine bounds one record: an answer with its passages and comment.
const maxLine = 16 << 20

// maxPages bounds one pull, so a hub that keeps answering with new cursors
// cannot keep it going forever; the next pull continues.
const maxPages = 10000

func (q *Queue) file(agentName string) string { return filepath.Join(q.dir, agentName+".jsonl") }
func (q *Queue) cursorFile(agentName string) string {
	return filepath.Join(q.dir, agentName+".cursor")
}

// Items returns the agent's pulled items still in the queue, newest first.
func (q *Queue) Items(agentName string) ([]Item, error) {
	live, _, err := q.load(agentName)
	if err != nil {
		return nil, err
	}
	out := make([]Item, 0, len(live))
	for _, it := range live {
		out = append(out, it)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Item returns one pulled item still in the queue.
func (q *Queue) Item(agentName, id string) (Item, bool, error) {
	live, _, err := q.load(agentName)
	if err != nil {
		return Item{}, false, err
	}
	it, ok := live[id]
	return it, ok, nil
}

// load reads the queue file: the items it holds now, and how many
// complete lines it has. An incomplete last line (a write cut short) and
// a line that does not parse are skipped.
func (q *Queue) load(agentName string) (map[string]Item, int, error) {
	live := map[string]Item{}
	f, err := os.Open(q.file(agentName))
	if errors.Is(err, os.ErrNotExist) {
		return live, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("couldn't read the review items pulled for %s: %w", agentName, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	lines := 0
	for {
		b, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return live, lines, nil
			}
			return nil, 0, fmt.Errorf("couldn't read the review items pulled for %s: %w", agentName, err)
		}
		lines++
		var l line
		if json.Unmarshal(b, &l) != nil {
			continue
		}
		switch {
		case l.Item != nil && l.Item.ID != "":
			it := *l.Item
			it.Origin = Hub
			if it.Passages == nil {
				it.Passages = []agent.Citation{}
			}
			live[it.ID] = it
		case l.Resolved != "":
			delete(live, l.Resolved)
		}
	}
}

// readLine returns the next complete line, without its newline, skipping
// lines longer than maxLine; io.EOF at the end, an incomplete last line
// included.
func readLine(r *bufio.Reader) ([]byte, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong && len(buf)+len(chunk) > maxLine {
			tooLong, buf = true, nil
		}
		if !tooLong {
			buf = append(buf, chunk...)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return nil, err
		case tooLong:
			return []byte{}, nil // does not parse: skipped
		}
		return buf[:len(buf)-1], nil
	}
}

// Pull brings the agent's queue up to date from hub (its address, which
// keys the cursor: another hub starts from the beginning), page by page.
func (q *Queue) Pull(ctx context.Context, agentName, hub string, fetch FetchFunc) (PullResult, error) {
	res := PullResult{Agent: agentName, Hub: hub}
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := os.MkdirAll(q.dir, 0o700); err != nil {
		return res, fmt.Errorf("couldn't create the review folder %s: %w", q.dir, err)
	}
	fl := flock.New(filepath.Join(q.dir, agentName+".lock"), flock.SetPermissions(0o600))
	lockCtx, cancel := context.WithTimeout(ctx, store.LockWait)
	ok, err := fl.TryLockContext(lockCtx, 50*time.Millisecond)
	cancel()
	if err != nil || !ok {
		return res, fmt.Errorf("another pull of %s's review items is running: wait for it, then pull again", agentName)
	}
	defer fl.Unlock()

	live, lines, err := q.load(agentName)
	if err != nil {
		return res, err
	}
	if err := q.repairTail(agentName); err != nil {
		return res, err
	}
	var cur cursor
	if b, err := os.ReadFile(q.cursorFile(agentName)); err == nil {
		_ = json.Unmarshal(b, &cur)
	}
	if cur.Hub != hub {
		cur = cursor{Hub: hub}
	}
	for range maxPages {
		page, err := fetch(ctx, cur.Next)
		if err != nil {
			return res, err
		}
		var add []line
		for i := range page.Items {
			it := page.Items[i]
			if !ValidID(it.ID) {
				continue
			}
			it.Origin, it.Agent, it.Corrected = Hub, agentName, false
			old, had := live[it.ID]
			switch {
			case !had:
				res.New++
				if it.Rating < 0 {
					res.Down++
				} else {
					res.NotCovered++
				}
			case reflect.DeepEqual(normal(old), normal(it)):
				continue // fetched again after a pull cut short: nothing new
			default:
				res.Updated++
			}
			live[it.ID] = it
			add = append(add, line{Item: &it})
		}
		for _, id := range page.Resolved {
			if _, had := live[id]; had {
				delete(live, id)
				res.Resolved++
				add = append(add, line{Resolved: id})
			}
		}
		if err := q.appendLines(agentName, add); err != nil {
			return res, err
		}
		lines += len(add)
		done := page.Next == cur.Next || page.Next == ""
		if page.Next != "" {
			cur.Next = page.Next
			b, _ := json.Marshal(cur)
			if err := store.WriteFileAtomic(q.cursorFile(agentName), b, 0o600); err != nil {
				return res, fmt.Errorf("couldn't save where the review pull of %s stopped: %w", agentName, err)
			}
		}
		if done {
			break
		}
	}
	res.Total = len(live)
	// Superseded lines are dropped once they outnumber the live ones, so
	// the file stays proportional to the queue; a failure here loses
	// nothing (the appended file is complete).
	if lines > 2*len(live)+64 {
		_ = q.compact(agentName, live)
	}
	return res, nil
}

// normal is an item as compared across pulls: json round-trip, so that
// times and empty lists compare as they are stored.
func normal(it Item) Item {
	it.Corrected = false
	if len(it.Passages) == 0 {
		it.Passages = nil
	}
	b, _ := json.Marshal(it)
	var out Item
	_ = json.Unmarshal(b, &out)
	return out
}

// repairTail cuts an incomplete last line (a write cut short by a kill),
// so the next append starts on a line of its own.
func (q *Queue) repairTail(agentName string) error {
	f, err := os.OpenFile(q.file(agentName), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("couldn't open the review items pulled for %s: %w", agentName, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return err
	}
	// Read back from the end until a newline: the torn part is at most one
	// record long.
	end := fi.Size()
	buf := make([]byte, 64<<10)
	for pos := end; pos > 0; {
		n := int64(len(buf))
		if pos < n {
			n = pos
		}
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := pos + int64(i) + 1
			if keep == end {
				return nil
			}
			return truncate(f, keep)
		}
	}
	return truncate(f, 0)
}

func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("couldn't repair %s: %w", f.Name(), err)
	}
	return f.Sync()
}

func (q *Queue) appendLines(agentName string, ls []line) error {
	if len(ls) == 0 {
		return nil
	}
	var b bytes.Buffer
	for _, l := range ls {
		j, err := json.Marshal(l)
		if err != nil {
			return err
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	f, err := os.OpenFile(q.file(agentName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("couldn't save the review items pulled for %s: %w", agentName, err)
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("couldn't save the review items pulled for %s: %w", agentName, err)
	}
	return nil
}

// compact rewrites the file with only the live items, whole or not at all.
func (q *Queue) compact(agentName string, live map[string]Item) error {
	ids := make([]string, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b bytes.Buffer
	for _, id := range ids {
		it := live[id]
		j, err := json.Marshal(line{Item: &it})
		if err != nil {
			return err
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return store.WriteFileAtomic(q.file(agentName), b.Bytes(), 0o600)
}

// QueueDir is where a data folder keeps pulled review items.
func QueueDir(dataDir string) string { return filepath.Join(dataDir, "review") }

// Sentence sums up a pull in one line.
func (r PullResult) Sentence() string {
	var s string
	switch r.New {
	case 0:
		s = fmt.Sprintf("No new review items for %s", r.Agent)
	case 1:
		s = fmt.Sprintf("1 new item for %s", r.Agent)
	default:
		s = fmt.Sprintf("%d new items for %s", r.New, r.Agent)
	}
	if r.New > 0 {
		s += fmt.Sprintf(" (%d voted down, %d not covered)", r.Down, r.NotCovered)
	}
	if r.Updated > 0 {
		s += fmt.Sprintf(", %d with a new vote or comment", r.Updated)
	}
	if r.Resolved > 0 {
		s += fmt.Sprintf(", %d voted up since and dropped", r.Resolved)
	}
	if r.New+r.Updated > 0 {
		return s + "; see them in the window's Review screen."
	}
	return s + fmt.Sprintf("; %d in the queue.", r.Total)
}
