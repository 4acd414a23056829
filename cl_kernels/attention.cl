// Fused scaled dot-product attention, softmax(Q K^T * scale + mask) V per head, forward and
// backward, in blocks that never hold the whole score matrix (FlashAttention's online softmax):
// memory grows with the sequence, not with its square.
//
// q [heads, lq, D], k [heads, lk, D], v [heads, lk, DV], out [heads, lq, DV]; rows contiguous,
// except in attention_forward, which reads q, k and v and writes out through strides (a long4
// each: heads (head / inner) and (head % inner) apart, rows, offset), so that a transformer's
// heads are read from its packed projection where they lie.
// A work-group owns a block of rows of one head (queries, or keys in attention_backward) and
// walks the other side in blocks staged in local memory. Its LANES x GROUPS work-items split the
// block: item (lane, group) owns TR consecutive rows from group * TR, and of each product with
// the other side the columns lane + LANES * j (PRODUCT_NT: rows of the other side), or
// lane * NC + j (PRODUCT_NN: columns of V, Q or K).
//
// Scores are kept in base 2: Q is staged times scale * log2(e) (the host's qscale), so that
// exp2 gives the softmax, and lse holds log2 of each row's sum of exp2 of its scores; backward
// reads it to rebuild the probabilities without a second softmax.
//
// Options: D, DV (head sizes), TR, LANES, GROUPS, BLOCK (rows of the other side per step), HAS_MASK
// (an additive mask read through strides), CAUSAL (query i sees keys 0..i), and the pass whose
// kernels a program holds (ATTENTION_FORWARD, or ATTENTION_BACKWARD: the delta kernel, the
// gradients' and the sum of gq's copies): each kernel's local arrays are sized by its pass's tiles.
// ROW_ITEMS: forward's kernel is CPUs', a work-item per TR queries.

#define ITEMS (LANES * GROUPS)
#define ROWS (TR * GROUPS)  // rows a work-group owns
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

#define PAD16(n) (((n) + 15) / 16 * 16)
#define DP PAD16(D)
#define DVP PAD16(DV)
// Local rows are padded by 4 floats so that float4 reads of neighbouring rows fall in different
// banks.
#define QPITCH (DP + 4)
#define VPITCH (DVP + 4)
#define OC (DVP / LANES)  // output columns per item of a product with V's width
#define KC (DP / LANES)   // of a product with Q's or K's width

// rows x width floats of src (rows src_pitch apart, `valid` rows present) into dst with rows
// `pitch` apart, zero outside, times `mul`; four at a time where rows are whole float4s.
inline void stage_rows(__local float* dst, const int pitch, __global const float* src,
                       const long src_pitch, const int width, const int padded_width,
                       const int rows, const int valid, const float mul) {
  if (width % 4 == 0) {
    const int quads = padded_width / 4;
    for (int e = get_local_id(0); e < rows * quads; e += ITEMS) {
      const int r = e / quads, c = e % quads * 4;
      const float4 v = (r < valid && c < width) ? vload4(0, src + r * src_pitch + c) * mul : 0.0f;
      *(__local float4*)(dst + r * pitch + c) = v;
    }
    return;
  }
  for (int e = get_local_id(0); e < rows * padded_width; e += ITEMS) {
    const int r = e / padded_width, c = e % padded_width;
    dst[r * pitch + c] = (r < valid && c < width) ? src[r * src_pitch + c] * mul : 0.0f;
  }
}

// acc[i][j] += the dot product of a's row (row0 + i) and b's row (lane + LANES * j) over `len`
// floats (a multiple of 4; pitches multiples of 4 keep the float4 reads aligned).
#define PRODUCT_NT(acc, NC, a, pa, row0, b, pb, lane, len)                            \
  for (int d_ = 0; d_ < (len); d_ += 4) {                                             \
    float4 av_[TR], bv_[NC];                                                          \
    _Pragma("unroll") for (int i_ = 0; i_ < TR; ++i_) av_[i_] =                       \
        *(__local const float4*)((a) + ((row0) + i_) * (pa) + d_);                    \
    _Pragma("unroll") for (int j_ = 0; j_ < NC; ++j_) bv_[j_] =                       \
        *(__local const float4*)((b) + ((lane) + LANES * j_) * (pb) + d_);            \
    _Pragma("unroll") for (int i_ = 0; i_ < TR; ++i_)                                 \
        _Pragma("unroll") for (int j_ = 0; j_ < NC; ++j_) {                           \
      acc[i_][j_] = fma(av_[i_].x, bv_[j_].x, acc[i_][j_]);                           \
      acc[i_][j_] = fma(av_[i_].y, bv_[j_].y, acc[i_][j_]);                           \
      acc[i_][j_] = fma(av_[i_].z, bv_[j_].z, acc[i_][j_]);                           \
      acc[i_][j_] = fma(av_[i_].w, bv_[j_].w, acc[i_][j_]);                           \
    }                                                                                 \
  }

// dst[0 .. count) = src[0 .. count) from local memory, four floats at a time where count is a
// multiple of 4 (dst holds count + 3: the dead float4 branch stays in bounds when it is not).
#define LOAD_LOCAL_ROW(dst, src, count)                                               \
  if ((count) % 4 == 0) {                                                             \
    _Pragma("unroll") for (int k_ = 0; k_ < (count); k_ += 4) {                       \
      const float4 w_ = *(__local const float4*)((src) + k_);                         \
      (dst)[k_] = w_.x;                                                               \
      (dst)[k_ + 1] = w_.y;                                                           \
      (dst)[k_ + 2] = w_.z;                                                           \
      (dst)[k_ + 3] = w_.w;                                                           \
    }                                                                                 \
  } else {                                                                            \
    _Pragma("unroll") for (int k_ = 0; k_ < (count); ++k_) (dst)[k_] = (src)[k_];     \
  }

// acc[i][j] += sum over t < len of a[row0 + i][t] * b[t][lane * NC + j]: an item's columns of
// b are contiguous, read four at a time where NC is a multiple of 4 (b's pitch is).
#define PRODUCT_NN(acc, NC, a, pa, row0, b, pb, lane, len)                            \
  for (int t_ = 0; t_ < (len); t_ += 4) {                                             \
    float4 av_[TR];                                                                   \
    _Pragma("unroll") for (int i_ = 0; i_ < TR; ++i_) av_[i_] =                       \
        *(__local const float4*)((a) + ((row0) + i_) * (pa) + t_);                    \
    _Pragma("unroll") for (int u_ = 0; u_ < 4; ++u_) {                                \
      __local const float* row_ = (b) + (t_ + u_) * (pb) + (lane) * (NC);             \
      float bv_[(NC) + 3];                                                            \
      LOAD_LOCAL_ROW(bv_, row_, NC)                                                   \
      _Pragma("unroll") for (int i_ = 0; i_ < TR; ++i_) {                             \
        const float a_ = u_ == 0 ? av_[i_].x                                          \
                       : u_ == 1 ? av_[i_].y                                          \
                       : u_ == 2 ? av_[i_].z                                          \
                                 : av_[i_].w;                                         \
        _Pragma("unroll") for (int j_ = 0; j_ < (NC); ++j_) acc[i_][j_] =             \
            fma(a_, bv_[j_], acc[i_][j_]);                                            \
      }                                                                               \
    }                                                                                 \
  }

#define ZERO(acc, NC)                                                         \
  _Pragma("unroll") for (int i_ = 0; i_ < TR; ++i_)                           \
      _Pragma("unroll") for (int j_ = 0; j_ < NC; ++j_) acc[i_][j_] = 0.0f;

// The mask of one head: element (query, key) at query * strides.s2 + key * strides.s3; heads
// count as (head / inner, head % inner) against strides s0 and s1, the first repeating every
// `outer_period` batch entries (the mask's extent there: 1 where it is broadcast, the batch's
// where it is not, the windows of one image where a batch of images' windows share it).
inline __global const float* head_mask(__global const float* mask, const int head,
                                       const int inner, const int outer_period,
                                       const long4 strides) {
  return mask + (head / inner % outer_period) * strides.s0 + (head % inner) * strides.s1;
}

// A score in base 2 as the softmax sees it: -infinity where the key is past the end, masked
// out by causality, or the query is past the end.
inline float visible_score(const float s, const int query, const int key, const int lq,
                           const int lk, __global const float* mask, const long4 strides) {
  if (query >= lq || key >= lk) return -INFINITY;
#if CAUSAL
  if (key > query) return -INFINITY;
#endif
#if HAS_MASK
  return s + LOG2E * mask[query * strides.s2 + key * strides.s3];
#else
  return s;
#endif
}

// exp2(s - lse): a probability rebuilt from the forward's log-sum; 0 for a row that saw no key.
inline float probability(const float s, const float lse) {
  return (s == -INFINITY || lse == -INFINITY) ? 0.0f : exp2(s - lse);
}

// The keys a block of queries from q0 sees: all, or under causality those up to its last query.
inline int keys_seen(const int lk, const int q0) {
#if CAUSAL
  return min(lk, q0 + ROWS);
#else
  return lk;
#endif
}

// Where a head's first row lies in a tensor laid out by `at` (its rows at.s2 apart).
inline long head_start(const long4 at, const int head, const int inner) {
  return (head / inner) * at.s0 + (head % inner) * at.s1 + at.s3;
}

// Stages keys and values k0 .. k0 + BLOCK of a head (the heads' rows k and v) for the
// work-group, between barriers (the first: every item is done with the previous block).
inline void stage_key_block(__local float* ks, __local float* vs, __global const float* k,
                            const long k_pitch, __global const float* v, const long v_pitch,
                            const int lk, const int k0) {
  barrier(CLK_LOCAL_MEM_FENCE);
  const int valid = min(BLOCK, lk - k0);
  stage_rows(ks, QPITCH, k + k0 * k_pitch, k_pitch, D, DP, BLOCK, valid, 1.0f);
  stage_rows(vs, VPITCH, v + k0 * v_pitch, v_pitch, DV, DVP, BLOCK, valid, 1.0f);
  barrier(CLK_LOCAL_MEM_FENCE);
}

#define PPITCH (BLOCK + 4)  // scores staged as [ROWS][BLOCK]
#define LOCAL_FLOAT4S(n) (((n) + 3) / 4)
#define LARGER(a, b) ((a) > (b) ? (a) : (b))

#if defined(ATTENTION_FORWARD) && !ROW_ITEMS
__kernel __attribute__((reqd_work_group_size(ITEMS, 1, 1))) void attention_forward(
    __global const float* q, __global const float* k, __global const float* v,
    __global const float* mask, __global float* out, __global float* lse, const int lq,
    const int lk, const float qscale, const int inner, const long4 mask_strides,
    const int mask_period, const long4 q_at, const long4 k_at, const long4 v_at,
    const long4 out_at) {
  // Keys and then the block's probabilities share one buffer: every item has read the keys
  // before any writes a probability (the barrier after the row maxima lies between).
  __local float4 qs4[LOCAL_FLOAT4S(ROWS * QPITCH)];
  __local float4 kp4[LOCAL_FLOAT4S(LARGER(BLOCK * QPITCH, ROWS * PPITCH))];
  __local float4 vs4[LOCAL_FLOAT4S(BLOCK * VPITCH)];
  __local float4 partial4[ROWS * LANES / 4];
  __local float* partial = (__local float*)partial4;
  __local float* qs = (__local float*)qs4;
  __local float* ks = (__local float*)kp4;
  __local float* ps = (__local float*)kp4;
  __local float* vs = (__local float*)vs4;

  const int lane = get_local_id(0) % LANES, row0 = get_local_id(0) / LANES * TR;
  const int head = get_group_id(1), q0 = get_group_id(0) * ROWS;
  __global const float* m_head = head_mask(mask, head, inner, mask_period, mask_strides);
  stage_rows(qs, QPITCH, q + head_start(q_at, head, inner) + q0 * q_at.s2, q_at.s2, D, DP, ROWS,
             min(ROWS, lq - q0), qscale);
  __global const float* k_head = k + head_start(k_at, head, inner);
  __global const float* v_head = v + head_start(v_at, head, inner);

  float o[TR][OC], l[TR], m[TR];
  ZERO(o, OC);
#pragma unroll
  for (int i = 0; i < TR; ++i) {
    l[i] = 0.0f;
    m[i] = -INFINITY;
  }
  for (int k0 = 0; k0 < keys_seen(lk, q0); k0 += BLOCK) {
    stage_key_block(ks, vs, k_head, k_at.s2, v_head, v_at.s2, lk, k0);

    float s[TR][BLOCK / LANES];
    ZERO(s, BLOCK / LANES);
    PRODUCT_NT(s, BLOCK / LANES, qs, QPITCH, row0, ks, QPITCH, lane, DP);
#pragma unroll
    for (int i = 0; i < TR; ++i) {
      float most = -INFINITY;
#pragma unroll
      for (int j = 0; j < BLOCK / LANES; ++j) {
        s[i][j] = visible_score(s[i][j], q0 + row0 + i, k0 + lane + LANES * j, lq, lk, m_head,
                                mask_strides);
        most = fmax(most, s[i][j]);
      }
      partial[(row0 + i) * LANES + lane] = most;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
    for (int i = 0; i < TR; ++i) {
      float most = m[i];
#pragma unroll
      for (int t = 0; t < LANES / 4; ++t) {
        const float4 w = partial4[(row0 + i) * (LANES / 4) + t];
        most = fmax(most, fmax(fmax(w.x, w.y), fmax(w.z, w.w)));
      }
      // A row that has seen no key yet keeps everything at 0 (exp2(-inf - 0)).
      const float base = most == -INFINITY ? 0.0f : most;
      const float rescale = exp2(m[i] - base);
      m[i] = most;
      l[i] *= rescale;
#pragma unroll
      for (int j = 0; j < OC; ++j) o[i][j] *= rescale;
#pragma unroll
      for (int j = 0; j < BLOCK / LANES; ++j) {
        const float p = exp2(s[i][j] - base);
        l[i] += p;
        ps[(row0 + i) * PPITCH + lane + LANES * j] = p;
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    PRODUCT_NN(o, OC, ps, PPITCH, row0, vs, VPITCH, lane, BLOCK);
  }

  // Each item summed its own columns of l: add the lanes up.
  barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
  for (int i = 0; i < TR; ++i) partial[(row0 + i) * LANES + lane] = l[i];
  barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
  for (int i = 0; i < TR; ++i) {
    const int query = q0 + row0 + i;
    if (query >= lq) break;
    float sum = 0.0f;
    for (int t = 0; t < LANES; ++t) sum += partial[(row0 + i) * LANES + t];
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    __global float* out_row = out + head_start(out_at, head, inner) + query * out_at.s2;
#pragma unroll
    for (int j = 0; j < OC; ++j)
      if (lane * OC + j < DV) out_row[lane * OC + j] = o[i][j] * inv;
    if (lane == 0) lse[(long)head * lq + query] = sum > 0.0f ? m[i] + log2(sum) : -INFINITY;
  }
}
#endif

// CPUs (ROW_ITEMS): a work-item takes TR queries of a head alone and walks the keys BLOCK at a
// time, its queries and outputs in vector registers along the head size: no local memory and no
// barriers, which a CPU runs as loops over a work-group's items (on PoCL the tiled kernel above
// ran swin_t's heads of 49 tokens at 2% of the peak). Head sizes are multiples of 4; BLOCK is 8.
#if defined(ATTENTION_FORWARD) && ROW_ITEMS
#if D % 8 == 0 && DV % 8 == 0
#define RW 8
typedef float8 rvec;
#define RLOAD(p) vload8(0, p)
#define RSTORE(v, p) vstore8(v, 0, p)
inline float rsum(const float8 v) {
  const float4 t = v.lo + v.hi;
  return (t.x + t.y) + (t.z + t.w);
}
#else
#define RW 4
typedef float4 rvec;
#define RLOAD(p) vload4(0, p)
#define RSTORE(v, p) vstore4(v, 0, p)
inline float rsum(const float4 t) { return (t.x + t.y) + (t.z + t.w); }
#endif

__kernel void attention_forward_rows(
    __global const float* q, __global const float* k, __global const float* v,
    __global const float* mask, __global float* out, __global float* lse, const int lq,
    const int lk, const float qscale, const int inner, const long4 mask_strides,
    const int mask_period, const long4 q_at, const long4 k_at, const long4 v_at,
    const long4 out_at) {
  const int head = get_global_id(1), q0 = get_global_id(0) * TR;
  if (q0 >= lq) return;
  __global const float* m_head = head_mask(mask, head, inner, mask_period, mask_strides);
  __global const float* q_head = q + head_start(q_at, head, inner);
  __global const float* k_head = k + head_start(k_at, head, inner);
  __global const float* v_head = v + head_start(v_at, head, inner);
  rvec qr[TR][D / RW], o[TR][DV / RW];
  float l[TR], m[TR];
#pragma unroll
  for (int i = 0; i < TR; ++i) {
    const int row = min(q0 + i, lq - 1);  // past the end: the last query again, not written
#pragma unroll
    for (int c = 0; c < D / RW; ++c) qr[i][c] = RLOAD(q_head + row * q_at.s2 + c * RW) * qscale;
#pragma unroll
    for (int c = 0; c < DV / RW; ++c) o[i][c] = 0.0f;
    l[i] = 0.0f;
    m[i] = -INFINITY;
  }
#if CAUSAL
  const int seen = min(lk, q0 + TR);
#else
  const int seen = lk;
#endif
  const int8 lane_key = (int8)(0, 1, 2, 3, 4, 5, 6, 7);
  for (int k0 = 0; k0 < seen; k0 += BLOCK) {
    float s[TR][BLOCK];  // the block's scores, then its probabilities
#pragma unroll
    for (int j = 0; j < BLOCK; ++j) {
      __global const float* key = k_head + min(k0 + j, lk - 1) * k_at.s2;
      rvec kr[D / RW];
#pragma unroll
      for (int c = 0; c < D / RW; ++c) kr[c] = RLOAD(key + c * RW);
#pragma unroll
      for (int i = 0; i < TR; ++i) {
        rvec dot = qr[i][0] * kr[0];
#pragma unroll
        for (int c = 1; c < D / RW; ++c) dot = fma(qr[i][c], kr[c], dot);
        s[i][j] = rsum(dot);
      }
    }
    // A row's softmax step over the block as one vector of its 8 keys (as visible_score).
    const int8 keys = k0 + lane_key;
#pragma unroll
    for (int i = 0; i < TR; ++i) {
      float8 sv = vload8(0, s[i]);
#if HAS_MASK
      float added[BLOCK];
      const long row_at = min(q0 + i, lq - 1) * mask_strides.s2;
#pragma unroll
      for (int j = 0; j < BLOCK; ++j) added[j] = m_head[row_at + min(k0 + j, lk - 1) * mask_strides.s3];
      sv += LOG2E * vload8(0, added);
#endif
#if CAUSAL
      sv = select(sv, (float8)(-INFINITY), keys >= lk || keys > q0 + i);
#else
      sv = select(sv, (float8)(-INFINITY), keys >= lk);
#endif
      const float4 halves = fmax(sv.lo, sv.hi);
      const float most = fmax(m[i], fmax(fmax(halves.x, halves.y), fmax(halves.z, halves.w)));
      // A row that has seen no key yet keeps everything at 0 (exp2(-inf - 0)).
      const float base = most == -INFINITY ? 0.0f : most;
      const float rescale = exp2(m[i] - base);
      m[i] = most;
#pragma unroll
      for (int c = 0; c < DV / RW; ++c) o[i][c] *= rescale;
      const float8 p = exp2(sv - base);
      const float4 sums = p.lo + p.hi;
      l[i] = l[i] * rescale + (sums.x + sums.y) + (sums.z + sums.w);
      vstore8(p, 0, s[i]);
    }
#pragma unroll
    for (int j = 0; j < BLOCK; ++j) {
      __global const float* value = v_head + min(k0 + j, lk - 1) * v_at.s2;
#pragma unroll
      for (int c = 0; c < DV / RW; ++c) {
        const rvec vr = RLOAD(value + c * RW);
#pragma unroll
        for (int i = 0; i < TR; ++i) o[i][c] = fma((rvec)(s[i][j]), vr, o[i][c]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < TR; ++i) {
    const int query = q0 + i;
    if (query >= lq) break;
    const float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
    __global float* out_row = out + head_start(out_at, head, inner) + query * out_at.s2;
#pragma unroll
    for (int c = 0; c < DV / RW; ++c) RSTORE(o[i][c] * inv, out_row + c * RW);
    lse[(long)head * lq + query] = l[i] > 0.0f ? m[i] + log2(l[i]) : -INFINITY;
  }
}
#endif

#ifdef ATTENTION_BACKWARD
// delta[r] = sum over c of out[r][c] * gout[r][c]: the term the softmax's gradient subtracts.
// LANES items per row.
__kernel __attribute__((reqd_work_group_size(ITEMS, 1, 1))) void attention_backward_delta(
    __global const float* out, __global const float* gout, __global float* delta,
    const long rows) {
  __local float partial[ITEMS];
  const int lane = get_local_id(0) % LANES;
  const long row = get_global_id(0) / LANES;
  float sum = 0.0f;
  if (row < rows)
    for (int c = lane; c < DV; c += LANES) sum += out[row * DV + c] * gout[row * DV + c];
  partial[get_local_id(0)] = sum;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (lane == 0 && row < rows) {
    float total = 0.0f;
    for (int t = 0; t < LANES; ++t) total += partial[get_local_id(0) + t];
    delta[row] = total;
  }
}

// The probabilities of the staged block, rebuilt, and the scores' gradient (p * (dp - delta)),
// for item rows (keys r_ = row0 + i) against columns (queries c_ = lane + LANES * j).
#define SCORE_GRADIENTS(s, dp, p_out, ds_out, query_of, key_of, lse_of, delta_of)      \
  _Pragma("unroll") for (int i = 0; i < TR; ++i)                                      \
    _Pragma("unroll") for (int j = 0; j < BLOCK / LANES; ++j) {                       \
      const int r_ = row0 + i, c_ = lane + LANES * j;                                 \
      const float p_ = probability(                                                   \
          visible_score(s[i][j], query_of, key_of, lq, lk, m_head, mask_strides), lse_of); \
      const float ds_ = p_ * (dp[i][j] - (delta_of));                                 \
      p_out;                                                                          \
      ds_out;                                                                         \
    }

#define TQ (BLOCK / GROUPS)  // queries of a block per item row group in the product for gq

// acc[i][j] += sum over r < len of a[r][col0 + i] * b[r][lane * NC + j]: a read down its
// columns (an item's TQ columns contiguous), b's columns as in PRODUCT_NN.
#define PRODUCT_TN(acc, NC, a, pa, col0, b, pb, lane, len)                            \
  for (int r_ = 0; r_ < (len); ++r_) {                                                \
    float av_[TQ + 3], bv_[(NC) + 3]; /* + 3: see LOAD_LOCAL_ROW */                   \
    __local const float* arow_ = (a) + r_ * (pa) + (col0);                            \
    __local const float* brow_ = (b) + r_ * (pb) + (lane) * (NC);                     \
    LOAD_LOCAL_ROW(av_, arow_, TQ)                                                    \
    LOAD_LOCAL_ROW(bv_, brow_, NC)                                                    \
    _Pragma("unroll") for (int i_ = 0; i_ < TQ; ++i_)                                 \
        _Pragma("unroll") for (int j_ = 0; j_ < (NC); ++j_) acc[i_][j_] =             \
            fma(av_[i_], bv_[j_], acc[i_][j_]);                                       \
  }

#define WANT_K 1
#define WANT_V 2
#define WANT_Q 4

// All three gradients in one pass over each head's (key, query) pairs, so the scores and dP are
// built once: a work-group owns key blocks get_group_id(0), + get_num_groups(0), ... (its chunk;
// interleaved so that causal chunks do alike work) of ROWS keys, and for each walks the queries in
// steps of BLOCK: gv = P^T gout and gk = scale * dS^T q in registers, written once the queries are
// done, and gq += scale * dS k, added into rows of gq that only this work-group touches, in a
// fixed order: without atomics, and deterministic. With several chunks each has its own copy of
// gq (chunk_floats apart; attention_backward_dq_sum adds them up), else gq itself, beta_q its
// factor on the old value. `wants` says which gradients to write (WANT_K | WANT_V | WANT_Q).
__kernel __attribute__((reqd_work_group_size(ITEMS, 1, 1))) void attention_backward(
    __global const float* q, __global const float* k, __global const float* v,
    __global const float* mask, __global const float* gout, __global const float* lse,
    __global const float* delta, __global float* gk, __global float* gv, __global float* gq,
    const int lq, const int lk, const float qscale, const float scale, const int inner,
    const long4 mask_strides, const int mask_period, const float beta_k, const float beta_v,
    const float beta_q, const int wants, const long chunk_floats) {
  __local float4 ks4[LOCAL_FLOAT4S(ROWS * QPITCH)];
  __local float4 vs4[LOCAL_FLOAT4S(ROWS * VPITCH)];
  __local float4 qs4[LOCAL_FLOAT4S(BLOCK * QPITCH)];
  __local float4 gs4[LOCAL_FLOAT4S(BLOCK * VPITCH)];
  __local float4 pt4[LOCAL_FLOAT4S(ROWS * PPITCH)];
  __local float4 dst4[LOCAL_FLOAT4S(ROWS * PPITCH)];
  __local float lse_s[BLOCK], delta_s[BLOCK];
  __local float *ks = (__local float*)ks4, *vs = (__local float*)vs4;
  __local float *qs = (__local float*)qs4, *gs = (__local float*)gs4;
  __local float *pt = (__local float*)pt4, *dst = (__local float*)dst4;

  const int lane = get_local_id(0) % LANES, row0 = get_local_id(0) / LANES * TR;
  const int qrow0 = get_local_id(0) / LANES * TQ;  // an item's queries in the product for gq
  const int head = get_group_id(1);
  __global const float* m_head = head_mask(mask, head, inner, mask_period, mask_strides);
  __global float* gq_head = gq + get_group_id(0) * chunk_floats + (long)head * lq * D;
  const int key_blocks = (lk + ROWS - 1) / ROWS;

  for (int kb = get_group_id(0); kb < key_blocks; kb += get_num_groups(0)) {
    const int k0 = kb * ROWS;
    const bool first_block = kb == get_group_id(0);  // writes gq's rows, later blocks add
    barrier(CLK_LOCAL_MEM_FENCE);  // every item is done with the previous block's keys
    const int valid_keys = min(ROWS, lk - k0);
    stage_rows(ks, QPITCH, k + ((long)head * lk + k0) * D, D, D, DP, ROWS, valid_keys, 1.0f);
    stage_rows(vs, VPITCH, v + ((long)head * lk + k0) * DV, DV, DV, DVP, ROWS, valid_keys, 1.0f);

    float dk[TR][KC], dv[TR][OC];
    ZERO(dk, KC);
    ZERO(dv, OC);
#if CAUSAL
    const int first = k0 / BLOCK * BLOCK;  // queries before k0 see none of these keys
    // ... so the chunk's first block writes their rows of gq here.
    if ((wants & WANT_Q) && first_block)
      for (int e = get_local_id(0); e < min(first, lq) * D; e += ITEMS)
        gq_head[e] = beta_q == 0.0f ? 0.0f : beta_q * gq_head[e];
#else
    const int first = 0;
#endif
    for (int q0 = first; q0 < lq; q0 += BLOCK) {
      barrier(CLK_LOCAL_MEM_FENCE);
      const int valid = min(BLOCK, lq - q0);
      stage_rows(qs, QPITCH, q + ((long)head * lq + q0) * D, D, D, DP, BLOCK, valid, qscale);
      stage_rows(gs, VPITCH, gout + ((long)head * lq + q0) * DV, DV, DV, DVP, BLOCK, valid, 1.0f);
      for (int t = get_local_id(0); t < BLOCK; t += ITEMS) {
        lse_s[t] = t < valid ? lse[(long)head * lq + q0 + t] : -INFINITY;
        delta_s[t] = t < valid ? delta[(long)head * lq + q0 + t] : 0.0f;
      }
      barrier(CLK_LOCAL_MEM_FENCE);

      float s[TR][BLOCK / LANES], dp[TR][BLOCK / LANES];
      ZERO(s, BLOCK / LANES);
      ZERO(dp, BLOCK / LANES);
      PRODUCT_NT(s, BLOCK / LANES, ks, QPITCH, row0, qs, QPITCH, lane, DP);
      PRODUCT_NT(dp, BLOCK / LANES, vs, VPITCH, row0, gs, VPITCH, lane, DVP);
      SCORE_GRADIENTS(s, dp, pt[r_ * PPITCH + c_] = p_, dst[r_ * PPITCH + c_] = ds_, q0 + c_,
                      k0 + r_, lse_s[c_], delta_s[c_]);
      barrier(CLK_LOCAL_MEM_FENCE);
      if (wants & WANT_V) PRODUCT_NN(dv, OC, pt, PPITCH, row0, gs, VPITCH, lane, BLOCK);
      if (wants & WANT_K) PRODUCT_NN(dk, KC, dst, PPITCH, row0, qs, QPITCH, lane, BLOCK);
      float dq[TQ][KC];
#pragma unroll
      for (int i = 0; i < TQ; ++i)
#pragma unroll
        for (int j = 0; j < KC; ++j) dq[i][j] = 0.0f;
      if (wants & WANT_Q) PRODUCT_TN(dq, KC, dst, PPITCH, qrow0, ks, QPITCH, lane, ROWS);
      // Through qs (every item is done with it) to gq, whose rows items then write side by side.
      // (Stored straight from the registers, PoCL 3.1 wrote rows past the block's queries.)
      barrier(CLK_LOCAL_MEM_FENCE);
#pragma unroll
      for (int i = 0; i < TQ; ++i)
#pragma unroll
        for (int j = 0; j < KC; ++j) qs[(qrow0 + i) * QPITCH + lane * KC + j] = dq[i][j];
      barrier(CLK_LOCAL_MEM_FENCE);
      if (wants & WANT_Q) {
        // ks holds k unscaled: dst is the scores' gradient, so scale alone remains.
        const float keep = first_block ? beta_q : 1.0f;
        __global float* gq_block = gq_head + (long)q0 * D;
        for (int e = get_local_id(0); e < valid * D; e += ITEMS) {
          const float add = scale * qs[e / D * QPITCH + e % D];
          gq_block[e] = add + (keep == 0.0f ? 0.0f : keep * gq_block[e]);
        }
      }
    }

    // qs held q * scale * log2(e): ln 2 takes the log2(e) back out.
#pragma unroll
    for (int i = 0; i < TR; ++i) {
      const int key = k0 + row0 + i;
      if (key >= lk) break;
      __global float* gk_row = gk + ((long)head * lk + key) * D;
      __global float* gv_row = gv + ((long)head * lk + key) * DV;
#pragma unroll
      for (int j = 0; j < KC; ++j) {
        const int c = lane * KC + j;
        if ((wants & WANT_K) && c < D)
          gk_row[c] = LN2 * dk[i][j] + (beta_k == 0.0f ? 0.0f : beta_k * gk_row[c]);
      }
#pragma unroll
      for (int j = 0; j < OC; ++j) {
        const int c = lane * OC + j;
        if ((wants & WANT_V) && c < DV)
          gv_row[c] = dv[i][j] + (beta_v == 0.0f ? 0.0f : beta_v * gv_row[c]);
      }
    }
  }
}

// gq = beta * gq + the sum of `chunks` copies of it (`count` floats apart), in their order.
__kernel void attention_backward_dq_sum(__global const float* partial, __global float* gq,
                                        const long count, const int chunks, const float beta) {
  const long e = get_global_id(0);
  if (e >= count) return;
  float sum = 0.0f;
  for (int c = 0; c < chunks; ++c) sum += partial[c * count + e];
  gq[e] = sum + (beta == 0.0f ? 0.0f : beta * gq[e]);
}
#endif
