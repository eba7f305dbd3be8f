//go:build !amd64 || purego

package rag

func signAcc(codes, planes []uint64, words int, out []int32) {
	signAccGo(codes, planes, words, out)
}

func dotInt8(a, b []int8) int32 { return dotInt8Go(a, b) }
