package rag

import "math/bits"

// The two loops that touch many vectors per query. Each has a portable Go
// form here; kernel_amd64.s has assembly for amd64 (POPCNT, AVX2), chosen at
// run time by CPU feature, and kernel_test.go holds them to agreement. Build
// with -tags purego to use only the Go forms.

// signAccGo is the portable form of the sign pass's inner kernel: for each
// of len(out) consecutive codes of `words` words it sums, over the four
// query bit planes p, 2^p·popcount(plane_p AND code). planes holds the four
// planes one after another, `words` words each.
func signAccGo(codes, planes []uint64, words int, out []int32) {
	p0, p1, p2, p3 := planes[:words], planes[words:2*words], planes[2*words:3*words], planes[3*words:4*words]
	for i := range out {
		code := codes[i*words : i*words+words]
		var a0, a1, a2, a3 int
		for j, c := range code {
			a0 += bits.OnesCount64(p0[j] & c)
			a1 += bits.OnesCount64(p1[j] & c)
			a2 += bits.OnesCount64(p2[j] & c)
			a3 += bits.OnesCount64(p3[j] & c)
		}
		out[i] = int32(a0 + 2*a1 + 4*a2 + 8*a3)
	}
}

// dotInt8Go is the portable int8 dot product.
func dotInt8Go(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}
