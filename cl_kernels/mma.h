// NVIDIA's tensor cores through inline PTX (compute capability 8.0 and up; the host builds
// these only there), shared by gemm_vec4's tensor-core forms and gemm_mma. MMA_TF32 selects
// m16n8k8 in TF32, MMA16 m16n8k16 in fp16 (or bf16 with MMA_BF16); store_c_pair serves both.
// Uses MULADD (muladd.h, included first).

#if MMA_TF32
// Rounds to nearest, ties away from zero, at TF32's 10-bit mantissa: cvt.rna.tf32.f32's result in
// the bits the tensor cores read (they ignore the low 13), in one add and one compare instead of
// its three instructions. Infinities and NaNs keep their bits: the carry would turn a NaN whose
// mantissa's top bits are all ones (0x7fffffff, NVIDIA's) into a zero.
inline uint tf32(float x) {
  const uint u = as_uint(x);
  return fabs(x) < INFINITY ? u + 0x1000u : u;
}

// d += a b for one m16n8k8 tile: a holds the lane's four elements of A, b its two of B, d its
// four of the 16 x 8 sums (rows g and g + 8, columns 2t and 2t + 1).
inline void mma_tile(float* d, const uint* a, const uint* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%10,%11,%12,%13};"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(d[0]), "f"(d[1]),
        "f"(d[2]), "f"(d[3]));
}
#endif

#if MMA16
// Two values rounded to the 16-bit format and packed, lo in the low half.
inline uint pack16(float lo, float hi) {
  uint d;
#if MMA_BF16
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
#else
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(d) : "f"(hi), "f"(lo));
#endif
  return d;
}

// d += a b for one m16n8k16 tile: a holds the lane's four words of A (rows g and g + 8, k pairs
// t and t + 4), b its two of B; d as mma_tile's for TF32.
inline void mma_tile(float* d, const uint* a, const uint* b) {
  asm volatile(
#if MMA_BF16
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
#else
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
#endif
      "{%8,%9}, {%10,%11,%12,%13};"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(d[0]), "f"(d[1]),
        "f"(d[2]), "f"(d[3]));
}
#endif

#if MMA_TF32 || MMA16
// Writes two neighbouring elements of C at (m, n), n even: alpha * v (+ beta * C). N is a
// multiple of 4, so n < N puts both inside.
inline void store_c_pair(__global float* C, int ldc, int M, int N, int m, int n, float2 v,
                         float alpha, float beta) {
  if (m >= M || n >= N) return;
  __global float2* c = (__global float2*)(C + (long)m * ldc + n);
  const float2 r = alpha * v;
  *c = beta == 0.0f ? r : MULADD((float2)(beta), *c, r);
}
#endif
