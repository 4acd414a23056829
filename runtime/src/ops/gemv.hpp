// Internal: skinny products (M or N at most LaunchPlanner::kMaxSkinny) as matrix-vector streams
// through cl_kernels/gemv.cl, which read the big operand once.
#pragma once

#include "ops/gemm.hpp"

namespace clnn::detail {

// Whether a call is skinny: C has at most LaunchPlanner::kMaxSkinny rows or columns. gemm() runs
// such calls through gemv() unless CLNN_GEMM forces a backend (tap rows excepted).
bool gemm_is_skinny(const GemmCall& call);

// A skinny call as gemv.cl takes it: the shorter side of C gives the vectors (rows of op(A) when
// M <= N, else columns of op(B)), the other operand is the big matrix, as strided views:
// big(l, k) = big[big_offset + l * big_l + k * big_k], x(k, s) = small[small_offset + k * small_k
// + s * small_s], C(l, s) = c[offset_c + l * c_l + s * c_s], each with its batch stride.
struct GemvView {
  GemvShape shape;
  cl_mem big = nullptr;
  std::size_t big_offset = 0, big_l = 0, big_k = 0, big_batch = 0;
  cl_mem small = nullptr;
  std::size_t small_offset = 0, small_k = 0, small_s = 0, small_batch = 0;
  std::size_t c_l = 0, c_s = 0;
};
GemvView gemv_view(const GemmCall& call);

// Whether gemm() should run a skinny call through gemv(): every skinny call, except on GPUs where
// more than 4 vectors lie side by side (x(k, s) next to x(k, s + 1)), which gemv_rows reads one
// float at a time for every element of the big matrix, and the vec4 GEMM kernel can take the
// call, and on CPUs more than 4 vectors unless K is 256 or more and the plan takes them all in
// one pass (8) or each lies along K in rows (gemv.cpp). clnn-bench skinny on the H200, a 4096 x
// 4096 matrix by N such columns against the GEMM tiles: 2.58x as fast at N = 4, 0.67x at N = 8,
// 0.34x at N = 16. A Fashion-MNIST model's last layer (batch 32 by 128 features into 10 classes)
// took 0.016 ms there and 0.037 on CLBlast.
bool gemv_pays(const LaunchPlanner& planner, const GemmCall& call);

// The LaunchPlanner's plan for a skinny call as gemv() runs it: split over K only where the
// partial sums can go to scratch (a single product or a batch of them into a contiguous C, none
// of whose operands lie in scratch) and no event is wanted.
GemvPlan gemv_plan(ContextImpl& ctx, const GemmCall& call, bool wants_event = false);

// Runs a skinny call with gemv_plan's plan; throws for one that is not. event, when given,
// receives the one launch's event (then K is not split).
void gemv(ContextImpl& ctx, const GemmCall& call, cl_event* event = nullptr);
// The same with a given plan (tests run other devices' plans): it must fit the device and the
// call (its layout and vectors), and slice K only where gemv_plan may.
void gemv_with_plan(ContextImpl& ctx, const GemmCall& call, const GemvPlan& plan,
                    cl_event* event = nullptr);

}  // namespace clnn::detail
