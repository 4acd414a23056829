// group_combine: a work-group's maximum or sum, for kernels that give a row a work-group.
// Sources #include this file; the build inlines it.
// The maximum (is_max) or sum of every work-item's value over the work-group (a power of two);
// every work-item gets it.
float group_combine(const float value, const int is_max, __local float* partial) {
  const size_t lid = get_local_id(0);
  partial[lid] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t step = get_local_size(0) / 2; step > 0; step /= 2) {
    if (lid < step)
      partial[lid] =
          is_max ? fmax(partial[lid], partial[lid + step]) : partial[lid] + partial[lid + step];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  const float result = partial[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return result;
}
