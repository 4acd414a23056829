// strided_index: where element i of a row-major output lies in operands read through strides.
// Sources #include this file; the build inlines it.

// The offsets of output element i in two operands, one decomposition of i serving both: unrolled
// over the long8's components (a dynamically indexed array went to slow memory), in 32-bit
// arithmetic where the output has fewer than 2^32 elements (so do the operands). The 64-bit,
// per-operand form held broadcast adds at 3-7% of the copy bandwidth on the H200.
#define OFFSET_STEP(T, c)                                      \
  if ((c) < rank) {                                            \
    const T e_ = (T)dims.s##c, q_ = r_ / e_, at_ = r_ - q_ * e_; \
    oa_ += at_ * (T)sa.s##c;                                   \
    ob_ += at_ * (T)sb.s##c;                                   \
    r_ = q_;                                                   \
  }
#define OFFSETS(T)                                                                \
  {                                                                               \
    T r_ = (T)i, oa_ = 0, ob_ = 0;                                                \
    OFFSET_STEP(T, 7) OFFSET_STEP(T, 6) OFFSET_STEP(T, 5) OFFSET_STEP(T, 4)         \
    OFFSET_STEP(T, 3) OFFSET_STEP(T, 2) OFFSET_STEP(T, 1) OFFSET_STEP(T, 0)         \
    *oa = oa_;                                                                    \
    *ob = ob_;                                                                    \
  }
void strided_offsets(const ulong i, const ulong n, const int rank, const long8 dims,
                     const long8 sa, const long8 sb, ulong* oa, ulong* ob) {
  if (n <= UINT_MAX)
    OFFSETS(uint)
  else
    OFFSETS(ulong)
}

// The offset of output element i in one operand.
ulong strided_offset(const ulong i, const ulong n, const int rank, const long8 dims,
                     const long8 strides) {
  ulong at, unused;
  strided_offsets(i, n, rank, dims, strides, strides, &at, &unused);
  return at;
}
