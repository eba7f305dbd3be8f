// Package rag is Atoll's retrieval core: an in-memory index per knowledge base
// (BM25 lexical postings plus optional quantised vectors), hybrid search with
// merging and diversification, prompt assembly with numbered citations, and
// the evaluation used to tune it. It knows nothing of Ollama, the store, HTTP
// or the window: callers hand it passages and vectors and get hits back.
package rag

// Passage is one retrievable piece of a document.
type Passage struct {
	ID       string
	KB       string
	Source   string // file path
	Page     int
	Headings []string
	// Start and End are rune offsets in the source document's text.
	Start, End int
	Text       string
	// Boxes mark the passage on a scanned page or image (OCR'd text), so
	// a citation can be highlighted on the scan itself; nil for text.
	Boxes []Box
}

// Box is a rectangle on a page image, in fractions of its width and height
// with the origin at the top left.
type Box struct {
	Page int     `json:"page"`
	X0   float64 `json:"x0"`
	Y0   float64 `json:"y0"`
	X1   float64 `json:"x1"`
	Y1   float64 `json:"y1"`
}

// Hit is a passage with its retrieval score. Scores are only comparable
// within one result list.
type Hit struct {
	Passage
	Score float64
	// Coverage is the IDF-weighted share of the query's terms that the
	// passage contains (0..1), computed with the index's own statistics.
	// Covered uses it; zero means unknown and is recomputed from the text.
	Coverage float64
	// AlsoIn names other files holding the same passage (the same text in
	// another encoding or a copied file): one hit stands for all of them.
	AlsoIn []string
}

// Query asks an index for the K best passages.
type Query struct {
	Text    string
	Vector  []float32 // nil = lexical only
	K       int
	Sources []string // optional filter by source path
}
