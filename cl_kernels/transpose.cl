// Permutations of up to 8 dimensions (transpose and its gradient). The host merges the output
// dimensions the input also walks as one run, so a permutation arrives as a few dimensions and
// their input strides.

#include "strided_index.h"


// y[i] = beta * y[i] + x read through in_strides: where the output's innermost dimension is also
// the input's (or short), neighbouring work-items read neighbouring memory anyway.
__kernel void permute(__global const float* x, __global float* y, const ulong n, const int rank,
                      const long8 out_dims, const long8 in_strides, const float beta) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    const ulong at = strided_offset(i, n, rank, out_dims, in_strides);
    y[i] = beta == 0.0f ? x[at] : x[at] + beta * y[i];
  }
}

// The same four floats at a time, where the innermost dimension is contiguous in both and the
// input's other strides are whole float4s (ops/common.hpp in_float4s: n and the innermost extent
// count float4s, offsets floats): a quarter of the index arithmetic per byte (vit's head
// transposes, [B, S, H, 64] to [B, H, S, 64]).
__kernel void permute4(__global const float* x, __global float4* y, const ulong n, const int rank,
                       const long8 out_dims, const long8 in_strides, const float beta) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    // Offsets count floats: 32-bit arithmetic only where 4 n fits.
    const float4 v =
        *(__global const float4*)(x + strided_offset(i, 4 * n, rank, out_dims, in_strides));
    y[i] = beta == 0.0f ? v : v + beta * y[i];
  }
}

// A transpose of the output's innermost dimension (columns: `cols` of them, input stride
// col_stride) with the dimension the input runs along (`lines` of them, output stride
// line_stride), batched over the other dimensions (batch_dims, with their input and output
// strides). Read element by element, one of the two sides strides through memory (a quarter of
// the bandwidth or less on the H200); a work-group instead stages a TILE x TILE block in local
// memory, reading it along the input's lines and writing it along the output's rows, ROWS
// work-items per column. Work-groups are numbered batch-major over the blocks.
// Built only with its block (TILE, ROWS: LaunchPlanner::transpose), so that the other kernels'
// program asks nothing of the device's work-group limits.
#ifdef TILE
__kernel __attribute__((reqd_work_group_size(TILE, ROWS, 1))) void permute_tiled(
    __global const float* x, __global float* y, const ulong lines, const ulong cols,
    const ulong col_stride, const ulong line_stride, const ulong n, const int batch_rank,
    const long8 batch_dims, const long8 batch_in_strides, const long8 batch_out_strides,
    const float beta) {
  __local float tile[TILE][TILE + 1];  // +1: a column's elements fall in different banks
  const ulong line_blocks = (lines + TILE - 1) / TILE, col_blocks = (cols + TILE - 1) / TILE;
  const ulong group = get_group_id(0), batch = group / (line_blocks * col_blocks);
  const ulong block = group - batch * line_blocks * col_blocks;
  const ulong line0 = (block % line_blocks) * TILE, col0 = (block / line_blocks) * TILE;
  ulong x_at, y_at;
  strided_offsets(batch, n, batch_rank, batch_dims, batch_in_strides, batch_out_strides, &x_at,
                  &y_at);
  const uint tx = get_local_id(0), ty = get_local_id(1);
  // In: tile[c][l] = x[line0 + l, col0 + c], l along the input's contiguous lines.
  for (uint c = ty; c < TILE; c += ROWS) {
    const ulong line = line0 + tx, col = col0 + c;
    if (line < lines && col < cols) tile[c][tx] = x[x_at + line + col * col_stride];
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  // Out: y[line0 + l, col0 + c] with c along the output's rows.
  for (uint l = ty; l < TILE; l += ROWS) {
    const ulong line = line0 + l, col = col0 + tx;
    if (line < lines && col < cols) {
      const ulong at = y_at + line * line_stride + col;
      const float v = tile[tx][l];
      y[at] = beta == 0.0f ? v : v + beta * y[at];
    }
  }
}

// The same blocks for CPUs, a work-item each (grid-stride over `blocks`), straight from global
// memory: a block's TILE lines of TILE floats stay in the core's cache while the item writes the
// output's rows. Element by element, each with its own index arithmetic, convnext_tiny's
// transposes ran at 2.7 GB/s on PoCL (18.7% of a batch-1 step).
__kernel void permute_blocks(__global const float* x, __global float* y, const ulong lines,
                             const ulong cols, const ulong col_stride, const ulong line_stride,
                             const ulong n, const int batch_rank, const long8 batch_dims,
                             const long8 batch_in_strides, const long8 batch_out_strides,
                             const float beta, const ulong blocks) {
  const ulong line_blocks = (lines + TILE - 1) / TILE, col_blocks = (cols + TILE - 1) / TILE;
  for (ulong b = get_global_id(0); b < blocks; b += get_global_size(0)) {
    const ulong batch = b / (line_blocks * col_blocks);
    const ulong block = b - batch * line_blocks * col_blocks;
    const ulong line0 = (block % line_blocks) * TILE, col0 = (block / line_blocks) * TILE;
    ulong x_at, y_at;
    strided_offsets(batch, n, batch_rank, batch_dims, batch_in_strides, batch_out_strides, &x_at,
                    &y_at);
    const ulong line_end = min(lines, line0 + TILE), col_end = min(cols, col0 + TILE);
    for (ulong line = line0; line < line_end; ++line) {
      __global const float* from = x + x_at + line;
      __global float* to = y + y_at + line * line_stride;
      for (ulong col = col0; col < col_end; ++col)
        to[col] = beta == 0.0f ? from[col * col_stride] : from[col * col_stride] + beta * to[col];
    }
  }
}
#endif
