// Internal: launches that several op families share (scaled copies, broadcasts); reductions
// are ops/reduction.hpp's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cl_api.hpp"
#include "clnn/tensor.hpp"
#include "ops/op.hpp"
#include "ops/reduction.hpp"

namespace clnn::detail {

struct ContextImpl;

cl_mem mem(const Tensor& t);

// A count of floats rounded up to whole float4s: where a part of a buffer that the vec4 kernels
// read as float4s may start, or a row padded for them.
template <typename Int>
constexpr Int float4_aligned(Int floats) {
  return (floats + 3) / 4 * 4;
}

// Up to 8 extents or strides as the kernels take them (unused entries 0).
cl_long8 pack_long8(const std::vector<std::int64_t>& values);
// Row-major strides of a shape, in elements.
std::vector<std::int64_t> row_major_strides(const Shape& shape);

// An output shape and two operands' strides over it with the dimensions both operands walk as
// one run merged (and extents of 1 dropped): [6304, 768] + [768] is two dimensions whatever the
// ranks, a scalar operand one. The kernels' index arithmetic is per dimension.
struct BroadcastView {
  std::vector<std::int64_t> dims, a, b;
};
BroadcastView collapsed(const Shape& out, const std::vector<std::int64_t>& a_strides,
                        const std::vector<std::int64_t>& b_strides);

// The view counted in float4s along its innermost dimension (extent divided by 4, that
// dimension's strides 4 or 0, offsets still in floats), where each operand either runs along it
// with its other strides whole float4s or is broadcast along it; else nullopt.
std::optional<BroadcastView> in_float4s(const BroadcastView& v);

// out = a (op) b elementwise over out's shape, each operand read through its own strides (0 where
// it is broadcast); op is a code of cl_kernels/broadcast.cl. out may be a.
void broadcast_binary(ContextImpl& ctx, const Tensor& a, const std::vector<std::int64_t>& a_strides,
                      const Tensor& b, const std::vector<std::int64_t>& b_strides,
                      const Tensor& out, int op);
// out = epilogue(a (op) b) where b's elements repeat over a's leading dimensions (its size divides
// a's; a same-shaped b repeats once); op is BIN_ADD, BIN_SUB or BIN_MUL. out may be a.
void binary_repeated(ContextImpl& ctx, const Tensor& a, const Tensor& b, const Tensor& out, int op,
                     const Epilogue& epilogue = {});
// Element count as the kernels take it.
cl_ulong count(const Tensor& t);

// A float as an exact OpenCL C literal for a build option (hexadecimal, so no digit is lost).
std::string float_literal(float v);

// y = a * x + beta * y over n elements (beta 0 does not read y).
void axpby(ContextImpl& ctx, float a, const Tensor& x, float beta, const Tensor& y, std::size_t n);

// gx = beta * gx + s * gy * (other ? other[i % other_n] : 1) over gy's elements.
void scaled_product(ContextImpl& ctx, const Tensor& gy, const Tensor* other, std::size_t other_n,
                    const Tensor& gx, float s, float beta);

// dst[o, dst_at + j, k] = beta * dst[...] + src[o, src_at + j, k] for j < v.r: a block of the
// middle axis of [outer, src_r, inner] copied into [outer, dst_r, inner] (concat, its gradient,
// and outputs placed into a concat).
void copy_block(ContextImpl& ctx, const Tensor& src, std::size_t src_r, std::size_t src_at,
                const Tensor& dst, std::size_t dst_r, std::size_t dst_at, MiddleAxis v, float beta);

// Copies y, an op's output [N, C, ...], where `placement` says (ops/op.hpp): for a route that
// wrote its own output first.
void copy_to_placement(ContextImpl& ctx, const Tensor& y, const Placement& placement);

// gx[o, j, k] = beta * gx[o, j, k] + s * gy[o, k]
void broadcast_middle(ContextImpl& ctx, const Tensor& gy, const Tensor& gx, MiddleAxis view,
                      float s, float beta);

}  // namespace clnn::detail
