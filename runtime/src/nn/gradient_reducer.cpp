// GradientReducer: reads enqueued between backward's kernels, sums started as their reads land.
#include "nn/gradient_reducer.hpp"

#include <thread>

#include "context_impl.hpp"

namespace clnn::detail {

GradientReducer::GradientReducer(const Executor& executor, dist::Communicator& communicator,
                                 std::size_t bucket_bytes)
    : communicator_(communicator),
      queue_(Access::impl(executor.context()).queue.get()),
      bucket_floats_(std::max<std::size_t>(1, bucket_bytes / sizeof(float))) {
  std::size_t total = 0;
  for (const Value& p : executor.parameters()) total += std::size_t(element_count(p.shape()));
  host_.resize(total);
  offset_.assign(executor.parameters().size(), 0);
}

GradientReducer::~GradientReducer() {
  clFinish(queue_);  // no error can escape a destructor; a failed queue has nothing in flight
  for (Bucket& bucket : buckets_) {
    bool finished = !bucket.sum;
    try {
      finished = finished || bucket.sum->test();
    } catch (...) {
    }
    if (!finished) {
      new std::vector<float>(std::move(host_));  // left to MPI, which may still write into it
      return;
    }
  }
}

void GradientReducer::begin_step() {
  ready_order_.clear();
  buckets_.clear();  // each sum left unfinished by a failed step has ended the communicator
  gradients_.assign(offset_.size(), Tensor());
  filled_ = 0;
}

void GradientReducer::gradient_ready(std::size_t parameter, const Tensor& gradient) {
  const std::size_t count = std::size_t(gradient.size());
  if (parameter >= offset_.size() || gradients_[parameter].defined() ||
      count > host_.size() - filled_)
    throw Error("GradientReducer: gradient " + std::to_string(parameter) + " of " +
                std::to_string(offset_.size()) + " reported twice or out of place");
  gradients_[parameter] = gradient;
  offset_[parameter] = filled_;
  ready_order_.push_back(parameter);
  cl_event event = nullptr;
  if (count > 0)
    check(clEnqueueReadBuffer(queue_, Access::mem(gradient), CL_FALSE, 0, count * sizeof(float),
                              host_.data() + filled_, 0, nullptr, &event),
          "clEnqueueReadBuffer (gradient)");
  else
    check(clEnqueueMarkerWithWaitList(queue_, 0, nullptr, &event), "clEnqueueMarkerWithWaitList");
  filled_ += count;
  if (filled_ - open_bucket_begin() >= bucket_floats_ || ready_order_.size() == offset_.size())
    close_bucket(event);
  else
    clReleaseEvent(event);
}

void GradientReducer::close_bucket(cl_event last_read) {
  Bucket bucket;
  bucket.begin = open_bucket_begin();
  bucket.end = filled_;
  bucket.read = OwnedEvent(last_read);
  buckets_.push_back(std::move(bucket));
}

void GradientReducer::finish() {
  if (ready_order_.size() != offset_.size())
    throw Error("GradientReducer: backward finished " + std::to_string(ready_order_.size()) +
                " of " + std::to_string(offset_.size()) + " gradients");
  check(clFlush(queue_), "clFlush");  // the reads must reach the device to finish
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
    if (gradient.size() == 0) continue;
    Access::note_write(gradient);
    check(clEnqueueWriteBuffer(queue_, Access::mem(gradient), CL_FALSE, 0,
                               std::size_t(gradient.size()) * sizeof(float),
                               host_.data() + offset_[parameter], 0, nullptr, nullptr),
          "clEnqueueWriteBuffer (gradient)");
  }
}

}  // namespace clnn::detail
