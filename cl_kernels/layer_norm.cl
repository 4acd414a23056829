// layer_norm over contiguous rows of `cols` elements, a team of work-items per row (RowTeams,
// grid-stride over the rows): forward keeps each row's mean and 1 / standard deviation for backward, which gives the
// input's gradient and each row's normalized values (for gamma's gradient, summed over rows by
// the reduction engine).

#include "group_combine.h"

// y = (x - mean) * inv_std * gamma + beta (beta may be absent); stats[2 row] = mean,
// stats[2 row + 1] = inv_std. The variance is taken about the mean (two passes over the row,
// which the cache holds), never as E[x^2] - E[x]^2.
__kernel void layer_norm_forward(__global const float* x, __global const float* gamma,
                                 __global const float* beta, __global float* y,
                                 __global float* stats, const ulong rows, const ulong cols,
                                 const float eps, const int has_beta, __local float* partial) {
  const size_t lid = get_local_id(0), lsize = get_local_size(0);
  partial += get_local_id(1) * lsize;
  for (ulong first = team_first_row(); first < rows; first += team_row_step()) {
    const ulong row = team_row(first, rows);
    const bool owns = team_owns(first, rows);
    __global const float* xr = x + row * cols;
    float sum = 0.0f;
    for (ulong c = lid; c < cols; c += lsize) sum += xr[c];
    const float mean = group_combine(sum, 0, partial) / (float)cols;
    float squares = 0.0f;
    for (ulong c = lid; c < cols; c += lsize) {
      const float d = xr[c] - mean;
      squares += d * d;
    }
    const float inv_std = rsqrt(group_combine(squares, 0, partial) / (float)cols + eps);
    if (!owns) continue;
    __global float* yr = y + row * cols;
    for (ulong c = lid; c < cols; c += lsize)
      yr[c] = (xr[c] - mean) * inv_std * gamma[c] + (has_beta ? beta[c] : 0.0f);
    if (lid == 0) {
      stats[2 * row] = mean;
      stats[2 * row + 1] = inv_std;
    }
  }
}

// With xhat = (x - mean) * inv_std and h = gy * gamma:
// gx = beta * gx + inv_std * (h - mean(h) - xhat * mean(h * xhat)) where want_gx, and xhat
// where want_xhat (gamma's gradient sums gy * xhat).
__kernel void layer_norm_backward(__global const float* x, __global const float* gy,
                                  __global const float* gamma, __global const float* stats,
                                  __global float* gx, __global float* xhat, const ulong rows,
                                  const ulong cols, const float beta, const int want_gx,
                                  const int want_xhat, __local float* partial) {
  const size_t lid = get_local_id(0), lsize = get_local_size(0);
  partial += get_local_id(1) * lsize;
  for (ulong first = team_first_row(); first < rows; first += team_row_step()) {
    const ulong row = team_row(first, rows);
    const float mean = stats[2 * row], inv_std = stats[2 * row + 1];
    __global const float* xr = x + row * cols;
    __global const float* gr = gy + row * cols;
    float h_sum = 0.0f, hx_sum = 0.0f;
    for (ulong c = lid; c < cols; c += lsize) {
      const float h = gr[c] * gamma[c], xh = (xr[c] - mean) * inv_std;
      h_sum += h;
      hx_sum += h * xh;
    }
    const float h_mean = group_combine(h_sum, 0, partial) / (float)cols;
    const float hx_mean = group_combine(hx_sum, 0, partial) / (float)cols;
    if (!team_owns(first, rows)) continue;
    for (ulong c = lid; c < cols; c += lsize) {
      const float xh = (xr[c] - mean) * inv_std;
      const float g = inv_std * (gr[c] * gamma[c] - h_mean - xh * hx_mean);
      const ulong at = row * cols + c;
      if (want_gx) gx[at] = beta == 0.0f ? g : g + beta * gx[at];
      if (want_xhat) xhat[at] = xh;
    }
  }
}
