//go:build amd64 && !purego

#include "textflag.h"

// func signAccAsm(codes, planes []uint64, words int, out []int32)
// See signAccGo for what it computes. Requires words > 0 and POPCNT.
TEXT ·signAccAsm(SB), NOSPLIT, $0-80
	MOVQ codes_base+0(FP), SI
	MOVQ planes_base+24(FP), DI
	MOVQ words+48(FP), CX
	MOVQ out_base+56(FP), R8
	MOVQ out_len+64(FP), DX
	MOVQ CX, R12
	SHLQ $3, R12
	LEAQ (DI)(R12*1), R10 // plane 1
	LEAQ (R10)(R12*1), R13 // plane 2
	LEAQ (R13)(R12*1), R9 // plane 3

vec:
	TESTQ DX, DX
	JEQ   done
	XORQ  AX, AX
	XORQ  BX, BX

word:
	MOVQ    (SI)(BX*8), R11
	MOVQ    (DI)(BX*8), R12
	ANDQ    R11, R12
	POPCNTQ R12, R12
	ADDQ    R12, AX
	MOVQ    (R10)(BX*8), R12
	ANDQ    R11, R12
	POPCNTQ R12, R12
	LEAQ    (AX)(R12*2), AX
	MOVQ    (R13)(BX*8), R12
	ANDQ    R11, R12
	POPCNTQ R12, R12
	LEAQ    (AX)(R12*4), AX
	MOVQ    (R9)(BX*8), R12
	ANDQ    R11, R12
	POPCNTQ R12, R12
	LEAQ    (AX)(R12*8), AX
	INCQ    BX
	CMPQ    BX, CX
	JLT     word

	MOVL AX, (R8)
	ADDQ $4, R8
	LEAQ (SI)(CX*8), SI
	DECQ DX
	JMP  vec

done:
	RET

// func dotInt8Asm(a, b []int8) int32
// Dot product of the first len(a)/16*16 elements; requires AVX2 and
// len(b) >= len(a).
TEXT ·dotInt8Asm(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	SHRQ   $4, CX
	VPXOR  Y3, Y3, Y3
	VPXOR  Y5, Y5, Y5
	TESTQ  CX, CX
	JEQ    reduce

loop:
	VPMOVSXBW (SI), Y0
	VPMOVSXBW (DI), Y1
	VPMADDWD  Y0, Y1, Y2
	VPADDD    Y2, Y3, Y3
	ADDQ      $16, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       loop

reduce:
	VEXTRACTI128 $1, Y3, X4
	VPADDD       X4, X3, X3
	VPSHUFD      $0x4E, X3, X4
	VPADDD       X4, X3, X3
	VPSHUFD      $0xB1, X3, X4
	VPADDD       X4, X3, X3
	VMOVD        X3, AX
	VZEROUPPER
	MOVL         AX, ret+48(FP)
	RET
