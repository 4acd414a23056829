// Tuning: timing candidate launch configurations around the LaunchPlanner's plan on this device,
// each checked against the planned kernel's result, and keeping the fastest in a cache file
// ($CLNN_CACHE_DIR/tuning-v2.json, keyed by device, driver, kernel and shape). Later runs use the
// entry of the nearest shape; without one the plan runs at once, so start-up never waits.
// CLNN_TUNE=off ignores the cache; fast (the default) and full choose how many candidates a
// tuning call tries. A tuning call needs its Context to itself: it swaps the context's launch
// plans and records its launches while it times, which other threads' work would see.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "clnn/context.hpp"
#include "clnn/executor.hpp"
#include "clnn/ops.hpp"

namespace clnn {

enum class TuneEffort { fast, full };

struct TuneResult {
  std::string kernel;          // "gemm", "conv", "elementwise" or "reduction"
  std::string shape;           // gemm: M x N x K, and "over tap rows" for a weight gradient's
  std::size_t candidates = 0;  // configurations timed
  std::size_t rejected = 0;    // configurations whose result differed from the plan's
  double planned_ms = 0;       // the LaunchPlanner's configuration
  double best_ms = 0;          // the winner (the plan when nothing beat it)
  std::string best;            // the winner, as text
  double own_wall_ms = 0;      // the winner, CLBlast and (CPU devices) the host BLAS, timed
  double clblast_wall_ms = 0;  // alike on the host
  double blas_wall_ms = 0;     // 0 where the host BLAS does not serve (GPUs)
  double gemv_wall_ms = 0;     // skinny products: the matrix-vector kernels, which serve them
  // "own", "clblast", "blas" or (skinny products) "gemv": what matmul now runs for this shape
  std::string backend;
  // Every accepted candidate, as text, with its median milliseconds (tools print them).
  std::vector<std::pair<std::string, double>> timings;
};

// Tunes clnn's own matmul kernel for C[M,N] = op(A) op(B) and stores the winner.
TuneResult tune_matmul(const Context& ctx, std::int64_t m, std::int64_t n, std::int64_t k,
                       bool transpose_a = false, bool transpose_b = false);
TuneResult tune_matmul(const Context& ctx, std::int64_t m, std::int64_t n, std::int64_t k,
                       bool transpose_a, bool transpose_b, TuneEffort effort);

// Tunes the convolution conv(x, w) with these options where it runs as an implicit GEMM (GPUs;
// see CLNN_CONV): its forward pass, then its input gradient, one result each (none where both
// take the column route or Winograd's transforms, whose products tune_matmul tunes; the two
// passes take Winograd's alike). Candidates are blocks, k-steps and
// slices of K; the winner is stored per shape ("conv").
std::vector<TuneResult> tune_conv(const Context& ctx, const Shape& x, const Shape& w,
                                  const ConvOptions& options = {},
                                  TuneEffort effort = TuneEffort::fast);

// Runs one forward and backward pass of `executor` (inputs set, training mode) and tunes clnn's
// matmul kernel for every distinct product it launched, and the implicit GEMM for every distinct
// convolution launch. Then it tunes the device-wide elementwise and reduction launch plans, which
// every other kernel family launches through: each candidate is timed over whole forward and
// backward passes, and must reproduce the loss and every parameter's gradient. Returns one
// result per product, then per convolution launch, then "elementwise" and "reduction".
std::vector<TuneResult> tune_executor(Executor& executor, const Value& loss, TuneEffort effort);

}  // namespace clnn
