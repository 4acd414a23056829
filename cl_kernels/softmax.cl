// Softmax and log-softmax along the middle axis of an [outer, r, inner] view: one work-item per
// (o, k), or for long contiguous rows (inner == 1) one work-group per row. The maximum is
// subtracted first, so large inputs never overflow.

#include "group_combine.h"

__kernel void softmax_forward(__global const float* x, __global float* y, const ulong outer,
                              const ulong r, const ulong inner, const int log_mode) {
  const ulong total = outer * inner;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    const ulong base = (i / inner) * r * inner + i % inner;
    float m = -INFINITY;
    for (ulong j = 0; j < r; ++j) m = fmax(m, x[base + j * inner]);
    float total_exp = 0.0f;
    for (ulong j = 0; j < r; ++j) total_exp += exp(x[base + j * inner] - m);
    const float log_total = log(total_exp);
    for (ulong j = 0; j < r; ++j) {
      float shifted = x[base + j * inner] - m;
      y[base + j * inner] = log_mode ? shifted - log_total : exp(shifted) / total_exp;
    }
  }
}

// From the output y: softmax gx = y * (gy - sum(gy * y)); log-softmax gx = gy - exp(y) sum(gy).
__kernel void softmax_backward(__global const float* y, __global const float* gy,
                               __global float* gx, const ulong outer, const ulong r,
                               const ulong inner, const int log_mode, const float beta) {
  const ulong total = outer * inner;
  for (ulong i = get_global_id(0); i < total; i += get_global_size(0)) {
    const ulong base = (i / inner) * r * inner + i % inner;
    float dot = 0.0f;
    for (ulong j = 0; j < r; ++j)
      dot += log_mode ? gy[base + j * inner] : gy[base + j * inner] * y[base + j * inner];
    for (ulong j = 0; j < r; ++j) {
      const ulong at = base + j * inner;
      float g = log_mode ? gy[at] - exp(y[at]) * dot : y[at] * (gy[at] - dot);
      gx[at] = beta == 0.0f ? g : g + beta * gx[at];
    }
  }
}

// softmax_forward for inner == 1, a team of work-items per row (RowTeams, grid-stride over the
// rows).
__kernel void softmax_rows_forward(__global const float* x, __global float* y, const ulong outer,
                                   const ulong r, const int log_mode, __local float* partial) {
  const size_t lid = get_local_id(0), lsize = get_local_size(0);
  partial += get_local_id(1) * lsize;
  for (ulong first = team_first_row(); first < outer; first += team_row_step()) {
    const ulong o = team_row(first, outer);
    __global const float* row = x + o * r;
    __global float* out = y + o * r;
    float m = -INFINITY;
    for (ulong j = lid; j < r; j += lsize) m = fmax(m, row[j]);
    m = group_combine(m, 1, partial);
    float total_exp = 0.0f;
    for (ulong j = lid; j < r; j += lsize) total_exp += exp(row[j] - m);
    total_exp = group_combine(total_exp, 0, partial);
    const float log_total = log(total_exp);
    if (!team_owns(first, outer)) continue;
    for (ulong j = lid; j < r; j += lsize) {
      const float shifted = row[j] - m;
      out[j] = log_mode ? shifted - log_total : exp(shifted) / total_exp;
    }
  }
}

// softmax_backward for inner == 1, a team of work-items per row.
__kernel void softmax_rows_backward(__global const float* y, __global const float* gy,
                                    __global float* gx, const ulong outer, const ulong r,
                                    const int log_mode, const float beta,
                                    __local float* partial) {
  const size_t lid = get_local_id(0), lsize = get_local_size(0);
  partial += get_local_id(1) * lsize;
  for (ulong first = team_first_row(); first < outer; first += team_row_step()) {
    const ulong base = team_row(first, outer) * r;
    float dot = 0.0f;
    for (ulong j = lid; j < r; j += lsize)
      dot += log_mode ? gy[base + j] : gy[base + j] * y[base + j];
    dot = group_combine(dot, 0, partial);
    if (!team_owns(first, outer)) continue;
    for (ulong j = lid; j < r; j += lsize) {
      const ulong at = base + j;
      const float g = log_mode ? gy[at] - exp(y[at]) * dot : y[at] * (gy[at] - dot);
      gx[at] = beta == 0.0f ? g : g + beta * gx[at];
    }
  }
}
