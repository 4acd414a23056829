// GradientReducer: reads enqueued between backward's kernels, sums started as their reads land.
#include "nn/gradient_reducer.hpp"

#include <thread>

#include "context_impl.hpp"

namespace clnn::detail {

GradientReducer::GradientReducer(const Executor& executor, dist::Communicator& communicator,
                                 std::size_t bucket_bytes)
    : communicator_(communicator),
      bucket_floats_(std::max<std::size_t>(1, bucket_bytes / sizeof(float))) {
  std::size_t total = 0;
  for (const Value& p : executor.parameters()) total += std::size_t(element_count(p.shape()));
  host_.resize(total);
  offset_.assign(executor.parameters().size(), 0);
}

void GradientReducer::gradient_ready(std::size_t parameter, const Tensor& gradient) {
  if (ready_order_.size() == offset_.size()) {  // the first gradient of a new step
    ready_order_.clear();
    buckets_.clear();
    filled_ = 0;
    gradients_.clear();
  }
  if (gradients_.empty()) gradients_.resize(offset_.size());
  gradients_[parameter] = gradient;
  const std::size_t count = std::size_t(gradient.size());
  offset_[parameter] = filled_;
  ready_order_.push_back(parameter);
  auto& impl = Access::impl(gradient);
  cl_event event = nullptr;
  check(clEnqueueReadBuffer(impl.queue.get(), Access::mem(gradient), CL_FALSE, 0,
                            count * sizeof(float), host_.data() + filled_, 0, nullptr, &event),
        "clEnqueueReadBuffer (gradient)");
  filled_ += count;
  const std::size_t begin = buckets_.empty() ? 0 : buckets_.back().end;
  if (filled_ - begin >= bucket_floats_ || ready_order_.size() == offset_.size())
    close_bucket(event);
  else
    clReleaseEvent(event);
}

void GradientReducer::close_bucket(cl_event last_read) {
  Bucket bucket;
  bucket.begin = buckets_.empty() ? 0 : buckets_.back().end;
  bucket.end = filled_;
  bucket.read = OwnedEvent(last_read);
  buckets_.push_back(std::move(bucket));
}

void GradientReducer::finish() {
  if (ready_order_.size() != offset_.size())
    throw Error("GradientReducer: backward finished " + std::to_string(ready_order_.size()) +
                " of " + std::to_string(offset_.size()) + " gradients");
  auto& impl = Access::impl(gradients_[ready_order_[0]]);
  check(clFlush(impl.queue.get()), "clFlush");  // the reads must reach the device to finish
  // Each bucket's sum starts once its reads have landed (the device still running backward),
  // and earlier sums move on meanwhile.
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    for (;;) {
      cl_int status = CL_QUEUED;
      check(clGetEventInfo(buckets_[b].read.get(), CL_EVENT_COMMAND_EXECUTION_STATUS,
                           sizeof(status), &status, nullptr),
            "clGetEventInfo");
      if (status < 0) throw DeviceError("reading a gradient for the ranks' sum", status);
      if (status == CL_COMPLETE) break;
      // MPI moves sums on only inside its calls: they are polled as often as the host can.
      for (std::size_t earlier = 0; earlier < b; ++earlier) buckets_[earlier].sum->test();
      std::this_thread::yield();
    }
    Bucket& bucket = buckets_[b];
    bucket.sum = communicator_.start_sum(host_.data() + bucket.begin, bucket.end - bucket.begin);
  }
  for (Bucket& bucket : buckets_) bucket.sum->wait();
  // Written back behind backward on the in-order queue; host_ is next touched by the next
  // step's reads, which queue behind these writes.
  for (std::size_t parameter : ready_order_) {
    const Tensor& gradient = gradients_[parameter];
    Access::note_write(gradient);
    check(clEnqueueWriteBuffer(impl.queue.get(), Access::mem(gradient), CL_FALSE, 0,
                               std::size_t(gradient.size()) * sizeof(float),
                               host_.data() + offset_[parameter], 0, nullptr, nullptr),
          "clEnqueueWriteBuffer (gradient)");
  }
}

}  // namespace clnn::detail
