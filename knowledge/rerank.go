package knowledge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"atoll/rag"
)

// Reranker re-orders a search's best candidates with a reranking model
// (a cross-encoder reading the query and each passage together) served
// behind a /v1/rerank-style endpoint. llama.cpp's server, Hugging Face TEI
// and Jina-compatible servers share the request {model, query, documents}
// and answer {results: [{index, relevance_score}]}; TEI's own /rerank
// answer, a bare list of {index, score}, is read too.
type Reranker struct {
	URL    string // the endpoint; an address without a path gets /v1/rerank
	Model  string
	TopN   int          // candidates sent; 0: DefaultRerankTopN
	Client *http.Client // nil: a client with RerankTimeout
}

// DefaultRerankTopN is how many candidates are reranked when TopN is unset:
// enough to lift a passage lexical search put far down, few enough that a
// CPU-served model answers in a second or two.
const DefaultRerankTopN = 20

// RerankTimeout bounds one reranking call; past it the search keeps its own
// order.
const RerankTimeout = 15 * time.Second

// maxRerankRunes bounds each passage sent (merged hits can be 4000 runes;
// reranking models read 512 tokens or so anyway).
const maxRerankRunes = 2000

// maxRerankAnswer bounds the answer read from the server.
const maxRerankAnswer = 4 << 20

func (r *Reranker) topN() int {
	if r.TopN > 0 {
		return min(r.TopN, 100)
	}
	return DefaultRerankTopN
}

// Endpoint is the URL the requests go to.
func (r *Reranker) Endpoint() (string, error) {
	raw := strings.TrimSpace(r.URL)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not a reranker address: give one like http://127.0.0.1:8012/v1/rerank", r.URL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/rerank"
	}
	return u.String(), nil
}

type rerankRequest struct {
	Model     string   `json:"model,omitempty"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	TopN      int      `json:"top_n"`
}

type rerankResult struct {
	Index          int      `json:"index"`
	RelevanceScore *float64 `json:"relevance_score"`
	Score          *float64 `json:"score"` // TEI's own /rerank
}

// Scores asks the server how relevant each text is to query. Texts the
// answer leaves out score NaN.
func (r *Reranker) Scores(ctx context.Context, query string, texts []string) ([]float64, error) {
	endpoint, err := r.Endpoint()
	if err != nil {
		return nil, err
	}
	docs := make([]string, len(texts))
	for i, t := range texts {
		if rs := []rune(t); len(rs) > maxRerankRunes {
			t = string(rs[:maxRerankRunes])
		}
		docs[i] = t
	}
	body, _ := json.Marshal(rerankRequest{Model: r.Model, Query: query, Documents: docs, TopN: len(docs)})
	ctx, cancel := context.WithTimeout(ctx, RerankTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the reranker at %s did not answer: %w", endpoint, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRerankAnswer))
	if err != nil {
		return nil, fmt.Errorf("the reranker at %s broke off its answer: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the reranker at %s answered %s: check its address and model in Settings", endpoint, resp.Status)
	}
	var results []rerankResult
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(t, &results)
	} else {
		var wrapped struct {
			Results []rerankResult `json:"results"`
		}
		err = json.Unmarshal(t, &wrapped)
		results = wrapped.Results
	}
	if err != nil {
		return nil, fmt.Errorf("the reranker at %s answered something other than a /v1/rerank result: check its address in Settings", endpoint)
	}
	scores := make([]float64, len(texts))
	for i := range scores {
		scores[i] = math.NaN()
	}
	for _, res := range results {
		s := res.RelevanceScore
		if s == nil {
			s = res.Score
		}
		if s == nil || res.Index < 0 || res.Index >= len(texts) || math.IsNaN(*s) {
			continue
		}
		scores[res.Index] = *s
	}
	return scores, nil
}

// rerank orders hits by the model's scores, best first; hits it did not
// score keep their order after the scored ones. The score of a reranked hit
// is the model's.
func rerank(hits []rag.Hit, scores []float64) []rag.Hit {
	type scoredHit struct {
		h      rag.Hit
		s      float64
		scored bool
	}
	all := make([]scoredHit, len(hits))
	for i, h := range hits {
		all[i] = scoredHit{h: h, s: scores[i], scored: !math.IsNaN(scores[i])}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].scored != all[j].scored {
			return all[i].scored
		}
		return all[i].scored && all[i].s > all[j].s
	})
	out := make([]rag.Hit, len(all))
	for i, a := range all {
		out[i] = a.h
		if a.scored {
			out[i].Score = a.s
		}
	}
	return out
}
