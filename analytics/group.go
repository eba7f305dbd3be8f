package analytics

import (
	"context"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"atoll/rag"
)

// Embedder turns texts into vectors (the agent's embedding model). The
// desktop passes its Ollama client; the hub its model pool.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// EmbedFunc adapts a function to Embedder.
type EmbedFunc func(ctx context.Context, texts []string) ([][]float32, error)

// Embed calls f.
func (f EmbedFunc) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return f(ctx, texts)
}

// Group is a set of questions asking the same thing.
type Group struct {
	Question string   `json:"question"` // the commonest wording (ties: the shortest)
	Count    int      `json:"count"`    // times asked, every wording
	Variants []string `json:"variants"` // other wordings, at most MaxVariants
}

const (
	// MaxGrouped bounds the distinct questions grouped at once: the
	// similarity matrix is quadratic (1000 questions: 4 MB, 0.5 M pairs).
	// Beyond it the most asked are kept.
	MaxGrouped = 1000
	// MaxVariants bounds the other wordings listed per group.
	MaxVariants = 5
	// maxQuestionRunes bounds what of one question is compared.
	maxQuestionRunes = 500

	// Average similarity two groups need to merge. Lexical similarity is
	// TF-IDF cosine over stemmed words and CJK bigrams, where paraphrases
	// share few terms; embedding cosine of paraphrases is high and of
	// different questions on the same subject moderate.
	lexicalThreshold   = 0.28
	embeddingThreshold = 0.78
)

// Grouping methods, as Report.Grouping names them.
const (
	ByEmbedding = "embedding"
	ByWords     = "lexical"
)

// GroupQuestions groups questions asking the same thing, largest group
// first. With an embedder, similarity is the cosine of the questions'
// embeddings; without one, or when it fails, it is lexical. It returns the
// groups and the method used.
func GroupQuestions(ctx context.Context, questions []string, emb Embedder) ([]Group, string) {
	uniq := distinct(questions)
	if len(uniq) == 0 {
		return []Group{}, ByWords
	}
	texts := make([]string, len(uniq))
	for i, u := range uniq {
		texts[i] = u.text
	}
	method, threshold := ByWords, lexicalThreshold
	var sim func(i, j int) float64
	if emb != nil {
		if vecs, err := emb.Embed(ctx, texts); err == nil && len(vecs) == len(texts) && usable(vecs) {
			for _, v := range vecs {
				unit(v)
			}
			method, threshold = ByEmbedding, embeddingThreshold
			sim = func(i, j int) float64 { return dot(vecs[i], vecs[j]) }
		}
	}
	if sim == nil {
		vecs := lexicalVectors(texts)
		sim = func(i, j int) float64 { return sparseDot(vecs[i], vecs[j]) }
	}
	clusters := cluster(len(uniq), sim, threshold)

	out := make([]Group, 0, len(clusters))
	for _, members := range clusters {
		sort.Slice(members, func(a, b int) bool {
			ua, ub := uniq[members[a]], uniq[members[b]]
			if ua.count != ub.count {
				return ua.count > ub.count
			}
			if la, lb := utf8.RuneCountInString(ua.text), utf8.RuneCountInString(ub.text); la != lb {
				return la < lb
			}
			return ua.text < ub.text
		})
		g := Group{Question: uniq[members[0]].text, Variants: []string{}}
		for k, m := range members {
			g.Count += uniq[m].count
			if k > 0 && len(g.Variants) < MaxVariants {
				g.Variants = append(g.Variants, uniq[m].text)
			}
		}
		out = append(out, g)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Count != out[b].Count {
			return out[a].Count > out[b].Count
		}
		return out[a].Question < out[b].Question
	})
	return out, method
}

type counted struct {
	text  string
	count int
}

// distinct merges questions that differ only in case, spacing and final
// punctuation, keeping the MaxGrouped most asked.
func distinct(questions []string) []counted {
	idx := map[string]int{}
	var out []counted
	for _, q := range questions {
		q = strings.Join(strings.Fields(q), " ")
		if r := []rune(q); len(r) > maxQuestionRunes {
			q = string(r[:maxQuestionRunes])
		}
		key := strings.ToLower(strings.TrimRight(q, "?？.。!！ "))
		if key == "" {
			continue
		}
		if i, ok := idx[key]; ok {
			out[i].count++
			continue
		}
		idx[key] = len(out)
		out = append(out, counted{text: q, count: 1})
	}
	if len(out) > MaxGrouped {
		sort.SliceStable(out, func(a, b int) bool { return out[a].count > out[b].count })
		out = out[:MaxGrouped]
	}
	return out
}

// cluster is average-linkage agglomerative clustering, walking only the
// pairs above the threshold, most similar first: two clusters merge when
// the mean similarity of all their cross pairs still reaches the threshold,
// so one shared word cannot chain unrelated questions together.
func cluster(n int, sim func(i, j int) float64, threshold float64) [][]int {
	m := make([]float32, n*n)
	type pair struct {
		i, j int
		s    float32
	}
	var pairs []pair
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			s := float32(sim(i, j))
			m[i*n+j], m[j*n+i] = s, s
			if float64(s) >= threshold {
				pairs = append(pairs, pair{i, j, s})
			}
		}
	}
	sort.Slice(pairs, func(a, b int) bool {
		if pairs[a].s != pairs[b].s {
			return pairs[a].s > pairs[b].s
		}
		if pairs[a].i != pairs[b].i {
			return pairs[a].i < pairs[b].i
		}
		return pairs[a].j < pairs[b].j
	})
	of := make([]int, n) // member -> cluster id
	members := make([][]int, n)
	for i := range of {
		of[i] = i
		members[i] = []int{i}
	}
	for _, p := range pairs {
		a, b := of[p.i], of[p.j]
		if a == b {
			continue
		}
		var sum float64
		for _, x := range members[a] {
			for _, y := range members[b] {
				sum += float64(m[x*n+y])
			}
		}
		if sum/float64(len(members[a])*len(members[b])) < threshold {
			continue
		}
		for _, y := range members[b] {
			of[y] = a
		}
		members[a] = append(members[a], members[b]...)
		members[b] = nil
	}
	var out [][]int
	for _, ms := range members {
		if len(ms) > 0 {
			out = append(out, ms)
		}
	}
	return out
}

// stopTerms carry no subject: question words, pronouns, auxiliaries, and
// their Chinese counterparts' bigrams.
var stopTerms = func() map[string]bool {
	s := map[string]bool{}
	en := "a an the and or of to in on at for from with by about is are was were be been am do does did can could would will shall should may might must have has had i me my we our us you your yours it its this that these those there here what when where which who whom why how any some much many please get got there's what's i'm let me tell know want need like just also"
	for _, w := range strings.Fields(en) {
		for _, t := range rag.Tokenize(w) {
			s[t] = true
		}
	}
	return s
}()

// zhSame folds Chinese ways of naming one weekday to one, so that 周日,
// 星期天 and 礼拜天 meet (a matter of the language, not of any subject).
var zhSame = strings.NewReplacer(
	"星期日", "周日", "星期天", "周日", "礼拜日", "周日", "礼拜天", "周日",
	"星期一", "周一", "星期二", "周二", "星期三", "周三", "星期四", "周四", "星期五", "周五", "星期六", "周六",
	"礼拜一", "周一", "礼拜二", "周二", "礼拜三", "周三", "礼拜四", "周四", "礼拜五", "周五", "礼拜六", "周六",
)

// zhFunction are Chinese function words and question particles. They are
// cut out before the text becomes bigrams: a bigram across one of them and
// its neighbour ("款吗" in "退款吗") would tie questions by their grammar.
// Longer words come first (the replacer tries them in order).
var zhFunction = func() *strings.Replacer {
	var args []string
	for _, w := range strings.Fields("有没有 是不是 能不能 可不可以 请问一下 请问 你们 我们 可以 什么 怎么 怎样 如何 是否 没有 一下 哪里 哪儿 几点 多少 需要 想要 吗 呢 的 了 吧 呀 啊 么 是 有 能 要 在 你 我 请 想 会 和 与 到 做 得") {
		args = append(args, w, " ")
	}
	return strings.NewReplacer(args...)
}()

// lexicalVectors are unit TF-IDF vectors of the questions' terms.
func lexicalVectors(texts []string) []map[string]float64 {
	terms := make([][]string, len(texts))
	df := map[string]int{}
	for i, t := range texts {
		seen := map[string]bool{}
		for _, term := range rag.Tokenize(zhFunction.Replace(zhSame.Replace(t))) {
			if stopTerms[term] {
				continue
			}
			terms[i] = append(terms[i], term)
			if !seen[term] {
				seen[term] = true
				df[term]++
			}
		}
	}
	n := float64(len(texts))
	out := make([]map[string]float64, len(texts))
	for i, ts := range terms {
		v := map[string]float64{}
		for _, term := range ts {
			v[term]++
		}
		var norm float64
		for term, tf := range v {
			w := (1 + math.Log(tf)) * math.Log(1+n/float64(df[term]))
			v[term] = w
			norm += w * w
		}
		norm = math.Sqrt(norm)
		for term := range v {
			v[term] /= norm
		}
		out[i] = v
	}
	return out
}

func sparseDot(a, b map[string]float64) float64 {
	if len(b) < len(a) {
		a, b = b, a
	}
	var s float64
	for k, x := range a {
		s += x * b[k]
	}
	return s
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func unit(v []float32) {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n = math.Sqrt(n); n > 0 {
		for i := range v {
			v[i] = float32(float64(v[i]) / n)
		}
	}
}

// usable refuses vectors of mixed or zero dimensions.
func usable(vecs [][]float32) bool {
	for _, v := range vecs {
		if len(v) == 0 || len(v) != len(vecs[0]) {
			return false
		}
	}
	return true
}
