// The padded copies of ops/conv_shifted.cpp: dst = src [SAMPLES, CHANNELS, I0, I1, I2] rearranged
// into blocks [channel][E0][E1][E2][NB], samples innermost (NB of them, SAMPLES padded to a
// float4), each sample's channel placed at (B0, B1, B2) within its block; zeros elsewhere, and
// past the last channel up to total (a multiple of 4). A work-item writes a float4 of samples,
// so the position is worked out once for four of them; the extents are build options, which
// turn the divisions into multiplications.
__kernel void spread_channels(__global const float* src, __global float* dst, const ulong dst_offset,
                              const int total) {
  dst += dst_offset;
  for (int i = get_global_id(0); i < total / 4; i += get_global_size(0)) {
    const int n = 4 * i % NB;
    int t = 4 * i / NB;
    const int w = t % E2 - B2;
    t /= E2;
    const int h = t % E1 - B1;
    t /= E1;
    const int d = t % E0 - B0, c = t / E0;
    const bool inside = c < CHANNELS && (uint)d < I0 && (uint)h < I1 && (uint)w < I2;
    const long volume = (long)I0 * I1 * I2, sample = CHANNELS * volume;
    __global const float* p = src + c * volume + ((long)d * I1 + h) * I2 + w + n * sample;
    float v[4];
    for (int j = 0; j < 4; ++j) v[j] = inside && n + j < SAMPLES ? p[j * sample] : 0.0f;
    *(__global float4*)(dst + 4 * (long)i) = (float4)(v[0], v[1], v[2], v[3]);
  }
}
