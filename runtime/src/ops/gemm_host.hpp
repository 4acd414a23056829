// Internal: GEMM through the host's BLAS (OpenBLAS) on a CPU device's own buffers. A CPU device
// keeps its buffers in host memory, so mapping one hands the BLAS the device's floats in place:
// no copy, no kernel. On the 2-core machine OpenBLAS ran 1024^3 at 150 GFLOP/s where clnn's best
// PoCL kernel ran 19 (PERFORMANCE.md, "CPUs: GEMM through the host BLAS").
#pragma once

#include "ops/gemm.hpp"

namespace clnn::detail {

// Whether the host BLAS can run a call on this context's device: a CPU device (its buffers are
// host memory), and B stored as a matrix (tap rows are read only by clnn's vec4 kernel).
bool host_blas_serves(const ContextImpl& ctx, const GemmCall& call);

// Whether the host BLAS is worth taking unasked: a CPU device, and OpenBLAS running kernels for
// this CPU rather than its generic fallback ("Prescott", which it picks for a CPU model it does
// not know: on the GPU machine's virtual Xeon it ran SGEMM at 250 GFLOP/s on 16 cores, 1,248
// with OPENBLAS_CORETYPE=SkylakeX). Where it is not, matmul and the convolution routes stay on
// clnn's kernels; CLNN_GEMM=blas still forces it.
bool host_blas_pays(const ContextImpl& ctx);

// Whether a call's products are big enough for the host BLAS: it runs them one after another,
// each waking its threads, after mapping the buffers, which waits for the queue; clnn's gemm_cpu
// runs a whole batch in one launch. kMinHostBlasProduct multiply-adds a product: on the 2-core
// AVX-512 Xeon (clnn-bench matmul --device cpu) gemm_cpu ran square products faster up to 512
// (256: 220 GFLOP/s against 137; 512: 244-271 against 235-265) and OpenBLAS from 640 (1024:
// 302-320 against 160-214). At batch 1 and 32 the zoo's pointwise convolutions (at most 86
// million multiply-adds a sample, squeezenet1_1's classifier) then ran 1.1x to 1.5x as fast on
// gemm_cpu.
inline constexpr double kMinHostBlasProduct = 512.0 * 512.0 * 512.0;
bool host_blas_product_pays(const GemmCall& call);

// Runs the call with cblas_sgemm, one product per batch entry, on the buffers mapped in place;
// waits for the queue's earlier work (the mapping does) and returns with C unmapped. event, when
// given, receives the event of C's unmapping, which completes after the product.
void gemm_host_blas(ContextImpl& ctx, const GemmCall& call, cl_event* event);

}  // namespace clnn::detail
