// Softmax and log-softmax along the middle axis of an [outer, r, inner] view, one work-item per
// (o, k). The maximum is subtracted first, so large inputs never overflow.

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
