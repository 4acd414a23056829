// group_combine: a team's maximum or sum, for kernels that give a row a work-group or a team of
// one (ops/reduction.hpp, RowTeams: lanes along the first dimension, teams along the second).
// Sources #include this file; the build inlines it.
// The maximum (is_max) or sum of every work-item's value over the first dimension of the
// work-group (a power of two), `partial` being the team's part of local memory; every work-item
// gets it. Every work-item of the group must call it (it holds the group's barriers).
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

// A team's rows: teams take consecutive rows, grid-stride over the groups. Every team runs every
// step, so that all reach the barriers: one past the last row takes the last row again and does
// not write (team_owns).
inline ulong team_first_row(void) { return get_group_id(0) * get_local_size(1); }
inline ulong team_row_step(void) { return get_num_groups(0) * get_local_size(1); }
inline ulong team_row(const ulong first, const ulong rows) {
  return min(first + get_local_id(1), rows - 1);
}
inline bool team_owns(const ulong first, const ulong rows) {
  return first + get_local_id(1) < rows;
}
