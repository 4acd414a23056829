// The padded copies of ops/conv_shifted.cpp: dst = src [SAMPLES, CHANNELS, I0, I1, I2] rearranged
// into blocks [channel][E0][E1][E2][NB], samples innermost (NB of them, SAMPLES padded to a
// float4), each sample's channel placed at (B0, B1, B2) within its block; zeros elsewhere, and
// past the last channel up to total (a multiple of 4). The extents are build options, which turn
// the divisions into multiplications.
//
// A transposition, staged in local memory so that both sides move whole lines: a work-group of
// ITEMS work-items reads a tile of TILE_P consecutive positions of TILE_N samples (each sample's
// positions lie together in src) and writes it as float4s of samples (which lie together in
// dst). Either side done element by element had cost every access a memory sector of its own.
#define BLOCK (E0 * E1 * E2)
#define TILE_N (4 * ITEMS / TILE_P)  // samples per tile: four floats per work-item

__kernel __attribute__((reqd_work_group_size(ITEMS, 1, 1)))
void spread_channels(__global const float* src, __global float* dst, const ulong dst_offset,
                     const int total) {
  __local float tile[TILE_N][TILE_P + 1];  // padded: the writes read a column
  const int position_tiles = (BLOCK + TILE_P - 1) / TILE_P,
            sample_tiles = (NB + TILE_N - 1) / TILE_N;
  const int group = get_group_id(0), item = get_local_id(0);
  const int p0 = group % position_tiles * TILE_P;
  const int n0 = group / position_tiles % sample_tiles * TILE_N;
  const int c = group / (position_tiles * sample_tiles);
  dst += dst_offset;

  {  // read: position p0 + item % TILE_P of four samples, ITEMS / TILE_P apart
    const int p = p0 + item % TILE_P;
    const int w = p % E2 - B2, h = p / E2 % E1 - B1, d = p / (E1 * E2) - B0;
    const bool inside =
        p < BLOCK && c < CHANNELS && (uint)d < I0 && (uint)h < I1 && (uint)w < I2;
    const long volume = (long)I0 * I1 * I2, sample = CHANNELS * volume;
    __global const float* x = src + c * volume + ((long)d * I1 + h) * I2 + w;
    for (int j = 0; j < 4; ++j) {
      const int row = item / TILE_P + j * (ITEMS / TILE_P), n = n0 + row;
      tile[row][item % TILE_P] = inside && n < SAMPLES ? x[n * sample] : 0.0f;
    }
  }
  barrier(CLK_LOCAL_MEM_FENCE);

  // write: samples n0 + 4 * quad .. + 3 of position p0 + item / (TILE_N / 4)
  const int quad = item % (TILE_N / 4), column = item / (TILE_N / 4);
  const int p = p0 + column, n = n0 + 4 * quad;
  const long at = ((long)c * BLOCK + p) * NB + n;
  if (p < BLOCK && n < NB && at < total)
    *(__global float4*)(dst + at) =
        (float4)(tile[4 * quad][column], tile[4 * quad + 1][column], tile[4 * quad + 2][column],
                 tile[4 * quad + 3][column]);
}
