// Loss kernels. Each loss's scalar gradient is read from device memory (gloss[0]), so backward
// never waits for the host.

// Per row b of logits [rows, classes]: logsumexp(x_b) - x_b[label_b]; NaN for a label that is not
// a class index.
__kernel void cross_entropy_rows(__global const float* logits, __global const float* labels,
                                 __global float* losses, const ulong rows, const ulong classes) {
  for (ulong b = get_global_id(0); b < rows; b += get_global_size(0)) {
    __global const float* x = logits + b * classes;
    const float label = labels[b];
    if (!(label >= 0.0f && label < (float)classes && label == floor(label))) {
      losses[b] = NAN;
      continue;
    }
    float m = -INFINITY;
    for (ulong c = 0; c < classes; ++c) m = fmax(m, x[c]);
    float total = 0.0f;
    for (ulong c = 0; c < classes; ++c) total += exp(x[c] - m);
    losses[b] = m + log(total) - x[(ulong)label];
  }
}

// gx[b, c] = beta * gx + gloss[0] * s * (softmax(x_b)[c] - (c == label_b)), s = 1 / rows.
__kernel void cross_entropy_backward(__global const float* logits, __global const float* labels,
                                     __global const float* gloss, __global float* gx,
                                     const ulong rows, const ulong classes, const float s,
                                     const float beta) {
  const float g0 = gloss[0] * s;
  for (ulong b = get_global_id(0); b < rows; b += get_global_size(0)) {
    __global const float* x = logits + b * classes;
    const float label = labels[b];
    float m = -INFINITY;
    for (ulong c = 0; c < classes; ++c) m = fmax(m, x[c]);
    float total = 0.0f;
    for (ulong c = 0; c < classes; ++c) total += exp(x[c] - m);
    for (ulong c = 0; c < classes; ++c) {
      float g = g0 * (exp(x[c] - m) / total - ((float)c == label ? 1.0f : 0.0f));
      const ulong at = b * classes + c;
      gx[at] = beta == 0.0f ? g : g + beta * gx[at];
    }
  }
}

// gp = beta * gp + gloss[0] * s * (p - t); s = 2/n for the prediction, -2/n for the target.
__kernel void mse_backward(__global const float* p, __global const float* t,
                           __global const float* gloss, __global float* gp, const ulong n,
                           const float s, const float beta) {
  const float g0 = gloss[0] * s;
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float g = g0 * (p[i] - t[i]);
    gp[i] = beta == 0.0f ? g : g + beta * gp[i];
  }
}

// counts[g] = how many of the rows work-group g takes (grid-stride over the rows of logits
// [rows, classes]) have the label as their first largest entry; the host's reduction engine then
// adds the groups' counts. Counts are whole numbers, so the float sums stay exact. The local
// size is a power of two.
__kernel void count_correct(__global const float* logits, __global const float* labels,
                            const ulong rows, const ulong classes, __global float* counts,
                            __local float* partial) {
  const size_t lid = get_local_id(0);
  float correct = 0.0f;
  for (ulong b = get_global_id(0); b < rows; b += get_global_size(0)) {
    ulong best = 0;
    for (ulong c = 1; c < classes; ++c)
      if (logits[b * classes + c] > logits[b * classes + best]) best = c;
    if ((float)best == labels[b]) correct += 1.0f;
  }
  partial[lid] = correct;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = get_local_size(0) / 2; step > 0; step /= 2) {
    if (lid < step) partial[lid] += partial[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (lid == 0) counts[get_group_id(0)] = partial[0];
}
