// Batch normalization over [N, C, S] (S: the product of the spatial extents).

// Build options: VEC, the floats each step reads (4 where the spatial extent S is a multiple of
// 4, else 1), and an activation folded in (ops/epilogue.hpp): EPILOGUE_LO and EPILOGUE_HI bound
// the output, EPILOGUE_PASSES_LO says whether the activation's derivative passes lo itself (clip)
// or not (relu).
#ifndef VEC
#define VEC 1
#endif
#if VEC == 4
typedef float4 floatv;
#define LOADV(p, i) vload4((i), (p))
#define STOREV(v, p, i) vstore4((v), (i), (p))
#define HSUM(v) ((v).x + (v).y + (v).z + (v).w)
#else
typedef float floatv;
#define LOADV(p, i) (p)[i]
#define STOREV(v, p, i) ((p)[i] = (v))
#define HSUM(v) (v)
#endif

#include "epilogue.h"

// x normalized with its channel's statistics, scaled and shifted: forward's output before the
// epilogue, and what backward recomputes to mask the gradient by it (the same expression, so the
// same value).
floatv bn_normalize(const floatv x, const float mean, const float invstd, const float gamma,
                    const float beta) {
  return (x - mean) * invstd * gamma + beta;
}

// Statistics of a set of values: (count, mean, sum of squared deviations from the mean).
// Chan et al.'s pairwise update merges two sets without cancellation.
float3 stats_merge(const float3 a, const float3 b) {
  const float count = a.x + b.x;
  if (b.x == 0.0f) return a;
  const float delta = b.y - a.y, share = b.x / count;
  return (float3)(count, a.y + delta * share, a.z + b.z + delta * delta * a.x * share);
}

// The statistics of one step's VEC values.
float3 stats_of(const floatv v) {
  const float mean = HSUM(v) / (float)VEC;
  const floatv d = v - mean;
  return (float3)((float)VEC, mean, HSUM(d * d));
}

// Merges every work-item's statistics over a work-group whose local size is a power of two;
// part holds 3 floats per work-item. Every work-item gets the result.
float3 work_group_stats(const float3 value, __local float* part) {
  const size_t lid = get_local_id(0), size = get_local_size(0);
  vstore3(value, lid, part);
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = size / 2; step > 0; step /= 2) {
    if (lid < step) vstore3(stats_merge(vload3(lid, part), vload3(lid + step, part)), lid, part);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float3 total = vload3(0, part);
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}

// The sums of every work-item's two values over such a work-group; part holds 2 floats per
// work-item.
float2 work_group_sums(const float2 value, __local float* part) {
  const size_t lid = get_local_id(0), size = get_local_size(0);
  vstore2(value, lid, part);
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = size / 2; step > 0; step /= 2) {
    if (lid < step) vstore2(vload2(lid, part) + vload2(lid + step, part), lid, part);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float2 total = vload2(0, part);
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}

// Walks `at` over the steps (VEC floats each) of channel c, x[n, c, s] with SV = S / VEC steps
// per row and i = n * SV + s/VEC in [first, end), that fall to this work-item: from first + the
// local id on, in steps of the local size. n and s advance by adding the step's quotient and
// remainder with a carry, not by dividing per step (64-bit division made these loops the slowest
// kernels of a training step on the H100).
#define FOR_CHANNEL_RANGE(at, first, end, C, SV, c)                                            \
  for (long i_ = (first) + (long)get_local_id(0), n_ = i_ / (SV), s_ = i_ % (SV),              \
            dn_ = get_local_size(0) / (SV), ds_ = get_local_size(0) % (SV), at = 0;            \
       i_ < (end) && ((at = (n_ * (C) + (c)) * (SV) + s_), 1);                                 \
       i_ += get_local_size(0), s_ += ds_, n_ += dn_ + (s_ >= (SV)), s_ -= s_ >= (SV) ? (SV) : 0)

// The statistics and the gradient's sums run over a channel's M = N * SV steps cut into
// `pieces` ranges, a work-group per (channel, piece), so a few channels still fill the device;
// a work-group per channel then merges its pieces. Piece g = c * pieces + p covers
// [p * len, min(M, (p + 1) * len)) of channel c, len = ceil(M / pieces): piece_range gives
// (first, end).
long2 piece_range(const long g, const long pieces, const long M) {
  const long len = (M + pieces - 1) / pieces, first = (g % pieces) * len;
  return (long2)(first, min(M, first + len));
}

// Per piece: partials[3g..3g+2] = the statistics of its values, read once.
__kernel void bn_piece_statistics(__global const float* x, __global float* partials,
                                  const long N, const long C, const long SV, const long pieces,
                                  __local float* part) {
  const long M = N * SV;
  for (long g = get_group_id(0); g < C * pieces; g += get_num_groups(0)) {
    const long2 range = piece_range(g, pieces, M);
    const long c = g / pieces;
    float3 acc = (float3)(0.0f);
    FOR_CHANNEL_RANGE(at, range.x, range.y, C, SV, c) acc = stats_merge(acc, stats_of(LOADV(x, at)));
    const float3 total = work_group_stats(acc, part);
    if (get_local_id(0) == 0) vstore3(total, g, partials);
  }
}

// A work-group per channel merges its pieces: saved = (mean[C], invstd[C]); the running
// statistics move toward the batch's by momentum (the running variance takes the unbiased one).
__kernel void bn_finish_statistics(__global const float* partials, __global float* saved,
                                   __global float* running_mean, __global float* running_var,
                                   const long C, const long pieces, const float momentum,
                                   const float eps, __local float* part) {
  for (long c = get_group_id(0); c < C; c += get_num_groups(0)) {
    float3 acc = (float3)(0.0f);
    for (long p = get_local_id(0); p < pieces; p += get_local_size(0))
      acc = stats_merge(acc, vload3(c * pieces + p, partials));
    const float3 total = work_group_stats(acc, part);
    if (get_local_id(0) == 0) {
      const float count = total.x, mean = total.y, var = total.z / count;
      saved[c] = mean;
      saved[C + c] = rsqrt(var + eps);
      running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
      const float unbiased = count > 1.0f ? total.z / (count - 1.0f) : var;
      running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
    }
  }
}

// The row (sample * C + channel) of step i of x [N, C, SV]: 32-bit division where the steps fit
// in 32 bits.
ulong row_of(const ulong i, const long SV, const ulong steps) {
  return steps <= UINT_MAX ? (ulong)((uint)i / (uint)SV) : i / (ulong)SV;
}

// The channel of a row of x [N, C, SV], and of step i.
long channel_of_row(const ulong row, const long C, const ulong steps) {
  return steps <= UINT_MAX ? (long)((uint)row % (uint)C) : (long)(row % (ulong)C);
}
long channel_of(const ulong i, const long C, const long SV, const ulong steps) {
  return channel_of_row(row_of(i, SV, steps), C, steps);
}

// y = epilogue((x - mean[c]) * invstd[c] * gamma[c] + beta[c]). From the running statistics
// (scale holds variances, turned into invstd with eps) or from saved ones (scale, from
// scale_offset on, holds invstd). steps = N * C * SV. x's samples start x_sample steps apart
// from step x_offset on (C * SV and 0 where x lies as it is; a channel slice of a larger tensor,
// in inference, else).
__kernel void bn_apply(__global const float* x, const ulong x_offset, const ulong x_sample,
                       __global float* y, __global const float* mean, __global const float* scale,
                       const ulong scale_offset, const int scale_is_variance, const float eps,
                       __global const float* gamma, __global const float* beta, const long C,
                       const long SV, const ulong steps) {
  scale += scale_offset;
  const ulong sample = (ulong)(C * SV);
  for (ulong i = get_global_id(0); i < steps; i += get_global_size(0)) {
    const ulong row = row_of(i, SV, steps);
    const long c = channel_of_row(row, C, steps);
    const float invstd = scale_is_variance ? rsqrt(scale[c] + eps) : scale[c];
    ulong at = x_offset + i;
    if (x_sample != sample)  // the sample's extra distance (unsigned wrap-around if less)
      at += (steps <= UINT_MAX ? (ulong)((uint)row / (uint)C) : row / (ulong)C) *
            (x_sample - sample);
    STOREV(FINISH(bn_normalize(LOADV(x, at), mean[c], invstd, gamma[c], beta[c])), y, i);
  }
}

// gy where the folded epilogue passed the gradient (recomputed from x), zero elsewhere.
floatv bn_output_gradient(const floatv gy, const floatv x, const float mean, const float invstd,
                          __global const float* gamma, __global const float* beta, const long c) {
#ifdef EPILOGUE_LO
  const floatv y = bn_normalize(x, mean, invstd, gamma[c], beta[c]);
  return PASSES(y) ? gy : (floatv)(0.0f);
#else
  return gy;
#endif
}

// Per piece: partials[2g..2g+1] = (sum(gy), sum(gy * (x - mean))) over the piece, gy masked
// by the epilogue; saved = (mean[C], invstd[C]).
__kernel void bn_piece_sums(__global const float* x, __global const float* gy,
                            __global const float* saved, __global const float* gamma,
                            __global const float* beta, __global float* partials, const long N,
                            const long C, const long SV, const long pieces, __local float* part) {
  const long M = N * SV;
  for (long g = get_group_id(0); g < C * pieces; g += get_num_groups(0)) {
    const long2 range = piece_range(g, pieces, M);
    const long c = g / pieces;
    const float mean = saved[c], invstd = saved[C + c];
    float2 acc = (float2)(0.0f);  // both sums in one pass over gy and x
    FOR_CHANNEL_RANGE(at, range.x, range.y, C, SV, c) {
      const floatv xv = LOADV(x, at);
      const floatv g_ = bn_output_gradient(LOADV(gy, at), xv, mean, invstd, gamma, beta, c);
      acc += (float2)(HSUM(g_), HSUM(g_ * (xv - mean)));
    }
    const float2 total = work_group_sums(acc, part);
    if (get_local_id(0) == 0) vstore2(total, g, partials);
  }
}

// A work-group per channel adds its pieces: sums[c] = sum(gy), sums[C + c] = sum(gy * xhat);
// gamma's and beta's gradients from them (each with its beta; has_* says whether it is wanted).
__kernel void bn_finish_sums(__global const float* partials, __global const float* saved,
                             __global float* sums, __global float* ggamma, const int has_ggamma,
                             const float beta_gamma, __global float* gbeta, const int has_gbeta,
                             const float beta_beta, const long C, const long pieces,
                             __local float* part) {
  for (long c = get_group_id(0); c < C; c += get_num_groups(0)) {
    float2 acc = (float2)(0.0f);
    for (long p = get_local_id(0); p < pieces; p += get_local_size(0))
      acc += vload2(c * pieces + p, partials);
    const float2 total = work_group_sums(acc, part);
    if (get_local_id(0) == 0) {
      const float sum_gy = total.x, sum_gy_xhat = total.y * saved[C + c];
      sums[c] = sum_gy;
      sums[C + c] = sum_gy_xhat;
      if (has_ggamma)
        ggamma[c] = beta_gamma == 0.0f ? sum_gy_xhat : sum_gy_xhat + beta_gamma * ggamma[c];
      if (has_gbeta) gbeta[c] = beta_beta == 0.0f ? sum_gy : sum_gy + beta_beta * gbeta[c];
    }
  }
}

// gx = beta * gx + gamma * invstd / M * (M * gy - sum(gy) - xhat * sum(gy * xhat)), gy masked
// by the epilogue; M = N * S, steps = N * C * SV.
__kernel void bn_backward_input(__global const float* x, __global const float* gy,
                                __global const float* saved, __global const float* sums,
                                __global const float* gamma, __global const float* beta,
                                __global float* gx, const long C, const long SV, const float M,
                                const ulong steps, const float beta_gx) {
  for (ulong i = get_global_id(0); i < steps; i += get_global_size(0)) {
    const long c = channel_of(i, C, SV, steps);
    const float mean = saved[c], invstd = saved[C + c];
    const floatv xv = LOADV(x, i);
    const floatv xhat = (xv - mean) * invstd;
    const floatv g_ = bn_output_gradient(LOADV(gy, i), xv, mean, invstd, gamma, beta, c);
    const floatv g = gamma[c] * invstd / M * (M * g_ - sums[c] - xhat * sums[C + c]);
    STOREV(beta_gx == 0.0f ? g : g + beta_gx * LOADV(gx, i), gx, i);
  }
}
