// Dropout: a mask drawn from (seed, step, index), so that backward regenerates forward's.

// A uniform number in [0, 1) from (seed, step, index): splitmix64's finalizer over their mix.
float dropout_uniform(const ulong seed, const ulong step, const ulong index) {
  ulong z = seed + 0x9e3779b97f4a7c15UL * (step + 1) + index * 0xbf58476d1ce4e5b9UL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
  z ^= z >> 31;
  return (float)(z >> 40) * (1.0f / 16777216.0f);
}

// y = keep ? x / (1 - p) : 0, keeping each element with probability 1 - p. backward uses the same
// mask: gx = beta * gx + (keep ? gy / (1 - p) : 0). Element i draws at index first + i: a shard of
// a batch draws what its rows would in the whole batch.
__kernel void dropout_apply(__global const float* x, __global float* y, const ulong n,
                            const ulong first, const float p, const ulong seed, const ulong step,
                            const float beta) {
  const float scale = 1.0f / (1.0f - p);
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    const float v = dropout_uniform(seed, step, first + i) >= p ? x[i] * scale : 0.0f;
    y[i] = beta == 0.0f ? v : v + beta * y[i];
  }
}
