// Data-parallel training over MPI (clnn::dist): run under `mpirun -np N` (ctest runs 2 ranks;
// alone, it is one rank and still passes). Every rank runs every case, in the same order: the
// cases call collectives.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <sstream>

#include "clnn/mpi.hpp"
#include "dist_support.hpp"
#include "support.hpp"

using namespace clnn;
using namespace clnn::test;

namespace {

dist::Mpi* world = nullptr;

// The same path on every rank: rank 0's.
std::string shared_path(const std::string& name) {
  std::array<char, 512> path{};
  const auto folder = std::filesystem::temp_directory_path();
  const std::string mine =
      (folder / ("clnn-dist-" + std::to_string(getpid()) + "-" + name)).string();
  std::strncpy(path.data(), mine.c_str(), path.size() - 1);
  world->broadcast(path.data(), path.size(), 0);
  return path.data();
}

}  // namespace

TEST_CASE("sums, broadcasts and barriers reach every rank", "[dist]") {
  const int rank = world->rank(), ranks = world->size();
  std::vector<float> floats(1000);
  for (std::size_t i = 0; i < floats.size(); ++i) floats[i] = float(rank + 1) + 0.5f * float(i);
  world->sum(floats.data(), floats.size());
  // CHECK, not REQUIRE, in these cases: a rank that left a case early would call the next
  // case's collectives against the others' remaining ones.
  bool summed = true;
  for (std::size_t i = 0; i < floats.size(); ++i)
    summed = summed && floats[i] == float(ranks * (ranks + 1) / 2) + 0.5f * float(i) * float(ranks);
  CHECK(summed);

  std::vector<double> doubles{double(rank), 1e-300};
  auto pending = world->start_sum(doubles.data(), doubles.size());
  pending->wait();
  CHECK(pending->test());
  CHECK(doubles[0] == double(ranks * (ranks - 1) / 2));
  CHECK(doubles[1] == 1e-300 * ranks);

  world->sum(static_cast<float*>(nullptr), 0);  // nothing to sum is no error

  std::array<std::int64_t, 2> value{rank, 7 * rank};
  world->broadcast(value.data(), sizeof value, ranks - 1);
  CHECK(value == std::array<std::int64_t, 2>{ranks - 1, 7 * (ranks - 1)});
  CHECK_THROWS_AS(world->start_broadcast(value.data(), sizeof value, ranks), dist::DistError);
  world->barrier();
  CHECK(world->local_rank() >= 0);
  CHECK(world->local_rank() <= rank);
}

TEST_CASE("N ranks train as one rank does over the same batches", "[dist]") {
  std::ostringstream log;
  train::Options o = dist_options(log, world);
  o.epochs = 1;
  auto distributed = dist_trainer(context(), o);
  const auto metrics = distributed->fit();
  const auto together = parameters_of(*distributed);

  train::Options alone_options = dist_options(log, nullptr);
  alone_options.epochs = 1;
  auto alone = dist_trainer(context(), alone_options);
  const auto reference = alone->fit();
  check_close(together, parameters_of(*alone), 1e-5);
  CHECK(metrics[0].train_loss == Approx(reference[0].train_loss).epsilon(1e-5));
  CHECK(metrics[0].train_accuracy == Approx(reference[0].train_accuracy));
  CHECK(metrics[0].test_accuracy == Approx(reference[0].test_accuracy));

  // Every rank holds the same parameters, bit for bit: rank 0's.
  for (const auto& mine : together) {
    auto root = mine;
    world->broadcast(root.data(), root.size() * sizeof(float), 0);
    CHECK(root == mine);
  }
}

TEST_CASE("with loss scaling, N ranks train as one rank does", "[dist]") {
  // Each rank's gradients are 2^16 times its own; the sum's unscaling and 1 / the ranks compose
  // exactly, and every rank reaches the same skip decision from the same sums.
  std::ostringstream log;
  train::Options o = dist_options(log, world);
  o.epochs = 1;
  o.loss_scaling = true;
  auto distributed = dist_trainer(context(), o);
  distributed->fit();
  train::Options alone_options = dist_options(log, nullptr);
  alone_options.epochs = 1;
  auto alone = dist_trainer(context(), alone_options);
  alone->fit();
  check_close(parameters_of(*distributed), parameters_of(*alone), 1e-5);
}

TEST_CASE("a checkpoint written by N ranks resumes on one, and one rank's on N", "[dist]") {
  std::ostringstream log;
  const std::string written_by_n = shared_path("n.ckpt");
  {
    train::Options o = dist_options(log, world);
    o.checkpoint = written_by_n;
    auto first = dist_trainer(context(), o);
    first->fit(1);
  }
  world->barrier();  // rank 0 has written it

  // Straight through on one rank, resumed on one rank, resumed on N ranks: the same.
  auto straight = dist_trainer(context(), dist_options(log, nullptr));
  straight->fit();
  auto resumed_alone = dist_trainer(context(), dist_options(log, nullptr));
  resumed_alone->resume(written_by_n);
  CHECK(resumed_alone->epoch() == 1);
  resumed_alone->fit();
  auto resumed_together = dist_trainer(context(), dist_options(log, world));
  resumed_together->resume(written_by_n);
  CHECK(resumed_together->epoch() == 1);
  resumed_together->fit();
  check_close(parameters_of(*resumed_alone), parameters_of(*straight), 1e-5);
  check_close(parameters_of(*resumed_together), parameters_of(*straight), 1e-5);

  // One rank's checkpoint (rank 0's file), resumed on N.
  const std::string written_by_one = shared_path("1.ckpt");
  if (world->rank() == 0) {
    train::Options o = dist_options(log, nullptr);
    o.checkpoint = written_by_one;
    auto first = dist_trainer(context(), o);
    first->fit(1);
  }
  auto from_one = dist_trainer(context(), dist_options(log, world));
  from_one->resume(written_by_one);
  from_one->fit();
  check_close(parameters_of(*from_one), parameters_of(*straight), 1e-5);
  if (world->rank() == 0) {
    std::filesystem::remove(written_by_n);
    std::filesystem::remove(written_by_one);
  }
}

TEST_CASE("distributed training refuses what it cannot do, on every rank", "[dist][errors]") {
  std::ostringstream log;
  // A checkpoint rank 0 cannot read ends every rank's resume with an error, not a wait.
  auto trainer = dist_trainer(context(), dist_options(log, world));
  const std::string missing = shared_path("missing.ckpt");
  if (world->rank() == 0)
    CHECK_THROWS_WITH(trainer->resume(missing), Catch::Contains("missing.ckpt"));
  else
    CHECK_THROWS_WITH(trainer->resume(missing), Catch::Contains("rank 0 could not resume"));

  if (world->size() > 1) {  // settings that would put the ranks' collectives out of step
    train::Options o = dist_options(log, world);
    if (world->rank() == 1) o.progress_steps = 5;
    auto differing = dist_trainer(context(), o);
    CHECK_THROWS_WITH(differing->fit(), Catch::Contains("of rank 1 differ from rank 0's"));
  }
  if (world->size() > 1) {  // a batch the ranks cannot share equally
    train::Options o = dist_options(log, world);
    o.batch_size = world->size() * 8 + 1;
    CHECK_THROWS_WITH(dist_trainer(context(), o),
                      Catch::Contains("does not split into equal shares"));
  }
}

int main(int argc, char** argv) {
  try {
    dist::Mpi mpi(dist::MpiOptions{120.0});
    world = &mpi;
    return Catch::Session().run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "clnn-dist-tests: %s\n", e.what());
    return 1;
  }
}
