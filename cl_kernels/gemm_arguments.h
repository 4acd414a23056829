// The arguments every GEMM kernel starts with (matmul.cl's gemm, gemm_cpu, gemm_vec4, gemm_mma),
// in the order ops/gemm.cpp's gemm_with_plan sets them: C[b] = alpha * op(A[b]) * op(B[b]) +
// beta * C[b] for batch entries b, each matrix at its offset plus b times its stride, rows its
// leading dimension apart.
#define GEMM_ARGUMENTS                                                                      \
  const int M, const int N, const int K, const float alpha, __global const float* A,        \
      const ulong offset_a, const int lda, const ulong stride_a, __global const float* B,   \
      const ulong offset_b, const int ldb, const ulong stride_b, const float beta,          \
      __global float* C, const ulong offset_c, const int ldc, const ulong stride_c
