// Launches shared by several op families.
#include "ops/common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "cl/kernel_call.hpp"
#include "context_impl.hpp"

namespace clnn::detail {

cl_mem mem(const Tensor& t) {
  return Access::mem(t);
}

cl_ulong count(const Tensor& t) {
  return static_cast<cl_ulong>(t.size());
}

cl_long8 pack_long8(const std::vector<std::int64_t>& values) {
  cl_long8 packed{};
  for (std::size_t i = 0; i < values.size() && i < 8; ++i) packed.s[i] = values[i];
  return packed;
}

std::vector<std::int64_t> row_major_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

BroadcastView collapsed(const Shape& out, const std::vector<std::int64_t>& a_strides,
                        const std::vector<std::int64_t>& b_strides) {
  BroadcastView v;
  // Innermost first: a dimension joins the one inside it where both operands step through it
  // as one run (a stride equal to the inner one's times its extent; 0 and 0 for a broadcast).
  for (std::size_t k = out.size(); k-- > 0;) {
    if (out[k] == 1) continue;
    if (!v.dims.empty() && a_strides[k] == v.a.front() * v.dims.front() &&
        b_strides[k] == v.b.front() * v.dims.front()) {
      v.dims.front() *= out[k];
      continue;
    }
    v.dims.insert(v.dims.begin(), out[k]);
    v.a.insert(v.a.begin(), a_strides[k]);
    v.b.insert(v.b.begin(), b_strides[k]);
  }
  return v;
}

namespace {

// Whether an operand's strides over a view read whole float4s along the innermost dimension (it
// runs along it and its other strides are whole float4s) or one float (broadcast along it).
bool reads_float4s(const std::vector<std::int64_t>& strides) {
  if (strides.back() == 0) return true;
  if (strides.back() != 1) return false;
  return std::all_of(strides.begin(), strides.end() - 1, [](std::int64_t s) { return s % 4 == 0; });
}

}  // namespace

std::optional<BroadcastView> in_float4s(const BroadcastView& v) {
  if (v.dims.empty() || v.dims.back() % 4 != 0 || !reads_float4s(v.a) || !reads_float4s(v.b))
    return std::nullopt;
  BroadcastView f = v;
  f.dims.back() /= 4;
  f.a.back() *= 4;  // a float4 step: 4 floats where the operand runs along it, 0 where broadcast
  f.b.back() *= 4;
  return f;
}

void broadcast_binary(ContextImpl& ctx, const Tensor& a, const std::vector<std::int64_t>& a_strides,
                      const Tensor& b, const std::vector<std::int64_t>& b_strides,
                      const Tensor& out, int op) {
  const BroadcastView v = collapsed(out.shape(), a_strides, b_strides);
  if (std::optional<BroadcastView> f = in_float4s(v)) {
    cl_kernel k = ctx.kernel("broadcast", "broadcast_binary4");
    const auto n = std::size_t(out.size()) / 4;
    set_args(k, mem(a), mem(b), mem(out), cl_ulong(n), cl_int(f->dims.size()), pack_long8(f->dims),
             pack_long8(f->a), pack_long8(f->b), cl_int(op), cl_long(f->a.back()),
             cl_long(f->b.back()));
    ctx.enqueue_elementwise(k, n);
    return;
  }
  cl_kernel k = ctx.kernel("broadcast", "broadcast_binary");
  set_args(k, mem(a), mem(b), mem(out), count(out), cl_int(v.dims.size()), pack_long8(v.dims),
           pack_long8(v.a), pack_long8(v.b), cl_int(op));
  ctx.enqueue_elementwise(k, std::size_t(out.size()));
}

void binary_repeated(ContextImpl& ctx, const Tensor& a, const Tensor& b, const Tensor& out, int op,
                     const Epilogue& epilogue) {
  cl_kernel k = ctx.kernel("elementwise", "binary_forward", epilogue_options(epilogue));
  set_args(k, mem(a), mem(b), mem(out), count(a), count(b), cl_int(op));
  const auto n = std::size_t(a.size());
  // Four at a time where b's size is a multiple of 4 (so then is a's).
  if (b.size() % 4 == 0)
    ctx.enqueue_float4s(k, n);
  else
    ctx.enqueue_elementwise(k, n);
}

void axpby(ContextImpl& ctx, float a, const Tensor& x, float beta, const Tensor& y, std::size_t n) {
  cl_kernel k = ctx.kernel("elementwise", "axpby");
  set_args(k, a, mem(x), beta, mem(y), static_cast<cl_ulong>(n));
  ctx.enqueue_elementwise(k, n);
}

void copy_block(ContextImpl& ctx, const Tensor& src, std::size_t src_r, std::size_t src_at,
                const Tensor& dst, std::size_t dst_r, std::size_t dst_at, MiddleAxis v,
                float beta) {
  cl_kernel k = ctx.kernel("elementwise", "copy_block");
  set_args(k, mem(src), cl_ulong(src_r), cl_ulong(src_at), mem(dst), cl_ulong(dst_r),
           cl_ulong(dst_at), cl_ulong(v.outer), cl_ulong(v.r), cl_ulong(v.inner), beta);
  ctx.enqueue_elementwise(k, v.outer * v.r * v.inner);
}

void copy_to_placement(ContextImpl& ctx, const Tensor& y, const Placement& placement) {
  if (y.size() == 0) return;
  const Shape& s = y.shape();
  const auto channels = std::size_t(s[1]), samples = std::size_t(s[0]);
  const std::size_t inner = std::size_t(y.size()) / (samples * channels);
  copy_block(ctx, y, channels, 0, *placement.into, std::size_t(placement.into->shape()[1]),
             std::size_t(placement.channel), {samples, channels, inner}, 0.0f);
}

void scaled_product(ContextImpl& ctx, const Tensor& gy, const Tensor* other, std::size_t other_n,
                    const Tensor& gx, float s, float beta) {
  cl_kernel k = ctx.kernel("elementwise", "scaled_product");
  // Without `other` the kernel never reads it; gy stands in so the argument is a valid buffer.
  set_args(k, mem(gy), mem(other ? *other : gy), static_cast<cl_int>(other != nullptr), mem(gx),
           count(gy), static_cast<cl_ulong>(other ? other_n : 1), s, beta);
  ctx.enqueue_elementwise(k, static_cast<std::size_t>(gy.size()));
}

void broadcast_middle(ContextImpl& ctx, const Tensor& gy, const Tensor& gx, MiddleAxis view,
                      float s, float beta) {
  cl_kernel k = ctx.kernel("reduce", "broadcast_middle");
  set_args(k, mem(gy), mem(gx), static_cast<cl_ulong>(view.outer), static_cast<cl_ulong>(view.r),
           static_cast<cl_ulong>(view.inner), s, beta);
  ctx.enqueue_elementwise(k, view.outer * view.r * view.inner);
}

std::string float_literal(float v) {
  if (std::isinf(v)) return v > 0 ? "INFINITY" : "(-INFINITY)";
  char text[48];
  std::snprintf(text, sizeof text, "(%af)", double(v));
  return text;
}

}  // namespace clnn::detail
