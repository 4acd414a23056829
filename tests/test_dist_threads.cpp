// Data-parallel training without MPI, so that the sanitizer passes check the Trainer's
// distributed path (shares, gradient buckets, synchronization, shared evaluation) too: ranks as
// threads of this process sharing a context, behind a Communicator made of a mutex
// and a condition variable (ThreadSanitizer runs the [threads] cases); and one rank whose
// Communicator mirrors it, for failures injected half-way through a step.
#include <catch2/catch.hpp>

#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <sstream>
#include <thread>

#include "cl/fault.hpp"
#include "dist_support.hpp"
#include "support.hpp"

using namespace clnn;
using namespace clnn::test;

namespace {

// Every collective is a meeting: each rank brings its part and waits until all have.
class Meeting {
 public:
  explicit Meeting(int ranks) : ranks_(ranks) {}
  int ranks() const { return ranks_; }

  // Sums `count` values over the ranks into every rank's `values` (in doubles, then rounded).
  template <typename T>
  void sum(T* values, std::size_t count) {
    meet([&] {
      if (sum_.size() != count) sum_.assign(count, 0.0);
      for (std::size_t i = 0; i < count; ++i) sum_[i] += double(values[i]);
    }, [&] {
      for (std::size_t i = 0; i < count; ++i) values[i] = T(result_[i]);
    }, [&] { result_.swap(sum_), sum_.clear(); });
  }

  void broadcast(int rank, void* bytes, std::size_t count, int root) {
    auto* data = static_cast<unsigned char*>(bytes);
    meet([&] {
      if (rank == root) bytes_.assign(data, data + count);
    }, [&] {
      if (rank != root && count) std::memcpy(data, shared_.data(), count);
    }, [&] { shared_.swap(bytes_); });
  }

  void barrier() {
    meet([] {}, [] {}, [] {});
  }

 private:
  // bring: this rank's part (under the lock); take: once all have brought, each rank's copy of
  // the result (under the lock, before any rank can start the next meeting's completion);
  // complete: run by the last to arrive.
  template <typename Bring, typename Take, typename Complete>
  void meet(Bring bring, Take take, Complete complete) {
    std::unique_lock<std::mutex> lock(mutex_);
    const std::uint64_t meeting = meetings_;
    bring();
    if (++arrived_ == ranks_) {
      complete();
      arrived_ = 0;
      ++meetings_;
      met_.notify_all();
    } else {
      met_.wait(lock, [&] { return meetings_ != meeting; });
    }
    take();
  }

  const int ranks_;
  std::mutex mutex_;
  std::condition_variable met_;
  int arrived_ = 0;
  std::uint64_t meetings_ = 0;
  std::vector<double> sum_, result_;
  std::vector<unsigned char> bytes_, shared_;
};

// Finished as soon as it is made: the Meeting's collectives block.
class Done : public dist::Pending {
 public:
  bool test() override { return true; }
  void wait() override {}
};

class ThreadRank : public dist::Communicator {
 public:
  ThreadRank(Meeting& meeting, int rank) : meeting_(meeting), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return meeting_.ranks(); }
  int local_rank() const override { return rank_; }
  std::unique_ptr<dist::Pending> start_sum(float* values, std::size_t count) override {
    meeting_.sum(values, count);
    return std::make_unique<Done>();
  }
  std::unique_ptr<dist::Pending> start_sum(double* values, std::size_t count) override {
    meeting_.sum(values, count);
    return std::make_unique<Done>();
  }
  std::unique_ptr<dist::Pending> start_broadcast(void* bytes, std::size_t count,
                                                 int root) override {
    meeting_.broadcast(rank_, bytes, count, root);
    return std::make_unique<Done>();
  }
  std::unique_ptr<dist::Pending> start_barrier() override {
    meeting_.barrier();
    return std::make_unique<Done>();
  }
  [[noreturn]] void abort(int) override { std::terminate(); }

 private:
  Meeting& meeting_;
  int rank_;
};

// Rank 0 of two whose other rank always brings what this one does: sums double.
class Mirror : public dist::Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  std::unique_ptr<dist::Pending> start_sum(float* values, std::size_t count) override {
    for (std::size_t i = 0; i < count; ++i) values[i] *= 2.0f;
    return std::make_unique<Done>();
  }
  std::unique_ptr<dist::Pending> start_sum(double* values, std::size_t count) override {
    for (std::size_t i = 0; i < count; ++i) values[i] *= 2.0;
    return std::make_unique<Done>();
  }
  std::unique_ptr<dist::Pending> start_broadcast(void*, std::size_t, int) override {
    return std::make_unique<Done>();
  }
  std::unique_ptr<dist::Pending> start_barrier() override { return std::make_unique<Done>(); }
  [[noreturn]] void abort(int) override { std::terminate(); }
};

}  // namespace

TEST_CASE("a data-parallel step that fails half-way leaves the next one whole", "[dist][errors]") {
  using detail::fault::Injection;
  using detail::fault::Site;
  Mirror mirror;
  std::ostringstream log;
  train::Options o = dist_options(log, &mirror);
  o.epochs = 1;
  std::uint64_t calls = 0;
  {
    Injection counting(Site::enqueue);
    dist_trainer(context(), o)->fit();
    calls = counting.calls();
  }
  REQUIRE(calls > 100);
  auto trainer = dist_trainer(context(), o);
  {
    // Half-way through the epoch: inside some step's forward or backward.
    Injection failing(Site::enqueue, calls / 2, CL_OUT_OF_RESOURCES);
    CHECK_THROWS_AS(trainer->fit(), DeviceError);
    CHECK(failing.fired());
  }
  const auto metrics = trainer->fit();  // the same epoch again, from its start
  REQUIRE(metrics.size() == 1);
  CHECK(std::isfinite(metrics[0].train_loss));
  for (const auto& values : parameters_of(*trainer))
    for (float v : values) REQUIRE(std::isfinite(v));
}

TEST_CASE("ranks as threads train as one rank does over the same batches", "[dist][threads]") {
  constexpr int kRanks = 2;
  // The ranks share one context (as threads may), whose programs this thread builds first with
  // the ranks' shapes: PoCL's compiler (LLVM) replaces a thread's alternate signal stack, which
  // AddressSanitizer then fails to unmap as that thread ends.
  {
    Mirror mirror;
    std::ostringstream log;
    train::Options o = dist_options(log, &mirror);
    o.epochs = 1;
    dist_trainer(context(), o)->fit();
  }
  Meeting meeting(kRanks);
  std::vector<std::vector<std::vector<float>>> trained(kRanks);
  std::vector<double> test_accuracy(kRanks);
  std::vector<std::exception_ptr> failures(kRanks);
  std::vector<std::thread> ranks;
  for (int r = 0; r < kRanks; ++r)
    ranks.emplace_back([&, r] {
      try {
        ThreadRank communicator(meeting, r);
        std::ostringstream log;
        auto trainer = dist_trainer(context(), dist_options(log, &communicator));
        test_accuracy[std::size_t(r)] = trainer->fit().back().test_accuracy;
        trained[std::size_t(r)] = parameters_of(*trainer);
      } catch (...) {
        failures[std::size_t(r)] = std::current_exception();
      }
    });
  for (auto& t : ranks) t.join();
  for (auto& failure : failures)
    if (failure) std::rethrow_exception(failure);

  std::ostringstream log;
  auto alone = dist_trainer(context(), dist_options(log, nullptr));
  const double alone_accuracy = alone->fit().back().test_accuracy;
  check_close(trained[0], parameters_of(*alone), 1e-5);
  CHECK(trained[1] == trained[0]);  // every rank takes the same steps
  CHECK(test_accuracy[0] == Approx(alone_accuracy));
  CHECK(test_accuracy[1] == test_accuracy[0]);
}
