package rag

import (
	"math/rand/v2"
	"testing"
)

// The assembly kernels must agree with their Go references exactly.
func TestKernelsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, words := range []int{1, 2, 12, 13} {
		n := 37
		codes := make([]uint64, n*words)
		planes := make([]uint64, 4*words)
		for i := range codes {
			codes[i] = r.Uint64()
		}
		for i := range planes {
			planes[i] = r.Uint64()
		}
		got, want := make([]int32, n), make([]int32, n)
		signAcc(codes, planes, words, got)
		signAccGo(codes, planes, words, want)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("words=%d: signAcc[%d] = %d, want %d", words, i, got[i], want[i])
			}
		}
	}
	for _, n := range []int{0, 5, 16, 17, 768, 770} {
		a, b := make([]int8, n), make([]int8, n)
		for i := range a {
			a[i], b[i] = int8(r.IntN(255)-127), int8(r.IntN(255)-127)
		}
		if got, want := dotInt8(a, b), dotInt8Go(a, b); got != want {
			t.Errorf("n=%d: dotInt8 = %d, want %d", n, got, want)
		}
	}
}
