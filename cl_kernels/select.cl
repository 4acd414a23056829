// top_k: the positions of the k largest (or smallest) elements of each row along an axis, in
// order. x is viewed as [outer, n, inner] and the positions as [outer, k, inner]. Each element
// counts the elements of its row that come before it (its rank) and, when that is below k,
// writes its position at that rank. The order is total (ties go to the lower position, NaN comes
// above every number, as in PyTorch), so the ranks of a row are a permutation and each output
// is written exactly once. A work-item reads its row once: O(n) per element, for the row
// lengths TopK sees (classes, candidates), not for rows of millions.

// Whether a is greater than b, NaN above every number and equal to NaN.
bool above(const float a, const float b) {
  return isnan(a) ? !isnan(b) : !isnan(b) && a > b;
}

// Whether a (at position i) comes before b (at position j) in the order asked for.
bool comes_before(const float a, const long i, const float b, const long j, const int largest) {
  const bool a_first = largest ? above(a, b) : above(b, a);
  const bool b_first = largest ? above(b, a) : above(a, b);
  return a_first || (!b_first && i < j);
}

__kernel void top_k_positions(__global const float* x, __global float* positions,
                              const ulong total, const long n, const long inner, const long k,
                              const int largest) {
  for (ulong e = get_global_id(0); e < total; e += get_global_size(0)) {
    const long in = (long)(e % (ulong)inner), at = (long)(e / (ulong)inner % (ulong)n),
               outer = (long)(e / ((ulong)inner * (ulong)n));
    __global const float* row = x + outer * n * inner + in;
    const float v = row[at * inner];
    long rank = 0;
    for (long j = 0; j < n && rank < k; ++j) rank += comes_before(row[j * inner], j, v, at, largest);
    if (rank < k) positions[(outer * k + rank) * inner + in] = (float)at;
  }
}
