// Batch normalization over [N, C, S] (S: the product of the spatial extents) and dropout.

// The sum of every work-item's value over a work-group whose local size is a power of two;
// every work-item gets the total.
float work_group_total(const float value, __local float* partial) {
  const size_t lid = get_local_id(0);
  partial[lid] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = get_local_size(0) / 2; step > 0; step /= 2) {
    if (lid < step) partial[lid] += partial[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float total = partial[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}

// Walks `at` over the offsets of channel c's elements x[n, c, s] with i = n * S + s in
// [first, end) that fall to this work-item: from first + the local id on, in steps of the local
// size. n and s advance by adding the step's quotient and remainder with a carry, not by
// dividing per element (64-bit division made these loops the slowest kernels of a training step
// on the H100).
#define FOR_CHANNEL_RANGE(at, first, end, C, S, c)                                             \
  for (long i_ = (first) + (long)get_local_id(0), n_ = i_ / (S), s_ = i_ % (S),                \
            dn_ = get_local_size(0) / (S), ds_ = get_local_size(0) % (S), at = 0;              \
       i_ < (end) && ((at = (n_ * (C) + (c)) * (S) + s_), 1);                                  \
       i_ += get_local_size(0), s_ += ds_, n_ += dn_ + (s_ >= (S)), s_ -= s_ >= (S) ? (S) : 0)

// The statistics and the gradient's sums run over a channel's M = N * S elements cut into
// `pieces` ranges, a work-group per (channel, piece), so a few channels still fill the device;
// a work-item per channel then combines the pieces. Piece g = c * pieces + p covers
// [p * len, min(M, (p + 1) * len)) of channel c, len = ceil(M / pieces): piece_range gives
// (first, end).
long2 piece_range(const long g, const long pieces, const long M) {
  const long len = (M + pieces - 1) / pieces, first = (g % pieces) * len;
  return (long2)(first, min(M, first + len));
}

// Per piece: partial[3g..3g+2] = (count, mean, sum of squared deviations from that mean).
__kernel void bn_piece_statistics(__global const float* x, __global float* partials,
                                  const long N, const long C, const long S, const long pieces,
                                  __local float* partial) {
  const long M = N * S;
  for (long g = get_group_id(0); g < C * pieces; g += get_num_groups(0)) {
    const long2 range = piece_range(g, pieces, M);
    const long c = g / pieces, first = range.x, end = range.y;
    const long count = max(end - first, 0L);
    float acc = 0.0f;
    FOR_CHANNEL_RANGE(at, first, end, C, S, c) acc += x[at];
    const float mean = work_group_total(acc, partial) / (float)max(count, 1L);
    acc = 0.0f;  // two passes: deviations from the mean, not E[x^2] - mean^2
    FOR_CHANNEL_RANGE(at, first, end, C, S, c) {
      const float d = x[at] - mean;
      acc += d * d;
    }
    const float m2 = work_group_total(acc, partial);
    if (get_local_id(0) == 0) {
      partials[3 * g] = (float)count;
      partials[3 * g + 1] = mean;
      partials[3 * g + 2] = m2;
    }
  }
}

// Per channel, from its pieces (Chan et al.'s pairwise update): saved = (mean[C], invstd[C]);
// the running statistics move toward the batch's by momentum (the running variance takes the
// unbiased one).
__kernel void bn_finish_statistics(__global const float* partials, __global float* saved,
                                   __global float* running_mean, __global float* running_var,
                                   const long N, const long C, const long S, const long pieces,
                                   const float momentum, const float eps) {
  const long M = N * S;
  for (long c = get_global_id(0); c < C; c += get_global_size(0)) {
    float count = 0.0f, mean = 0.0f, m2 = 0.0f;
    for (long p = 0; p < pieces; ++p) {
      __global const float* part = partials + 3 * (c * pieces + p);
      if (part[0] == 0.0f) continue;
      const float total = count + part[0], delta = part[1] - mean;
      mean += delta * part[0] / total;
      m2 += part[2] + delta * delta * count * part[0] / total;
      count = total;
    }
    const float var = m2 / (float)M;
    saved[c] = mean;
    saved[C + c] = rsqrt(var + eps);
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
    const float unbiased = M > 1 ? var * (float)M / (float)(M - 1) : var;
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
  }
}

// y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]. From the running statistics (scale holds
// variances, turned into invstd with eps) or from saved ones (scale, from scale_offset on, holds
// invstd).
__kernel void bn_apply(__global const float* x, __global float* y, __global const float* mean,
                       __global const float* scale, const ulong scale_offset,
                       const int scale_is_variance, const float eps, __global const float* gamma,
                       __global const float* beta, const long C, const long S, const long total) {
  scale += scale_offset;
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const long c = (i / S) % C;
    const float invstd = scale_is_variance ? rsqrt(scale[c] + eps) : scale[c];
    y[i] = (x[i] - mean[c]) * invstd * gamma[c] + beta[c];
  }
}

// Per piece: partials[2g..2g+1] = (sum(gy), sum(gy * x)) over the piece.
__kernel void bn_piece_sums(__global const float* x, __global const float* gy,
                            __global float* partials, const long N, const long C, const long S,
                            const long pieces, __local float* partial) {
  const long M = N * S;
  for (long g = get_group_id(0); g < C * pieces; g += get_num_groups(0)) {
    const long2 range = piece_range(g, pieces, M);
    const long c = g / pieces, first = range.x, end = range.y;
    float acc_gy = 0.0f, acc_gy_x = 0.0f;  // both sums in one pass over gy and x
    FOR_CHANNEL_RANGE(at, first, end, C, S, c) {
      acc_gy += gy[at];
      acc_gy_x += gy[at] * x[at];
    }
    const float sum_gy = work_group_total(acc_gy, partial);
    const float sum_gy_x = work_group_total(acc_gy_x, partial);
    if (get_local_id(0) == 0) {
      partials[2 * g] = sum_gy;
      partials[2 * g + 1] = sum_gy_x;
    }
  }
}

// Per channel, from its pieces: sums[c] = sum(gy), sums[C + c] = sum(gy * xhat); gamma's and
// beta's gradients from them (each with its beta; has_* says whether it is wanted).
__kernel void bn_finish_sums(__global const float* partials, __global const float* saved,
                             __global float* sums, __global float* ggamma, const int has_ggamma,
                             const float beta_gamma, __global float* gbeta, const int has_gbeta,
                             const float beta_beta, const long C, const long pieces) {
  for (long c = get_global_id(0); c < C; c += get_global_size(0)) {
    float sum_gy = 0.0f, sum_gy_x = 0.0f;
    for (long p = 0; p < pieces; ++p) {
      sum_gy += partials[2 * (c * pieces + p)];
      sum_gy_x += partials[2 * (c * pieces + p) + 1];
    }
    // sum(gy * (x - mean)) * invstd = sum(gy * x) * invstd - mean * invstd * sum(gy)
    const float sum_gy_xhat = (sum_gy_x - saved[c] * sum_gy) * saved[C + c];
    sums[c] = sum_gy;
    sums[C + c] = sum_gy_xhat;
    if (has_ggamma)
      ggamma[c] = beta_gamma == 0.0f ? sum_gy_xhat : sum_gy_xhat + beta_gamma * ggamma[c];
    if (has_gbeta) gbeta[c] = beta_beta == 0.0f ? sum_gy : sum_gy + beta_beta * gbeta[c];
  }
}

// gx = beta * gx + gamma * invstd / M * (M * gy - sum(gy) - xhat * sum(gy * xhat))
__kernel void bn_backward_input(__global const float* x, __global const float* gy,
                                __global const float* saved, __global const float* sums,
                                __global const float* gamma, __global float* gx, const long N,
                                const long C, const long S, const float beta) {
  const long total = N * C * S;
  const float M = (float)(N * S);
  for (long i = get_global_id(0); i < total; i += get_global_size(0)) {
    const long c = (i / S) % C;
    const float invstd = saved[C + c];
    const float xhat = (x[i] - saved[c]) * invstd;
    const float g = gamma[c] * invstd / M * (M * gy[i] - sums[c] - xhat * sums[C + c]);
    gx[i] = beta == 0.0f ? g : g + beta * gx[i];
  }
}

// A uniform number in [0, 1) from (seed, step, index): splitmix64's finalizer over their mix.
float dropout_uniform(const ulong seed, const ulong step, const ulong index) {
  ulong z = seed + 0x9e3779b97f4a7c15UL * (step + 1) + index * 0xbf58476d1ce4e5b9UL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
  z ^= z >> 31;
  return (float)(z >> 40) * (1.0f / 16777216.0f);
}

// y = keep ? x / (1 - p) : 0, keeping each element with probability 1 - p. backward uses the same
// mask: gx = beta * gx + (keep ? gy / (1 - p) : 0).
__kernel void dropout_apply(__global const float* x, __global float* y, const ulong n,
                            const float p, const ulong seed, const ulong step, const float beta) {
  const float scale = 1.0f / (1.0f - p);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    const float v = dropout_uniform(seed, step, i) >= p ? x[i] * scale : 0.0f;
    y[i] = beta == 0.0f ? v : v + beta * y[i];
  }
}
