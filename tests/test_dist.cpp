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
#include "support.hpp"

using namespace clnn;
using clnn::test::context;

namespace {

dist::Mpi* world = nullptr;

// 12x12 images of 4 classes: a bright square whose corner tells the class, over noise.
data::ImageSet synthetic_images(std::int64_t count, std::uint64_t seed) {
  data::ImageSet set;
  set.count = count;
  set.rows = set.cols = 12;
  set.classes = 4;
  std::mt19937_64 rng(seed);
  for (std::int64_t i = 0; i < count; ++i) {
    const int label = int(rng() % 4);
    set.labels.push_back(std::uint8_t(label));
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 12; ++x) {
        const bool lit = (y < 6) == (label / 2 == 0) && (x < 6) == (label % 2 == 0);
        set.pixels.push_back(std::uint8_t((lit ? 160 : 0) + rng() % 64));
      }
  }
  return set;
}

const data::ImageSet& train_set() {
  static const data::ImageSet set = synthetic_images(640, 1);
  return set;
}
const data::ImageSet& test_set() {
  static const data::ImageSet set = synthetic_images(203, 2);  // not a multiple of the ranks
  return set;
}

// No batch norm (whose statistics are each rank's own), and dropout, whose masks the ranks'
// shares must draw as the whole batch would.
Value model(Graph& g, const Value& images) {
  nn::Sequential net;
  net.emplace<nn::Conv2d>(g, "conv", 1, 6, 3, nn::ConvLayerOptions{1, 1});
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Dropout>(0.25f, 3);
  net.emplace<nn::Linear>(g, "fc1", 6 * 6 * 6, 16);
  net.emplace<nn::ReLU>();
  net.emplace<nn::Linear>(g, "fc2", 16, 4);
  return net(images);
}

// 20 steps of a batch of 16 per epoch.
train::Options options(std::ostream& log, bool distributed) {
  train::Options o;
  o.epochs = 2;
  o.batch_size = 16;
  o.limit = 320;
  o.optimizer = train::OptimizerKind::adam;
  o.lr = 0.01f;
  o.progress_steps = 7;
  o.log = &log;
  o.communicator = distributed ? world : nullptr;
  o.bucket_bytes = 2048;  // several buckets even for this small model
  return o;
}

std::vector<std::vector<float>> parameters_of(train::Trainer& trainer) {
  std::vector<std::vector<float>> values;
  for (const Value& p : trainer.executor().parameters())
    values.push_back(trainer.executor().parameter(p.name()).to_host());
  return values;
}

// max |a - b| / max |b| over each parameter.
void check_close(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b,
                 double tolerance) {
  REQUIRE(a.size() == b.size());
  for (std::size_t p = 0; p < a.size(); ++p) {
    REQUIRE(a[p].size() == b[p].size());
    double difference = 0, scale = 0;
    for (std::size_t i = 0; i < a[p].size(); ++i) {
      difference = std::max(difference, std::abs(double(a[p][i]) - double(b[p][i])));
      scale = std::max(scale, std::abs(double(b[p][i])));
    }
    INFO("parameter " << p << ": max difference " << difference << " of max " << scale);
    CHECK(difference <= tolerance * scale);
  }
}

// The same path on every rank: rank 0's.
std::string shared_path(const std::string& name) {
  std::array<char, 512> path{};
  const std::string mine =
      (std::filesystem::temp_directory_path() / ("clnn-dist-" + std::to_string(getpid()) + "-" + name))
          .string();
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
  for (std::size_t i = 0; i < floats.size(); ++i)
    REQUIRE(floats[i] == float(ranks * (ranks + 1) / 2) + 0.5f * float(i) * float(ranks));

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
  train::Options o = options(log, true);
  o.epochs = 1;
  train::Trainer distributed(context(), model, train_set(), test_set(), o);
  const auto metrics = distributed.fit();
  const auto together = parameters_of(distributed);

  train::Options alone_options = options(log, false);
  alone_options.epochs = 1;
  train::Trainer alone(context(), model, train_set(), test_set(), alone_options);
  const auto reference = alone.fit();
  check_close(together, parameters_of(alone), 1e-5);
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

TEST_CASE("a checkpoint written by N ranks resumes on one, and one rank's on N", "[dist]") {
  std::ostringstream log;
  const std::string written_by_n = shared_path("n.ckpt");
  {
    train::Options o = options(log, true);
    o.checkpoint = written_by_n;
    train::Trainer first(context(), model, train_set(), test_set(), o);
    first.fit(1);
  }
  world->barrier();  // rank 0 has written it

  // Straight through on one rank, resumed on one rank, resumed on N ranks: the same.
  train::Trainer straight(context(), model, train_set(), test_set(), options(log, false));
  straight.fit();
  train::Trainer resumed_alone(context(), model, train_set(), test_set(), options(log, false));
  resumed_alone.resume(written_by_n);
  CHECK(resumed_alone.epoch() == 1);
  resumed_alone.fit();
  train::Trainer resumed_together(context(), model, train_set(), test_set(), options(log, true));
  resumed_together.resume(written_by_n);
  CHECK(resumed_together.epoch() == 1);
  resumed_together.fit();
  check_close(parameters_of(resumed_alone), parameters_of(straight), 1e-5);
  check_close(parameters_of(resumed_together), parameters_of(straight), 1e-5);

  // One rank's checkpoint (rank 0's file), resumed on N.
  const std::string written_by_one = shared_path("1.ckpt");
  if (world->rank() == 0) {
    train::Options o = options(log, false);
    o.checkpoint = written_by_one;
    train::Trainer first(context(), model, train_set(), test_set(), o);
    first.fit(1);
  }
  train::Trainer from_one(context(), model, train_set(), test_set(), options(log, true));
  from_one.resume(written_by_one);
  from_one.fit();
  check_close(parameters_of(from_one), parameters_of(straight), 1e-5);
  if (world->rank() == 0) {
    std::filesystem::remove(written_by_n);
    std::filesystem::remove(written_by_one);
  }
}

TEST_CASE("distributed training refuses what it cannot do, on every rank", "[dist][errors]") {
  std::ostringstream log;
  // A checkpoint rank 0 cannot read ends every rank's resume with an error, not a wait.
  train::Trainer trainer(context(), model, train_set(), test_set(), options(log, true));
  const std::string missing = shared_path("missing.ckpt");
  if (world->rank() == 0)
    CHECK_THROWS_WITH(trainer.resume(missing), Catch::Contains("missing.ckpt"));
  else
    CHECK_THROWS_WITH(trainer.resume(missing), Catch::Contains("rank 0 could not resume"));

  if (world->size() > 1) {  // a batch the ranks cannot share equally
    train::Options o = options(log, true);
    o.batch_size = world->size() * 8 + 1;
    CHECK_THROWS_WITH(train::Trainer(context(), model, train_set(), test_set(), o),
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
