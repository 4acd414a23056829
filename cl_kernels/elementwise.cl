// Elementwise kernels over whole buffers. Each is a grid-stride loop, so the host may launch any
// number of work-items (the LaunchPlanner's elementwise plan) for any n.

__kernel void fill(__global float* y, const ulong n, const float value) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) y[i] = value;
}

__kernel void copy(__global const float* x, __global float* y, const ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) y[i] = x[i];
}

// y = a * x + y
__kernel void axpy(const float a, __global const float* x, __global float* y, const ulong n) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) y[i] = a * x[i] + y[i];
}
