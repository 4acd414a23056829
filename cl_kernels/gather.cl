// gather_elements (ONNX GatherElements, up to 8 dimensions) and embedding, with their gradients.
// Indices are floats holding whole numbers (negative ones count from the end of the axis); an
// index outside the axis reads NaN. Shapes travel as long8 extents, outermost first.

#define UNPACK8(v) {v.s0, v.s1, v.s2, v.s3, v.s4, v.s5, v.s6, v.s7}

// The position a float index names along an axis of `extent` (negative ones count from the
// end), or -1 when it is not a whole number inside the axis.
long resolve_index(const float v, const long extent) {
  long at = (long)v;
  if (v != (float)at) return -1;
  if (at < 0) at += extent;
  return at >= 0 && at < extent ? at : -1;
}

// y (indices' shape) [c] = x[c with c[axis] = indices[c]].
__kernel void gather_elements_forward(__global const float* x, __global const float* indices,
                                      __global float* y, const ulong n, const int rank,
                                      const int axis, const long8 index_dims, const long8 x_dims) {
  const long id[8] = UNPACK8(index_dims);
  const long xd[8] = UNPACK8(x_dims);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long rest = (long)i, offset = 0, stride = 1;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      long c = rest % id[d];
      rest /= id[d];
      if (d == axis) {
        c = resolve_index(indices[i], xd[d]);
        inside = inside && c >= 0;
      }
      offset += c * stride;
      stride *= xd[d];
    }
    y[i] = inside ? x[offset] : NAN;
  }
}

// gx[c] = beta * gx[c] + the sum of gy over the index positions (c with c[axis] = j) whose index
// names c[axis]: a loop over the indices' extent along the axis, no atomics.
__kernel void gather_elements_backward(__global const float* indices, __global const float* gy,
                                       __global float* gx, const ulong n, const int rank,
                                       const int axis, const long8 index_dims, const long8 x_dims,
                                       const float beta) {
  const long id[8] = UNPACK8(index_dims);
  const long xd[8] = UNPACK8(x_dims);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    long rest = (long)i, base = 0, stride = 1, axis_stride = 1, target = 0;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      const long c = rest % xd[d];
      rest /= xd[d];
      if (d == axis) {
        target = c;
        axis_stride = stride;
      } else {
        inside = inside && c < id[d];
        base += c * stride;
      }
      stride *= id[d];
    }
    float sum = 0.0f;
    if (inside)
      for (long j = 0; j < id[axis]; ++j)
        if (resolve_index(indices[base + j * axis_stride], xd[axis]) == target)
          sum += gy[base + j * axis_stride];
    gx[i] = beta == 0.0f ? sum : sum + beta * gx[i];
  }
}

// embedding: y [n, d] row i = table [rows, d] row indices[i] (negative indices count from the
// end; one outside the table gives a row of NaN).
__kernel void embedding_forward(__global const float* table, __global const float* indices,
                                __global float* y, const ulong n, const ulong rows,
                                const ulong d) {
  for (ulong e = get_global_id(0); e < n * d; e += get_global_size(0)) {
    const long r = resolve_index(indices[e / d], (long)rows);
    y[e] = r >= 0 ? table[r * d + e % d] : NAN;
  }
}

// embedding's gradient, deterministic and without atomics, in three steps: each index becomes
// the key row * n + position (an index outside the table the row `rows`; padding past n sorts
// last), the keys are sorted (bitonic steps), and each table row sums the gy rows of its run of
// keys, in position order. O(n log^2 n) for the sort, O(n d) for the sums.
__kernel void embedding_keys(__global const float* indices, __global ulong* keys, const ulong n,
                             const ulong padded, const ulong rows) {
  for (ulong i = get_global_id(0); i < padded; i += get_global_size(0)) {
    if (i >= n) {
      keys[i] = ULONG_MAX;
      continue;
    }
    const long r = resolve_index(indices[i], (long)rows);
    keys[i] = (r < 0 ? rows : (ulong)r) * n + i;
  }
}

// One step of a bitonic sort of `padded` keys (a power of two): element i and its partner
// i ^ j swap into ascending order where (i & k) == 0, descending elsewhere.
__kernel void bitonic_step(__global ulong* keys, const ulong padded, const ulong j,
                           const ulong k) {
  for (ulong i = get_global_id(0); i < padded; i += get_global_size(0)) {
    const ulong partner = i ^ j;
    if (partner <= i) continue;
    const ulong a = keys[i], b = keys[partner];
    if ((a > b) == ((i & k) == 0)) {
      keys[i] = b;
      keys[partner] = a;
    }
  }
}

// gtable = beta * gtable + the sum of gy's rows whose index names the row: a work-group per
// table row finds its run of sorted keys (a binary search), its work-items take the columns.
__kernel void embedding_backward(__global const ulong* keys, __global const float* gy,
                                 __global float* gtable, const ulong n, const ulong rows,
                                 const ulong d, const float beta) {
  for (ulong r = get_group_id(0); r < rows; r += get_num_groups(0)) {
    ulong first = 0, last = n;
    while (first < last) {
      const ulong mid = first + (last - first) / 2;
      if (keys[mid] < r * n)
        first = mid + 1;
      else
        last = mid;
    }
    for (ulong c = get_local_id(0); c < d; c += get_local_size(0)) {
      float sum = 0.0f;
      for (ulong s = first; s < n && keys[s] < (r + 1) * n; ++s) sum += gy[(keys[s] % n) * d + c];
      gtable[r * d + c] = beta == 0.0f ? sum : sum + beta * gtable[r * d + c];
    }
  }
}
