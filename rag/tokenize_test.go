package rag

import (
	"reflect"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"GODEBUG settings setting", []string{"godebug", "set", "set"}},
		{"maintained maintain", []string{"maintain", "maintain"}},
		{"requires required require", []string{"requir", "requir", "requir"}},
		{"Rules-Requires-Root: no", []string{"rul", "requir", "root", "no"}},
		{"ﬁle ＡＢＣ", []string{"fil", "abc"}}, // NFKC: ligature and full-width
		{"配送费", []string{"配送", "送费"}},
		{"8 寸蛋糕", []string{"8", "寸蛋", "蛋糕"}},
		{"http2client=0", []string{"http2client", "0"}},
	}
	for _, tc := range tests {
		if got := Tokenize(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A lone CJK character between Latin words is kept as a unigram.
	if got := Tokenize("8寸 cake"); !reflect.DeepEqual(got, []string{"8", "寸", "cak"}) {
		t.Errorf("Tokenize(8寸 cake) = %q", got)
	}
}

func TestStemFoldsForms(t *testing.T) {
	groups := [][]string{
		{"setting", "settings"},
		{"stop", "stopped", "stopping", "stops"},
		{"modify", "modified", "modifies"},
		{"embed", "embedded", "embedding", "embeds"},
		{"cake", "cakes"},
	}
	for _, g := range groups {
		for _, w := range g[1:] {
			if stem(w) != stem(g[0]) {
				t.Errorf("stem(%q) = %q, stem(%q) = %q; want equal", w, stem(w), g[0], stem(g[0]))
			}
		}
	}
}
