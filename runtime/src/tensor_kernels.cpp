// fill, copy and axpy on whole tensors, through the kernels of cl_kernels/elementwise.cl.
#include "cl/kernel_call.hpp"
#include "context_impl.hpp"

namespace clnn {

namespace {

using detail::Access;

void check_same_size(const Tensor& a, const Tensor& b, const char* op) {
  if (a.size() != b.size())
    throw ShapeError(std::string(op) + ": tensors of shapes " + to_string(a.shape()) + " and " +
                     to_string(b.shape()) + " differ in size");
  if (&Access::impl(a) != &Access::impl(b))
    throw Error(std::string(op) + ": the tensors belong to different contexts");
}

}  // namespace

void fill(Tensor& t, float value) {
  auto& impl = Access::impl(t);
  Access::note_write(t);
  cl_kernel k = impl.kernel("elementwise", "fill");
  detail::set_args(k, Access::mem(t), static_cast<cl_ulong>(t.size()), value);
  impl.enqueue_float4s(k, static_cast<std::size_t>(t.size()));
}

void copy(const Tensor& src, Tensor& dst) {
  check_same_size(src, dst, "copy");
  auto& impl = Access::impl(dst);
  Access::note_write(dst);
  cl_kernel k = impl.kernel("elementwise", "copy");
  detail::set_args(k, Access::mem(src), Access::mem(dst), static_cast<cl_ulong>(dst.size()));
  impl.enqueue_float4s(k, static_cast<std::size_t>(dst.size()));
}

void axpy(float a, const Tensor& x, Tensor& y) {
  check_same_size(x, y, "axpy");
  auto& impl = Access::impl(y);
  Access::note_write(y);
  cl_kernel k = impl.kernel("elementwise", "axpy");
  detail::set_args(k, a, Access::mem(x), Access::mem(y), static_cast<cl_ulong>(y.size()));
  impl.enqueue_float4s(k, static_cast<std::size_t>(y.size()));
}

}  // namespace clnn
