package rag

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// snapCorpus builds an index with the history a real knowledge base has:
// passages in English and Chinese, vectors for most of them (enough to pass
// the sign-code threshold), removals (some compacted, some not) and
// replacements.
func snapCorpus(t *testing.T, r *rand.Rand, n, dims int) (*Index, map[string]Passage, map[string][]float32) {
	t.Helper()
	vocab := strings.Fields("cake order price delivery chocolate birthday shop open hours sugar flour butter refund allergy vegan 配送 营业 时间 会员 优惠券 蛋糕 订单 价格")
	ps := map[string]Passage{}
	vecs := map[string][]float32{}
	ix := NewIndex()
	add := func(i int) {
		var b strings.Builder
		for j := 0; j < 30; j++ {
			b.WriteString(vocab[r.IntN(len(vocab))])
			b.WriteByte(' ')
		}
		p := Passage{ID: fmt.Sprintf("p%d", i), KB: "kb", Source: fmt.Sprintf("/docs/f%d.md", i%37), Page: i % 5, Headings: []string{"H" + vocab[i%len(vocab)]}, Start: i, End: i + 100, Text: b.String()}
		ps[p.ID] = p
		ix.Add(p)
		if i%10 != 3 { // some passages have no vector yet
			vecs[p.ID] = randUnit(r, dims)
			ix.SetVector(p.ID, vecs[p.ID])
		} else {
			delete(vecs, p.ID)
		}
	}
	for i := 0; i < n; i++ {
		add(i)
	}
	for i := 0; i < n; i += 7 { // removals: enough to trigger one compaction
		ix.Remove(fmt.Sprintf("p%d", i))
		delete(ps, fmt.Sprintf("p%d", i))
		delete(vecs, fmt.Sprintf("p%d", i))
	}
	for i := 1; i < n; i += 50 { // replacements
		add(i)
	}
	for i := 7 * 3; i < n; i += 7 * 20 { // removed slots not yet compacted
		ix.Remove(fmt.Sprintf("p%d", i+1))
		delete(ps, fmt.Sprintf("p%d", i+1))
		delete(vecs, fmt.Sprintf("p%d", i+1))
	}
	return ix, ps, vecs
}

func restoreFrom(t *testing.T, ix *Index, ps map[string]Passage, vecs map[string][]float32) *Index {
	t.Helper()
	var buf bytes.Buffer
	if err := ix.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	data := alignedCopy(buf.Bytes())
	got, err := RestoreIndex(data, func(id string) (Passage, []float32, bool) {
		p, ok := ps[id]
		return p, vecs[id], ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func alignedCopy(b []byte) []byte {
	words := make([]uint64, (len(b)+7)/8)
	out := asBytes(words)[:len(b)]
	copy(out, b)
	return out
}

func sameSearches(t *testing.T, r *rand.Rand, a, b *Index, dims int, when string) {
	t.Helper()
	queries := []Query{
		{Text: "chocolate cake price", K: 5},
		{Text: "蛋糕 配送 时间", K: 5},
		{Text: "refund allergy", K: 8, Sources: []string{"/docs/f3.md", "/docs/f4.md"}},
	}
	for i := 0; i < 6; i++ {
		queries = append(queries, Query{Text: "butter order", K: 10, Vector: randUnit(r, dims)})
	}
	for _, q := range queries {
		ha, hb := a.Search(q), b.Search(q)
		if len(ha) == 0 {
			t.Fatalf("%s: query %q found nothing: the test would prove nothing", when, q.Text)
		}
		if !reflect.DeepEqual(ha, hb) {
			t.Fatalf("%s: query %q (vector %v):\noriginal %v\nrestored %v", when, q.Text, q.Vector != nil, ha, hb)
		}
	}
	if a.Len() != b.Len() || a.HasVectors() != b.HasVectors() {
		t.Fatalf("%s: len %d/%d", when, a.Len(), b.Len())
	}
	if !reflect.DeepEqual(a.Passages(""), b.Passages("")) {
		t.Fatalf("%s: passages differ", when)
	}
}

// A restored index answers every query exactly as the one it was written
// from, and keeps doing so through further adds, replacements, removals
// and compactions applied to both.
func TestSnapshotRestoreMatches(t *testing.T) {
	const dims = 32
	r := rand.New(rand.NewPCG(7, 8))
	ix, ps, vecs := snapCorpus(t, r, 6000, dims)
	if ix.vec.Len() < signBelow {
		t.Fatalf("only %d vectors: the sign pass would not run", ix.vec.Len())
	}
	got := restoreFrom(t, ix, ps, vecs)
	sameSearches(t, r, ix, got, dims, "restored")

	// Mutate both the same way.
	r2 := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 3000; i++ {
		id := fmt.Sprintf("p%d", r2.IntN(7000))
		switch r2.IntN(3) {
		case 0:
			ix.Remove(id)
			got.Remove(id)
		default:
			p := Passage{ID: id, KB: "kb", Source: "/docs/new.md", Text: fmt.Sprintf("fresh delivery text %d 新的蛋糕", i)}
			v := randUnit(r2, dims)
			for _, x := range []*Index{ix, got} {
				x.Add(p)
				x.SetVector(id, v)
			}
		}
	}
	sameSearches(t, r, ix, got, dims, "after changes")
	// A snapshot of a restored, changed index restores too.
	ps2 := map[string]Passage{}
	vecs2 := map[string][]float32{}
	for _, p := range ix.Passages("") {
		ps2[p.ID] = p
		vecs2[p.ID] = ix.vec.vecs[ix.byID[p.ID]]
	}
	sameSearches(t, r, ix, restoreFrom(t, got, ps2, vecs2), dims, "second generation")
}

func TestSnapshotRefusesDamageAndMismatch(t *testing.T) {
	const dims = 16
	r := rand.New(rand.NewPCG(1, 1))
	ix, ps, vecs := snapCorpus(t, r, 800, dims)
	var buf bytes.Buffer
	if err := ix.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	lookup := func(id string) (Passage, []float32, bool) {
		p, ok := ps[id]
		return p, vecs[id], ok
	}
	good := buf.Bytes()
	if _, err := RestoreIndex(alignedCopy(good), lookup); err != nil {
		t.Fatalf("intact snapshot refused: %v", err)
	}
	for _, c := range []struct {
		name string
		data []byte
		look func(string) (Passage, []float32, bool)
	}{
		{"empty", nil, lookup},
		{"truncated", good[:len(good)/2], lookup},
		{"one bit flipped", func() []byte { b := alignedCopy(good); b[len(b)/3] ^= 4; return b }(), lookup},
		{"passage gone", good, func(id string) (Passage, []float32, bool) {
			if id == "p5" {
				return Passage{}, nil, false
			}
			return lookup(id)
		}},
		{"vector gone", good, func(id string) (Passage, []float32, bool) {
			p, v, ok := lookup(id)
			if id == "p5" {
				v = nil
			}
			return p, v, ok
		}},
	} {
		_, err := RestoreIndex(alignedCopy(c.data), c.look)
		if !errors.Is(err, ErrSnapshot) {
			t.Errorf("%s: got %v, want ErrSnapshot", c.name, err)
		}
	}
}
