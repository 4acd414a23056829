// Checkpoints: round trip with optimizer state, and every corruption a clean IoError; an
// interrupted save leaves the previous checkpoint loadable.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "cl/hash.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace clnn;
using clnn::test::context;
using clnn::test::random_vector;

namespace {

struct Model {
  Graph g;
  Value x = g.input("x", {4, 3});
  Value w = g.parameter("w", {3, 2}, init::xavier_uniform(1));
  Value b = g.parameter("b", {2}, init::zeros());
  Value s = g.state("s", {5}, init::constant(0.5f));
  Value loss = add(mean(add(matmul(x, w), b)), mean(s));
};

fs::path temp_file(const std::string& name) {
  return fs::temp_directory_path() / ("clnn-ckpt-" + std::to_string(getpid()) + "-" + name);
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("a checkpoint round-trips parameters, state, optimizer slots and position",
          "[checkpoint]") {
  Model m;
  Executor ex(context(), m.g, {m.loss}, Mode::training);
  optim::Adam adam(ex, {});
  ex.set_input("x", random_vector(12, 1));
  for (int i = 0; i < 3; ++i) {
    ex.forward();
    ex.backward(m.loss);
    adam.step();
  }
  ex.set_state("s", {1, 2, 3, 4, 5});
  const auto path = temp_file("round");
  save_checkpoint(path.string(), ex, &adam, {7, ex.step(), adam.steps(), {}});

  Model fresh;
  Executor other(context(), fresh.g, {fresh.loss}, Mode::training);
  optim::Adam other_adam(other, {});
  auto position = load_checkpoint(path.string(), other, &other_adam);
  CHECK(position.epoch == 7);
  CHECK(position.executor_step == 3);
  CHECK(other.step() == 3);
  CHECK(other_adam.steps() == 3);
  CHECK(other.parameter("w").to_host() == ex.parameter("w").to_host());
  CHECK(other.parameter("b").to_host() == ex.parameter("b").to_host());
  CHECK(other.state("s").to_host() == std::vector<float>{1, 2, 3, 4, 5});
  auto slots = adam.slots(), loaded = other_adam.slots();
  REQUIRE(slots.size() == 4);
  for (std::size_t i = 0; i < slots.size(); ++i)
    CHECK(loaded[i].second.to_host() == slots[i].second.to_host());
  fs::remove(path);
}

TEST_CASE("a checkpoint keeps a loss scaler's state; version 1 files still load", "[checkpoint]") {
  Model m;
  Executor ex(context(), m.g, {m.loss}, Mode::training);
  const auto path = temp_file("scaler");
  save_checkpoint(path.string(), ex, nullptr, {3, 0, 0, optim::LossScalerState{512.0f, 17, 2}});
  auto position = load_checkpoint(path.string(), ex, nullptr);
  REQUIRE(position.loss_scaler);
  CHECK(position.loss_scaler->scale == 512.0f);
  CHECK(position.loss_scaler->finite_in_a_row == 17);
  CHECK(position.loss_scaler->skipped == 2);

  // Version 1: the same bytes without the scaler's 24 after the position (magic 8, version 4,
  // count 4, position 24), and the checksum made again.
  save_checkpoint(path.string(), ex, nullptr, {3, 0, 0, {}});
  std::string bytes = read(path);
  bytes = bytes.substr(0, 40) + bytes.substr(64, bytes.size() - 64 - 8);
  bytes[8] = 1;
  const std::uint64_t sum = detail::fnv1a64(bytes);
  bytes.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  write(path, bytes);
  position = load_checkpoint(path.string(), ex, nullptr);
  CHECK(position.epoch == 3);
  CHECK_FALSE(position.loss_scaler);

  // An impossible state is refused.
  save_checkpoint(path.string(), ex, nullptr, {3, 0, 0, optim::LossScalerState{-1.0f, 0, 0}});
  CHECK_THROWS_WITH(load_checkpoint(path.string(), ex, nullptr),
                    Catch::Contains("impossible loss scaler state"));
  fs::remove(path);
}

TEST_CASE("corrupt checkpoints are IoErrors and change nothing", "[checkpoint][errors]") {
  Model m;
  Executor ex(context(), m.g, {m.loss}, Mode::training);
  optim::SGDOptions so;
  so.momentum = 0.9f;
  optim::SGD sgd(ex, so);
  const auto path = temp_file("corrupt");
  save_checkpoint(path.string(), ex, &sgd, {1, 0, 0, {}});
  const std::string good = read(path);
  const auto before = ex.parameter("w").to_host();
  ex.set_parameter("w", {9, 9, 9, 9, 9, 9});

  std::size_t failures = 0, attempts = 0;
  auto expect_rejected = [&](const std::string& bytes) {
    write(path, bytes);
    ++attempts;
    try {
      load_checkpoint(path.string(), ex, &sgd);
    } catch (const IoError& e) {
      if (e.file() == path.string()) ++failures;
    }
  };
  for (std::size_t cut = 0; cut < good.size(); cut += 7) expect_rejected(good.substr(0, cut));
  for (std::size_t at = 0; at < good.size(); at += 5) {
    std::string flipped = good;
    flipped[at] = char(flipped[at] ^ 0x20);
    expect_rejected(flipped);
  }
  expect_rejected(good + "x");
  CHECK(failures == attempts);
  CHECK(ex.parameter("w").to_host() == std::vector<float>(6, 9.0f));  // nothing was written

  // A checkpoint of another model: names or shapes differ.
  write(path, good);
  Graph g2;
  Value w2 = g2.parameter("w", {3, 3}, init::zeros());
  Value loss2 = sum(w2);
  Executor ex2(context(), g2, {loss2}, Mode::training);
  CHECK_THROWS_AS(load_checkpoint(path.string(), ex2, nullptr), IoError);
  CHECK_THROWS_WITH(load_checkpoint((path.string() + ".none"), ex, &sgd),
                    Catch::Contains("cannot read"));
  (void)before;
  fs::remove(path);
}

TEST_CASE("a save interrupted before the rename leaves the previous checkpoint",
          "[checkpoint][errors]") {
  Model m;
  Executor ex(context(), m.g, {m.loss}, Mode::training);
  const auto path = temp_file("interrupted");
  save_checkpoint(path.string(), ex, nullptr, {1, 0, 0, {}});
  const auto first = ex.parameter("w").to_host();
  ex.set_parameter("w", {1, 2, 3, 4, 5, 6});
  CHECK_THROWS_WITH(save_checkpoint(path.string(), ex, nullptr, {2, 0, 0, {}},
                                    [] { throw IoError("test", "interrupted before the rename"); }),
                    Catch::Contains("interrupted"));
  auto position = load_checkpoint(path.string(), ex, nullptr);
  CHECK(position.epoch == 1);
  CHECK(ex.parameter("w").to_host() == first);
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(path.parent_path()))
    if (e.path().filename().string().rfind(path.filename().string(), 0) == 0) ++files;
  CHECK(files == 1);  // no temporary file left behind
  fs::remove(path);
}
