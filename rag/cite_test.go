package rag

import (
	"reflect"
	"testing"
)

func TestCited(t *testing.T) {
	tests := []struct {
		answer string
		given  int
		want   []int
	}{
		{"Open Tuesday to Sunday [2]. Closed Mondays [1][2].", 3, []int{2, 1}},
		{"See [1, 3] and [3,2].", 3, []int{1, 3, 2}},
		{"营业时间是早上 8 点【1】，配送另收费【2】【1】。", 2, []int{1, 2}},
		{"Full-width ［１，２］ and a range [2-4].", 5, []int{1, 2, 3, 4}},
		{"Invented [7] and valid [5].", 5, []int{5}},
		{"No citations here.", 3, nil},
		{"Zero [0] is not a passage.", 3, nil},
	}
	for _, tc := range tests {
		if got := Cited(tc.answer, tc.given); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Cited(%q, %d) = %v, want %v", tc.answer, tc.given, got, tc.want)
		}
	}
}

func TestCleanCitations(t *testing.T) {
	tests := []struct {
		answer string
		given  int
		want   string
	}{
		{"Open daily [1]. Free parking [7].", 5, "Open daily [1]. Free parking."},
		{"Both [2, 9] say so.", 5, "Both [2] say so."},
		{"营业【1】，免费【8】。", 2, "营业【1】，免费。"},
		{"Kept as written [1,2][3].", 3, "Kept as written [1,2][3]."},
	}
	for _, tc := range tests {
		if got := CleanCitations(tc.answer, tc.given); got != tc.want {
			t.Errorf("CleanCitations(%q, %d) = %q, want %q", tc.answer, tc.given, got, tc.want)
		}
	}
}
