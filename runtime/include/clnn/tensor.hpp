// Tensor: a dense fp32 array on a device, and the small kernel family that works on whole tensors.
#pragma once

#include <memory>
#include <vector>

#include "clnn/context.hpp"
#include "clnn/shape.hpp"

struct _cl_event;  // OpenCL's event type, kept opaque here

namespace clnn {

namespace detail {
class Buffer;
}

// An upload in flight (Tensor::write_async): the host values must stay alive and unchanged until
// wait() returns. The destructor waits.
class Upload {
 public:
  Upload() = default;
  Upload(Upload&& other) noexcept;
  Upload& operator=(Upload&& other) noexcept;
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;
  ~Upload();
  void wait();

 private:
  explicit Upload(_cl_event* event) : event_(event) {}
  void finish_quietly() noexcept;
  _cl_event* event_ = nullptr;
  friend class Tensor;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: holds no device memory

  // Device memory for `shape`, contents unspecified.
  static Tensor empty(const Context& ctx, const Shape& shape);
  static Tensor zeros(const Context& ctx, const Shape& shape);
  // Copies `values` (row-major, as many as the shape has elements) to the device.
  static Tensor from_host(const Context& ctx, const Shape& shape, const std::vector<float>& values);

  std::vector<float> to_host() const;
  // Overwrites the contents with `values`, which must have size() elements.
  void write(const std::vector<float>& values);
  // Enqueues the same without waiting: it runs after the work already enqueued on the context's
  // queue, while the host goes on.
  Upload write_async(const float* values, std::size_t count);

  bool defined() const { return buffer_ != nullptr; }
  const Shape& shape() const { return shape_; }
  std::int64_t size() const;
  Context context() const;

 private:
  Tensor(std::shared_ptr<detail::ContextImpl> ctx, Shape shape,
         std::shared_ptr<detail::Buffer> buffer);
  std::shared_ptr<detail::ContextImpl> ctx_;
  Shape shape_;
  std::shared_ptr<detail::Buffer> buffer_;
  friend struct detail::Access;
};

// Every element of t becomes value.
void fill(Tensor& t, float value);
// dst = src; both have the same number of elements.
void copy(const Tensor& src, Tensor& dst);
// y = a * x + y; both have the same number of elements.
void axpy(float a, const Tensor& x, Tensor& y);

}  // namespace clnn
