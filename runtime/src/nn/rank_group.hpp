// Internal: what the Trainer's ranks do together apart from summing gradients (GradientReducer):
// sums of metrics, rank 0's state on every rank, file work on rank 0 alone, and the check that
// the ranks agree before they call collectives in step. With one rank (no communicator) every
// call is local and free.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "clnn/dist.hpp"
#include "clnn/executor.hpp"
#include "clnn/optim.hpp"

namespace clnn::detail {

class RankGroup {
 public:
  explicit RankGroup(dist::Communicator* communicator);  // nullptr: one rank

  int rank() const { return rank_; }
  int size() const { return size_; }

  // In place: the sums over the ranks.
  void sum(double* values, std::size_t count);
  // Rank 0's tensor on every rank.
  void broadcast(Tensor tensor);
  // Runs `work` on rank 0 alone and tells every rank how it went: a fault there is rank 0's
  // exception on rank 0 and an Error naming it on the others, not a wait for a rank that has
  // stopped calling collectives.
  void on_rank0(const std::string& what, const std::function<void()>& work);
  // An Error on every rank naming the ranks whose `settings` differ from rank 0's; `names` says
  // what they are.
  void check_agreement(const std::vector<std::int64_t>& settings, const std::string& names);
  // Every rank takes rank 0's parameters, state, optimizer state and position.
  void take_rank0_state(Executor& executor, optim::Optimizer& optimizer, std::int64_t& epoch);

 private:
  dist::Communicator* communicator_;
  int rank_ = 0, size_ = 1;
};

}  // namespace clnn::detail
