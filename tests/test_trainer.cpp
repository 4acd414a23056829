// The trainer: a short run on real Fashion-MNIST that learns, exact resumption from a checkpoint,
// and its metrics files.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support.hpp"

namespace fs = std::filesystem;
using namespace clnn;
using clnn::test::context;

namespace {

// CLNN_TEST_FASHION_DIR points elsewhere than the Debian package's folder (a copied bundle).
const data::FashionMnist& fashion() {
  static const data::FashionMnist data = [] {
    const char* dir = std::getenv("CLNN_TEST_FASHION_DIR");
    return data::load_fashion_mnist(dir ? dir : data::kFashionMnistDir);
  }();
  return data;
}

// The first 1000 test images: evaluation after every epoch stays quick.
const data::ImageSet& test_subset() {
  static const data::ImageSet subset = [] {
    data::ImageSet s = fashion().test;
    s.count = 1000;
    s.pixels.resize(std::size_t(s.count * s.rows * s.cols));
    s.labels.resize(std::size_t(s.count));
    return s;
  }();
  return subset;
}

// Small enough for seconds on a CPU, with batch norm (state) and dropout (per-step randomness).
Value small_model(Graph& g, const Value& images) {
  nn::Sequential net;
  net.emplace<nn::Conv2d>(g, "conv", 1, 4, 3, nn::ConvLayerOptions{2, 1});
  net.emplace<nn::BatchNorm>(g, "bn", 4);
  net.emplace<nn::ReLU>();
  net.emplace<nn::MaxPool>(2);
  net.emplace<nn::Flatten>();
  net.emplace<nn::Dropout>(0.2f, 5);
  net.emplace<nn::Linear>(g, "fc", 4 * 7 * 7, 10);
  return net(images);
}

train::Options options(std::ostream& log, std::int64_t epochs) {
  train::Options o;
  o.epochs = epochs;
  o.batch_size = 50;
  o.limit = 1000;
  o.lr = 0.01f;
  o.optimizer = train::OptimizerKind::sgd;
  o.schedule = train::Schedule::cosine;
  o.progress_steps = 5;
  o.log = &log;
  return o;
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("clnn-train-" + std::to_string(getpid()) + "-" + name);
}

}  // namespace

TEST_CASE("one epoch on 6000 Fashion-MNIST images learns well above chance", "[train]") {
  std::ostringstream log;
  train::Options o = options(log, 1);
  o.limit = 6000;
  o.optimizer = train::OptimizerKind::adam;
  o.lr = 0.005f;
  train::Trainer trainer(context(), small_model, fashion().train, test_subset(), o);
  auto metrics = trainer.fit();
  REQUIRE(metrics.size() == 1);
  INFO(log.str());
  CHECK(metrics[0].test_accuracy > 0.6);  // chance is 0.1
  CHECK(metrics[0].images_per_second > 0);
  CHECK(log.str().find("images/s  ETA") != std::string::npos);
  auto evaluation = trainer.evaluate(test_subset());
  CHECK(evaluation.accuracy == Approx(metrics[0].test_accuracy));
  std::int64_t total = 0;
  for (auto n : evaluation.confusion) total += n;
  CHECK(total == test_subset().count);
  CHECK(train::format_confusion(evaluation).find("true\\pred") != std::string::npos);
}

TEST_CASE("training resumed from a checkpoint ends where uninterrupted training does",
          "[train][checkpoint]") {
  std::ostringstream log;
  train::Trainer straight(context(), small_model, fashion().train, test_subset(), options(log, 3));
  straight.fit();

  const auto checkpoint = temp_path("ckpt"), csv = temp_path("metrics.csv");
  {
    // The same run, interrupted after its first epoch.
    train::Options o = options(log, 3);
    o.checkpoint = checkpoint.string();
    o.metrics_csv = csv.string();
    train::Trainer first(context(), small_model, fashion().train, test_subset(), o);
    first.fit(1);
  }
  train::Options o = options(log, 3);
  o.checkpoint = checkpoint.string();
  o.metrics_csv = csv.string();
  train::Trainer resumed(context(), small_model, fashion().train, test_subset(), o);
  resumed.resume(checkpoint.string());
  CHECK(resumed.epoch() == 1);
  CHECK(resumed.fit().size() == 2);

  for (const Value& p : straight.executor().parameters())
    CHECK(resumed.executor().parameter(p.name()).to_host() ==
          straight.executor().parameter(p.name()).to_host());
  for (const Value& s : straight.executor().states())
    CHECK(resumed.executor().state(s.name()).to_host() ==
          straight.executor().state(s.name()).to_host());

  // The CSV holds all three epochs; the SVG of the curves sits beside it.
  std::ifstream in(csv);
  std::string line;
  int rows = -1;
  while (std::getline(in, line)) ++rows;
  CHECK(rows == 3);
  auto svg = fs::path(csv).replace_extension(".svg");
  REQUIRE(fs::exists(svg));
  std::ifstream svg_in(svg);
  std::string text((std::istreambuf_iterator<char>(svg_in)), std::istreambuf_iterator<char>());
  CHECK(text.find("<svg") == 0);
  CHECK(text.find("polyline") != std::string::npos);
  fs::remove(checkpoint);
  fs::remove(csv);
  fs::remove(svg);
}

TEST_CASE("loss scaling in the trainer leaves fp32 training bit for bit", "[train]") {
  // In fp32 a power-of-two loss scale changes no bit (test_optim); the trainer takes the scaled
  // path, checks the gradients and unscales them in the update.
  std::ostringstream plain_log, scaled_log;
  train::Trainer plain(context(), small_model, fashion().train, test_subset(),
                       options(plain_log, 1));
  train::Options o = options(scaled_log, 1);
  o.loss_scaling = true;
  train::Trainer scaled(context(), small_model, fashion().train, test_subset(), o);
  plain.fit();
  scaled.fit();
  for (const Value& p : plain.executor().parameters())
    CHECK(scaled.executor().parameter(p.name()).to_host() ==
          plain.executor().parameter(p.name()).to_host());
  CHECK_THAT(scaled_log.str(), Catch::Contains("loss scale 65536 (0 steps skipped so far)"));
  CHECK_THAT(plain_log.str(), !Catch::Contains("loss scale"));
}

TEST_CASE("a checkpoint keeps the loss scaler's state, and resuming takes it",
          "[train][checkpoint]") {
  const auto path =
      fs::temp_directory_path() / ("clnn-scaler-" + std::to_string(getpid()) + ".ckpt");
  std::ostringstream log;
  train::Options o = options(log, 1);
  o.loss_scaling = true;
  o.checkpoint = path.string();
  train::Trainer first(context(), small_model, fashion().train, test_subset(), o);
  first.fit();
  // The file holds the scaler: no step skipped, every step finite in a row.
  Executor& ex = first.executor();
  optim::SGDOptions so;
  so.momentum = o.momentum;  // the trainer's SGD, whose velocity slots the file holds
  optim::SGD sgd(ex, so);
  TrainingPosition position = load_checkpoint(path.string(), ex, &sgd);
  REQUIRE(position.loss_scaler);
  CHECK(position.loss_scaler->scale == 65536.0f);
  CHECK(position.loss_scaler->skipped == 0);
  CHECK(position.optimizer_steps == 20);
  CHECK(position.loss_scaler->finite_in_a_row == 20);
  // Another state written in: the resumed run goes on from it.
  position.loss_scaler = optim::LossScalerState{1024.0f, 5, 3};
  save_checkpoint(path.string(), ex, &sgd, position);
  std::ostringstream resumed_log;
  train::Options r = options(resumed_log, 2);
  r.loss_scaling = true;
  train::Trainer resumed(context(), small_model, fashion().train, test_subset(), r);
  resumed.resume(path.string());
  resumed.fit();
  CHECK_THAT(resumed_log.str(), Catch::Contains("loss scale 1024 (3 steps skipped so far)"));
  fs::remove(path);
}

TEST_CASE("trainer options and models are checked", "[train][errors]") {
  std::ostringstream log;
  auto wrong = [](Graph& g, const Value& images) {
    return nn::Linear(g, "fc", 28 * 28, 7)(flatten(images));
  };
  CHECK_THROWS_WITH(
      train::Trainer(context(), wrong, fashion().train, test_subset(), options(log, 1)),
      Catch::Contains("logits"));
  auto o = options(log, 0);
  CHECK_THROWS_AS(train::Trainer(context(), small_model, fashion().train, test_subset(), o), Error);
}
