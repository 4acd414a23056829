// Trainer: epochs of minibatch training of an image classifier, with a progress line, test-set
// evaluation (accuracy and confusion matrix), a metrics CSV and SVG of the curves, learning-rate
// schedules and checkpoints to resume from.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "clnn/context.hpp"
#include "clnn/data.hpp"
#include "clnn/dist.hpp"
#include "clnn/executor.hpp"
#include "clnn/graph.hpp"

namespace clnn::train {

enum class OptimizerKind { sgd, adam };
enum class Schedule { constant, step, cosine };

struct Options {
  std::int64_t epochs = 1;
  std::int64_t batch_size = 64;
  OptimizerKind optimizer = OptimizerKind::adam;
  float lr = 1e-3f;
  float momentum = 0.9f;  // SGD's
  float weight_decay = 0.0f;
  Schedule schedule = Schedule::constant;
  std::int64_t step_epochs = 1;  // Schedule::step: the rate falls every this many epochs
  float step_gamma = 0.5f;       // ... by this factor. Schedule::cosine falls every step to 0.
  std::uint64_t seed = 1;        // batch order and dropout
  std::int64_t limit = 0;        // > 0: train on the first `limit` images only
  std::string metrics_csv;       // one row per epoch, and an SVG of the curves beside it
  std::string checkpoint;        // written after every epoch
  std::int64_t progress_steps = 50;
  // Dynamic loss scaling (optim::LossScaler): always on where the context runs fp16, whose
  // gradients would otherwise round to zero where small; this turns it on in any precision.
  bool loss_scaling = false;
  std::ostream* log = nullptr;  // progress and results; nullptr: standard output
  // Data-parallel training (nullptr: none). Every rank makes the same Trainer and calls the same
  // functions; batch_size is the whole batch, of which each rank trains on its equal share, and
  // the gradients are summed over the ranks (in buckets of bucket_bytes, each summed as soon as
  // backward has made it) so that N ranks take the steps one would. Rank 0's parameters and
  // state are everyone's at the start (and after resume()); batch-norm statistics are each
  // rank's own in training, rank 0's in evaluation; only rank 0 writes the log, metrics and
  // checkpoints.
  dist::Communicator* communicator = nullptr;
  std::size_t bucket_bytes = std::size_t(1) << 20;
};

// Builds the classifier on images [B, 1, rows, cols] and returns logits [B, classes].
using Model = std::function<Value(Graph& graph, const Value& images)>;

struct EpochMetrics {
  std::int64_t epoch = 0;  // 1-based
  double lr = 0, train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
  double seconds = 0, images_per_second = 0;
};

struct Evaluation {
  double loss = 0, accuracy = 0;
  std::int64_t classes = 0;
  std::vector<std::int64_t> confusion;  // confusion[true_class * classes + predicted_class]
};

// The confusion matrix as a table.
std::string format_confusion(const Evaluation& evaluation);

class Trainer {
 public:
  Trainer(const Context& ctx, Model model, const data::ImageSet& train, const data::ImageSet& test,
          Options options);
  ~Trainer();

  // Loads a checkpoint: training continues after the epoch it was written at, exactly as it
  // would have without the interruption. With a communicator, rank 0 reads it (written by any
  // number of ranks) and the others take what it read.
  void resume(const std::string& checkpoint);
  // Trains from the current epoch to options.epochs (or to `until`, when given: a run stopped
  // early), evaluating on the test set after each.
  std::vector<EpochMetrics> fit(std::int64_t until = 0);
  // With a communicator, every rank calls it and evaluates its share of the set; all get the
  // whole set's result.
  Evaluation evaluate(const data::ImageSet& set);
  // Writes the trained classifier (images in, logits out, batch of options.batch_size) as an
  // ONNX model: onnx::save of the model with the trained parameters and state.
  void export_onnx(const std::string& path);

  std::int64_t epoch() const;  // epochs completed
  Executor& executor();
  std::int64_t parameter_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clnn::train
