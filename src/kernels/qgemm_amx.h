#pragma once
// AMX int8 prefill GEMM (qgemm_amx.cpp): the same contract as QGemmFn (qdot.h), for Q8_0, Q4_K and
// Q6_K weights, on CPUs with AMX-TILE and AMX-INT8.
#include "kernels/qdot.h"

namespace herd {

// True when the CPU reports AMX-TILE and AMX-INT8, the OS enables the tile state (XCR0 bits 17
// and 18), the kernel grants this process tile data (arch_prctl ARCH_REQ_XCOMP_PERM, asked once),
// the AVX-512 kernel level is in use (HERD_KERNELS=scalar|avx2 turn it off) and $HERD_AMX is not
// "0" (A/B switch). Decided once per process.
bool use_amx();

// The AMX GEMM for w when use_amx(), else nullptr (matmul then takes qgemm_kernel's).
QGemmFn amx_qgemm_kernel(DType w);
// The same for weights in interleaved 16-row groups (kernels/row_interleave.h), read in place:
// w is a group, stride its rows' standard stride, nr 16.
QGemmFn amx_qgemm_interleaved_kernel(DType w);

namespace amx {
// Unconditional: only call the result where use_amx() is true. nullptr for other types.
QGemmFn qgemm_kernel(DType w);
QGemmFn qgemm_interleaved_kernel(DType w);
}

}  // namespace herd
