#include "nn/rank_group.hpp"

#include <array>
#include <exception>

namespace clnn::detail {

RankGroup::RankGroup(dist::Communicator* communicator)
    : communicator_(communicator),
      rank_(communicator ? communicator->rank() : 0),
      size_(communicator ? communicator->size() : 1) {}

void RankGroup::sum(double* values, std::size_t count) {
  if (size_ > 1) communicator_->sum(values, count);
}

void RankGroup::broadcast(Tensor tensor) {
  if (size_ == 1) return;
  std::vector<float> values = rank_ == 0 ? tensor.to_host() : std::vector<float>(tensor.size());
  communicator_->broadcast(values.data(), values.size() * sizeof(float), 0);
  if (rank_ != 0) tensor.write(values);
}

void RankGroup::on_rank0(const std::string& what, const std::function<void()>& work) {
  if (size_ == 1) return work();
  std::exception_ptr fault;
  std::int32_t done = 1;
  if (rank_ == 0) try {
      work();
    } catch (...) {
      fault = std::current_exception();
      done = 0;
    }
  communicator_->broadcast(&done, sizeof done, 0);
  if (fault) std::rethrow_exception(fault);
  if (!done) throw Error("Trainer: rank 0 could not " + what);
}

void RankGroup::check_agreement(const std::vector<std::int64_t>& settings,
                                const std::string& names) {
  if (size_ == 1) return;
  std::vector<std::int64_t> root = settings;
  communicator_->broadcast(root.data(), root.size() * sizeof(std::int64_t), 0);
  std::vector<double> differs(std::size_t(size_), 0.0);
  differs[std::size_t(rank_)] = root != settings ? 1.0 : 0.0;
  communicator_->sum(differs.data(), differs.size());
  std::string which;
  for (int r = 0; r < size_; ++r)
    if (differs[std::size_t(r)] != 0) which += (which.empty() ? "" : ", ") + std::to_string(r);
  if (!which.empty())
    throw Error("Trainer: the " + names + " of rank " + which + " differ from rank 0's");
}

void RankGroup::take_rank0_state(Executor& executor, optim::Optimizer& optimizer,
                                 std::int64_t& epoch) {
  if (size_ == 1) return;
  std::array<std::int64_t, 3> position{epoch, std::int64_t(executor.step()), optimizer.steps()};
  communicator_->broadcast(position.data(), sizeof position, 0);
  epoch = position[0];
  executor.set_step(std::uint64_t(position[1]));
  optimizer.set_steps(position[2]);
  for (const Value& p : executor.parameters()) broadcast(executor.parameter(p.name()));
  for (const Value& v : executor.states()) broadcast(executor.state(v.name()));
  for (auto& [name, slot] : optimizer.slots()) broadcast(slot);
}

}  // namespace clnn::detail
