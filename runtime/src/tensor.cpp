// Tensor: allocation, host transfers and access to the buffer behind it.
#include <utility>

#include "cl/fault.hpp"
#include "cl/launch_recording.hpp"
#include "clnn/interop.hpp"
#include "context_impl.hpp"

namespace clnn {

namespace detail {

ContextImpl& Access::impl(const Tensor& t) {
  if (!t.defined()) throw Error("the tensor is undefined (default-constructed)");
  return *t.ctx_;
}

cl_mem Access::mem(const Tensor& t) {
  if (!t.defined()) throw Error("the tensor is undefined (default-constructed)");
  return t.buffer_->mem();
}

std::uint64_t Access::writes(const Tensor& t) {
  return t.defined() ? t.buffer_->writes() : 0;
}

void Access::note_write(const Tensor& t) {
  if (t.defined()) t.buffer_->note_write();
}

}  // namespace detail

namespace {

void check_host_size(const Tensor& t, std::size_t values, const char* what) {
  if (static_cast<std::uint64_t>(t.size()) != values)
    throw ShapeError(std::string(what) + ": " + std::to_string(values) +
                     " values given for a tensor of shape " + to_string(t.shape()) + " (" +
                     std::to_string(t.size()) + " elements)");
}

}  // namespace

Tensor::Tensor(std::shared_ptr<detail::ContextImpl> ctx, Shape shape,
               std::shared_ptr<detail::Buffer> buffer)
    : ctx_(std::move(ctx)), shape_(std::move(shape)), buffer_(std::move(buffer)) {}

Tensor Tensor::empty(const Context& ctx, const Shape& shape) {
  std::int64_t count = element_count(shape, "tensor");
  auto& impl = detail::Access::impl(ctx);
  std::string what = "tensor of shape " + to_string(shape);
  auto buffer = std::make_shared<detail::Buffer>(
      impl.context.get(), impl.info, detail::checked_bytes(count, sizeof(float), what), what);
  return Tensor(detail::Access::shared_impl(ctx), shape, std::move(buffer));
}

Tensor Tensor::zeros(const Context& ctx, const Shape& shape) {
  Tensor t = empty(ctx, shape);
  fill(t, 0.0f);
  return t;
}

Tensor Tensor::from_host(const Context& ctx, const Shape& shape, const std::vector<float>& values) {
  if (static_cast<std::uint64_t>(element_count(shape, "tensor")) != values.size())
    throw ShapeError("Tensor::from_host: " + std::to_string(values.size()) +
                     " values given for shape " + to_string(shape));
  Tensor t = empty(ctx, shape);
  t.write(values);
  return t;
}

std::int64_t Tensor::size() const {
  return defined() ? element_count(shape_) : 0;
}

Context Tensor::context() const {
  return Context(ctx_);
}

void Tensor::write(const std::vector<float>& values) {
  auto& impl = detail::Access::impl(*this);
  check_host_size(*this, values.size(), "Tensor::write");
  detail::note_unrepeatable();  // a pass that moves host data cannot be replayed
  buffer_->note_write();
  detail::check(detail::fault::injected(detail::fault::Site::enqueue), "clEnqueueWriteBuffer");
  detail::check(
      clEnqueueWriteBuffer(impl.queue.get(), buffer_->mem(), CL_TRUE, 0,
                           values.size() * sizeof(float), values.data(), 0, nullptr, nullptr),
      "clEnqueueWriteBuffer");
}

std::vector<float> Tensor::to_host() const {
  auto& impl = detail::Access::impl(*this);
  std::vector<float> values(static_cast<std::size_t>(size()));
  detail::note_unrepeatable();  // a pass that moves host data cannot be replayed
  detail::check(detail::fault::injected(detail::fault::Site::enqueue), "clEnqueueReadBuffer");
  detail::check(
      clEnqueueReadBuffer(impl.queue.get(), buffer_->mem(), CL_TRUE, 0,
                          values.size() * sizeof(float), values.data(), 0, nullptr, nullptr),
      "clEnqueueReadBuffer");
  return values;
}

Upload Tensor::write_async(const float* values, std::size_t count) {
  auto& impl = detail::Access::impl(*this);
  if (static_cast<std::uint64_t>(size()) != count)
    throw ShapeError("Tensor::write_async: " + std::to_string(count) +
                     " values given for a tensor of shape " + to_string(shape_));
  cl_event event = nullptr;
  detail::note_unrepeatable();  // a pass that moves host data cannot be replayed
  buffer_->note_write();
  detail::check(detail::fault::injected(detail::fault::Site::enqueue), "clEnqueueWriteBuffer");
  detail::check(clEnqueueWriteBuffer(impl.queue.get(), buffer_->mem(), CL_FALSE, 0,
                                     count * sizeof(float), values, 0, nullptr, &event),
                "clEnqueueWriteBuffer");
  return Upload(event);
}

Upload::Upload(Upload&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

Upload& Upload::operator=(Upload&& other) noexcept {
  if (this != &other) {
    finish_quietly();
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

Upload::~Upload() { finish_quietly(); }

void Upload::finish_quietly() noexcept {
  if (!event_) return;
  clWaitForEvents(1, &event_);  // no error can escape a destructor or a move
  clReleaseEvent(event_);
  event_ = nullptr;
}

void Upload::wait() {
  if (!event_) return;
  cl_event event = std::exchange(event_, nullptr);
  cl_int status = clWaitForEvents(1, &event);
  clReleaseEvent(event);
  detail::check(status, "clWaitForEvents (upload)");
}

void mark_written(const Tensor& t) {
  detail::Access::note_write(t);
}

cl_mem native_buffer(const Tensor& t) {
  detail::Access::note_write(t);  // the caller may write through it
  return detail::Access::mem(t);
}

}  // namespace clnn
