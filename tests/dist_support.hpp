// Shared by the data-parallel tests (test_dist.cpp over MPI, test_dist_threads.cpp over
// threads): a small synthetic image set, a model with dropout and no batch norm, and
// comparisons of trained parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "clnn/clnn.hpp"

namespace clnn::test {

// 12x12 images of 4 classes: a bright square whose corner tells the class, over noise.
inline data::ImageSet synthetic_images(std::int64_t count, std::uint64_t seed) {
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

inline const data::ImageSet& dist_train_set() {
  static const data::ImageSet set = synthetic_images(640, 1);
  return set;
}
inline const data::ImageSet& dist_test_set() {
  static const data::ImageSet set = synthetic_images(203, 2);  // not a multiple of the ranks
  return set;
}

// No batch norm (whose statistics are each rank's own), and dropout, whose masks the ranks'
// shares must draw as the whole batch would.
inline Value dist_model(Graph& g, const Value& images) {
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

// Two epochs of 20 steps of a batch of 16, over `communicator` (null: one rank).
inline train::Options dist_options(std::ostream& log, dist::Communicator* communicator) {
  train::Options o;
  o.epochs = 2;
  o.batch_size = 16;
  o.limit = 320;
  o.optimizer = train::OptimizerKind::adam;
  o.lr = 0.01f;
  o.progress_steps = 7;
  o.log = &log;
  o.communicator = communicator;
  o.bucket_bytes = 2048;  // several buckets even for this small model
  return o;
}

// A Trainer of the model above on the sets above.
inline std::unique_ptr<train::Trainer> dist_trainer(const Context& ctx, const train::Options& o) {
  return std::make_unique<train::Trainer>(ctx, dist_model, dist_train_set(), dist_test_set(), o);
}

inline std::vector<std::vector<float>> parameters_of(train::Trainer& trainer) {
  std::vector<std::vector<float>> values;
  for (const Value& p : trainer.executor().parameters())
    values.push_back(trainer.executor().parameter(p.name()).to_host());
  return values;
}

// max |a - b| <= tolerance * max |b|, parameter by parameter.
inline void check_close(const std::vector<std::vector<float>>& a,
                        const std::vector<std::vector<float>>& b, double tolerance) {
  CHECK(a.size() == b.size());
  for (std::size_t p = 0; p < std::min(a.size(), b.size()); ++p) {
    CHECK(a[p].size() == b[p].size());
    if (a[p].size() != b[p].size()) continue;
    double difference = 0, scale = 0;
    for (std::size_t i = 0; i < a[p].size(); ++i) {
      difference = std::max(difference, std::abs(double(a[p][i]) - double(b[p][i])));
      scale = std::max(scale, std::abs(double(b[p][i])));
    }
    INFO("parameter " << p << ": max difference " << difference << " of max " << scale);
    CHECK(difference <= tolerance * scale);
  }
}

}  // namespace clnn::test
