// Internal: batched GEMM on device buffers, through clnn's tiled kernel or CLBlast.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cl_api.hpp"
#include "clnn/tune.hpp"
#include "context_impl.hpp"
#include "ops/epilogue.hpp"

namespace clnn::detail {

// B (transposed: N x K) as a weight gradient's column matrix read from a zero-padded input that
// lies channel by channel, ldb floats apart (ops/conv_shifted.cpp): row n = c * taps + t, with
// tap t = (a * kh + b) * kw + e, starts at c * ldb + a * step_d + b * step_h + e * step_w. Only
// clnn's vec4 kernel reads B so, in float4s: the steps are multiples of 4 (gemm_is_aligned).
struct TapRows {
  std::size_t taps = 0;  // 0: B's rows lie ldb apart, as usual
  std::size_t kh = 1, kw = 1, step_d = 0, step_h = 0, step_w = 0;
};

// C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b < batch, row-major; op(A) is M x K,
// op(B) is K x N. A stride of 0 shares that operand across the batch. beta == 0 never reads C.
struct GemmCall {
  bool trans_a = false, trans_b = false;
  std::size_t m = 0, n = 0, k = 0, batch = 1;
  float alpha = 1.0f, beta = 0.0f;
  cl_mem a = nullptr;
  std::size_t offset_a = 0, lda = 0, stride_a = 0;
  cl_mem b = nullptr;
  std::size_t offset_b = 0, ldb = 0, stride_b = 0;
  cl_mem c = nullptr;
  std::size_t offset_c = 0, ldc = 0, stride_c = 0;
  TapRows b_rows;  // trans_b calls only
  // C finished as a convolution's output, C = finish(alpha op(A) op(B) + beta C + row_bias[m])
  // (row_bias may be null): gemm_finishing_rows, or gemm() where the product runs on gemm_cpu
  // in one launch (it refuses a row bias elsewhere).
  cl_mem row_bias = nullptr;
  // The activation applied to what is stored, after beta C and either bias: by gemm_cpu and by
  // the sum of a split product (gemm_finishing_columns; gemm() refuses it elsewhere).
  Epilogue finish;
  // C[b][m, n] += col_bias[n] with the sums, before alpha (so alpha must be 1): a Linear layer's
  // bias, added by clnn's fp32 vec4 and CPU kernels (not with a row bias) and by the sum of a
  // split product (gemm_finishing_columns; gemm() refuses it elsewhere). Null: none.
  cl_mem col_bias = nullptr;
};

// CLNN_GEMM=own|clblast|blas forces a backend for a context (ContextImpl::gemm_backend,
// settings.hpp); automatic picks by device and shape: skinny products (ops/gemv.hpp) take the
// matrix-vector kernels, the others by device, size and the tuning cache. What a call runs with:
// the backend (CLNN_GEMM's, else gemv for a skinny call, else the tuned shape's, else by kernel and
// size) and clnn's kernel configuration (the tuned one of the nearest shape when the tuning cache
// has one that fits the device and the call, else the LaunchPlanner's). One lookup in the tuning
// cache per call. Products over tap rows always run on clnn's own vec4 kernel, tuned as products
// over tap rows (their own shapes in the cache).
struct GemmChoice {
  GemmBackend backend = GemmBackend::automatic;
  MatmulPlan plan;
};
GemmChoice choose_gemm(const ContextImpl& ctx, const GemmCall& call);
// The backend and plan gemm() would run a call with, in words (Executor::schedule()).
std::string describe_gemm(ContextImpl& ctx, const GemmCall& call);
GemmBackend choose_gemm_backend(const ContextImpl& ctx, const GemmCall& call);
// Runs a call as gemm() does, its row bias and finish in the product's kernel where the chosen
// one takes them (gemm_cpu in one launch: true); elsewhere the product alone (false), the bias
// and finish left to the caller (no column bias).
bool gemm_finishing_rows(ContextImpl& ctx, GemmCall call);
// Which of a call's column bias and finish the product's kernels applied (either, where the call
// has none): the caller applies the rest, the finish after the bias.
struct GemmFinished {
  bool bias = true, finish = true;
};
// Runs a call as gemm() does, its column bias and finish applied where the chosen kernels apply
// them (the finish only where the bias, if any, is added there too).
GemmFinished gemm_finishing_columns(ContextImpl& ctx, GemmCall call);
// What gemm_finishing_columns would apply in its kernels of a call with its finish and, where
// with_bias, a column bias (Executor::schedule(), which plans without operands).
GemmFinished gemm_finishes_columns(ContextImpl& ctx, const GemmCall& call, bool with_bias);
std::string to_string(GemmBackend backend);

// How many slices of K gemm() splits a single product into: more than one when C has too few
// tiles to occupy the device but K is long (a weight gradient sums over every sample and
// position). The slices' partial products go to ContextImpl::scratch and are then summed, so
// gemm() splits no call with an operand in scratch (operand_in_scratch), whatever this says.
std::size_t split_k_slices(const ContextImpl& ctx, const GemmCall& call);

// Whether A, B or C of a call lies in the calling thread's scratch (the Winograd route's
// products): such a call must not take scratch for partial sums, which would overwrite it (or,
// growing scratch, free it).
bool operand_in_scratch(ContextImpl& ctx, const GemmCall& call);

// Throws where a matrix of the call (A, B or C, by its rows and leading dimension) holds 2^31
// floats or more: clnn's GEMM and matrix-vector kernels index one matrix with int arithmetic.
void check_int_indexable(const GemmCall& call);

// C[offset_c + i] = epilogue(alpha * (sum_s partial[offset_partial + s * n + i] +
// col_bias[i % columns]) + beta * C[offset_c + i]) for i < n: the partial products of a product
// split over K summed into a contiguous C (gemm_sum_slices); col_bias may be null.
void sum_slices(ContextImpl& ctx, cl_mem partial, std::size_t offset_partial, std::size_t slices,
                std::size_t n, float alpha, float beta, cl_mem c, std::size_t offset_c,
                const Epilogue& epilogue = {}, cl_mem col_bias = nullptr, std::size_t columns = 0);

// Whether the vec4 kernel can take a call: N, K, leading dimensions, offsets, batch strides and
// tap rows' steps all multiples of 4, and M too where A is transposed.
bool gemm_is_aligned(const GemmCall& call);
// Whether a configuration can run a call: it fits the device, and a vec4 one gets an aligned
// call; tap rows take nothing but vec4.
bool gemm_plan_serves(const LaunchPlanner& planner, const MatmulPlan& plan, const GemmCall& call);

// The vec4 kernel's smallest block: what runs a call only that kernel takes (an implicit
// convolution, tap rows) on a device whose planner picks another kernel (a CPU, in tests).
MatmulPlan smallest_vec4_plan();

// choose_gemm's configuration.
MatmulPlan gemm_plan(const ContextImpl& ctx, const GemmCall& call);
// The LaunchPlanner's configuration for a call, ignoring the tuning cache.
MatmulPlan gemm_planner_plan(const ContextImpl& ctx, const GemmCall& call);
// The tuning cache's key for a call: M, N, K and the transpositions, then, for tap rows, the
// taps (count, kh, kw, steps) and ldb, which set how much of B the cache serves.
std::vector<std::int64_t> gemm_tuning_shape(const GemmCall& call);
inline constexpr std::size_t kGemmTuningShapeSize = 5, kTapTuningShapeSize = 12;
// A call of a tuning shape's geometry (lda K or M, ldc N; no operands); throws on a malformed one.
GemmCall gemm_call_of_tuning_shape(const std::vector<std::int64_t>& shape);
// The floats of B a call reads, from its offset on.
std::size_t b_operand_floats(const GemmCall& call);
// Times configurations of clnn's kernel (and, for plain products, CLBlast and the host BLAS)
// for a call of a tuning shape on random operands, checks each against the plan's result, and
// stores the fastest in the tuning cache (tune/tuner.cpp).
TuneResult tune_gemm_shape(const Context& ctx, const std::vector<std::int64_t>& shape,
                           TuneEffort effort);
// Runs clnn's kernel with a given configuration (the tuner's candidates).
void gemm_with_plan(ContextImpl& ctx, const GemmCall& call, const MatmulPlan& plan,
                    cl_event* event);

// Runs a call with a given choice as gemm() runs its own: split over K where split_k_slices
// says and no operand lies in scratch, every slice with the choice (the tuner times candidates
// through it).
void gemm_as_chosen(ContextImpl& ctx, const GemmCall& call, const GemmChoice& choice,
                    cl_event* event = nullptr);
// backend, when not automatic, overrides the choice's (blas only where the host BLAS serves).
// event, when given, receives the launch's event (profiling) for the caller to release.
void gemm(ContextImpl& ctx, const GemmCall& call, GemmBackend backend = GemmBackend::automatic,
          cl_event* event = nullptr);

}  // namespace clnn::detail
