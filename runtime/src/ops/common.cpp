// Launches shared by several op families.
#include "ops/common.hpp"

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

void broadcast_binary(ContextImpl& ctx, const Tensor& a, const std::vector<std::int64_t>& a_strides,
                      const Tensor& b, const std::vector<std::int64_t>& b_strides,
                      const Tensor& out, int op) {
  cl_kernel k = ctx.kernel("broadcast", "broadcast_binary");
  set_args(k, mem(a), mem(b), mem(out), count(out), cl_int(out.shape().size()),
           pack_long8(out.shape()), pack_long8(a_strides), pack_long8(b_strides), cl_int(op));
  ctx.enqueue_elementwise(k, std::size_t(out.size()));
}

void sum_to_shape(ContextImpl& ctx, const Tensor& src, const Shape& out_dims, const Tensor& dst,
                  const Shape& dst_dims, float beta) {
  cl_kernel k = ctx.kernel("broadcast", "sum_to_shape");
  set_args(k, mem(src), mem(dst), count(dst), cl_int(out_dims.size()), pack_long8(out_dims),
           pack_long8(dst_dims), beta);
  ctx.enqueue_elementwise(k, std::size_t(dst.size()));
}

void axpby(ContextImpl& ctx, float a, const Tensor& x, float beta, const Tensor& y, std::size_t n) {
  cl_kernel k = ctx.kernel("elementwise", "axpby");
  set_args(k, a, mem(x), beta, mem(y), static_cast<cl_ulong>(n));
  ctx.enqueue_elementwise(k, n);
}

void scaled_product(ContextImpl& ctx, const Tensor& gy, const Tensor* other, std::size_t other_n,
                    const Tensor& gx, float s, float beta) {
  cl_kernel k = ctx.kernel("elementwise", "scaled_product");
  // Without `other` the kernel never reads it; gy stands in so the argument is a valid buffer.
  set_args(k, mem(gy), mem(other ? *other : gy), static_cast<cl_int>(other != nullptr), mem(gx),
           count(gy), static_cast<cl_ulong>(other ? other_n : 1), s, beta);
  ctx.enqueue_elementwise(k, static_cast<std::size_t>(gy.size()));
}

void reduce_middle(ContextImpl& ctx, const Tensor& x, const Tensor* w, const Tensor& y,
                   MiddleAxis view, float s, float beta, std::size_t x_offset) {
  const cl_mem wmem = mem(w ? *w : x);
  const cl_int has_w = w != nullptr;
  if (view.inner == 1) {
    const auto plan = ctx.reduction_plan;
    auto rows = [&](cl_mem in, cl_mem weights, cl_int weighted, std::size_t offset, cl_mem out,
                    std::size_t outer, std::size_t r, std::size_t segments, float scale, float b) {
      cl_kernel k = ctx.kernel("reduce", "reduce_rows");
      set_args(k, in, weights, weighted, cl_ulong(offset), out, cl_ulong(outer), cl_ulong(r),
               cl_ulong(segments), scale, b, LocalBytes{plan.local_size * sizeof(float)});
      const std::size_t groups = std::min(outer * segments, plan.max_groups);
      enqueue<1>(ctx.queue.get(), k, {groups * plan.local_size}, {plan.local_size});
    };
    // Few long rows would leave most compute units idle: cut each into pieces of at least
    // kMinPiece elements, summed into scratch, and sum the pieces in a second pass.
    constexpr std::size_t kMinPiece = 4096;
    const std::size_t segments =
        std::min(plan.max_groups / std::max<std::size_t>(view.outer, 1), view.r / kMinPiece);
    if (segments < 2)
      return rows(mem(x), wmem, has_w, x_offset, mem(y), view.outer, view.r, 1, s, beta);
    cl_mem pieces = ctx.scratch(view.outer * segments);
    rows(mem(x), wmem, has_w, x_offset, pieces, view.outer, view.r, segments, 1.0f, 0.0f);
    return rows(pieces, pieces, 0, 0, mem(y), view.outer, segments, 1, s, beta);
  }
  cl_kernel k = ctx.kernel("reduce", "reduce_strided");
  set_args(k, mem(x), wmem, has_w, cl_ulong(x_offset), mem(y), static_cast<cl_ulong>(view.outer),
           static_cast<cl_ulong>(view.r), static_cast<cl_ulong>(view.inner), s, beta);
  ctx.enqueue_elementwise(k, view.outer * view.inner);
}

void broadcast_middle(ContextImpl& ctx, const Tensor& gy, const Tensor& gx, MiddleAxis view,
                      float s, float beta) {
  cl_kernel k = ctx.kernel("reduce", "broadcast_middle");
  set_args(k, mem(gy), mem(gx), static_cast<cl_ulong>(view.outer), static_cast<cl_ulong>(view.r),
           static_cast<cl_ulong>(view.inner), s, beta);
  ctx.enqueue_elementwise(k, view.outer * view.r * view.inner);
}

}  // namespace clnn::detail
