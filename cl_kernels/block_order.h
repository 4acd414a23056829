// The order in which a GEMM's work-groups take their blocks of C. Blocks run in bands of
// GROUP_ROWS block-rows, column by column within a band, instead of row by row: the blocks
// resident at once then share a few panels of A and of B, which stay in the L2 cache, where whole
// rows of blocks would stream all of B through it per row.

#ifndef GROUP_ROWS
#define GROUP_ROWS 8
#endif

// The first row and column (m0, n0) of this work-group's tile_m x tile_n block.
inline int2 block_origin(int tile_m, int tile_n) {
  const int groups_n = get_num_groups(0), groups_m = get_num_groups(1);
  const int linear = get_group_id(1) * groups_n + get_group_id(0);
  const int band = linear / (GROUP_ROWS * groups_n), in_band = linear % (GROUP_ROWS * groups_n);
  const int band_rows = min(GROUP_ROWS, groups_m - band * GROUP_ROWS);
  return (int2)((band * GROUP_ROWS + in_band % band_rows) * tile_m, (in_band / band_rows) * tile_n);
}
