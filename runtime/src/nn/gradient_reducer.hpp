// Internal: data-parallel gradients. Each parameter's gradient is copied to the host as soon as
// backward has enqueued its last kernel, the copies are summed over the ranks in buckets while
// the device runs the rest of backward, and the sums are written back before the update.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "cl_api.hpp"
#include "clnn/dist.hpp"
#include "clnn/executor.hpp"

namespace clnn::detail {

class GradientReducer {
 public:
  // A bucket is summed once it holds bucket_bytes of gradients (or is the last).
  GradientReducer(const Executor& executor, dist::Communicator& communicator,
                  std::size_t bucket_bytes);
  // Waits for the copies in flight into or out of its host memory; where a sum is still in
  // flight (a failed step), that memory is left allocated, as MPI may yet write into it.
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before each backward: forgets what a step that failed half-way left.
  void begin_step();
  // Executor::backward's gradient_ready: parameters()[parameter]'s gradient is enqueued.
  void gradient_ready(std::size_t parameter, const Tensor& gradient);
  // After backward: every gradient becomes its sum over the ranks (the writes are enqueued).
  void finish();

 private:
  struct Bucket {
    std::size_t begin = 0, end = 0;  // floats of host_
    OwnedEvent read;                 // the last of its reads
    std::unique_ptr<dist::Pending> sum;
  };
  void close_bucket(cl_event last_read);
  // Where the bucket being filled starts in host_: after the last closed one.
  std::size_t open_bucket_begin() const { return buckets_.empty() ? 0 : buckets_.back().end; }

  dist::Communicator& communicator_;
  cl_command_queue queue_;
  std::size_t bucket_floats_;
  std::vector<Tensor> gradients_;         // per parameter, as backward reported them
  std::vector<std::size_t> offset_;       // per parameter: where its gradient lies in host_
  std::vector<std::size_t> ready_order_;  // parameters in the order backward finished them
  std::vector<float> host_;               // every gradient, in ready order
  std::vector<Bucket> buckets_;
  std::size_t filled_ = 0;  // floats of host_ this step's reads cover
};

}  // namespace clnn::detail
