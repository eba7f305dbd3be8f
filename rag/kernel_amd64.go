//go:build amd64 && !purego

package rag

import "golang.org/x/sys/cpu"

// The sign pass is the one loop that touches every vector, and compiled for
// the baseline amd64 level Go checks for POPCNT at every bits.OnesCount64
// and spills around the fallback call: 5x slower than the instruction
// itself. So on amd64 with POPCNT the kernel is a dozen lines of assembly
// (kernel_amd64.s); signAccGo is the reference it is tested against.

//go:noescape
func signAccAsm(codes, planes []uint64, words int, out []int32)

func signAcc(codes, planes []uint64, words int, out []int32) {
	if cpu.X86.HasPOPCNT && words > 0 && len(codes) >= len(out)*words && len(planes) >= 4*words {
		signAccAsm(codes, planes, words, out)
		return
	}
	signAccGo(codes, planes, words, out)
}

// The int8 pass is the other hot loop: Go does not vectorise, and AVX2
// multiplies and adds sixteen int8 pairs per instruction pair.

//go:noescape
func dotInt8Asm(a, b []int8) int32

func dotInt8(a, b []int8) int32 {
	if !cpu.X86.HasAVX2 || len(a) < 16 || len(b) < len(a) {
		return dotInt8Go(a, b)
	}
	n := len(a) &^ 15
	s := dotInt8Asm(a[:n], b[:n])
	if n < len(a) {
		s += dotInt8Go(a[n:], b[n:len(a)])
	}
	return s
}
