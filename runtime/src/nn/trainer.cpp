// Trainer: the training loop (uploads of the next batch overlap the device's work, losses and
// hits are summed on the device and read only for progress lines), evaluation, metrics and
// checkpoints.
#include "clnn/train.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cl/kernel_call.hpp"
#include "cl/profiler.hpp"
#include "clnn/checkpoint.hpp"
#include "clnn/error.hpp"
#include "clnn/files.hpp"
#include "clnn/onnx.hpp"
#include "clnn/ops.hpp"
#include "clnn/optim.hpp"
#include "context_impl.hpp"
#include "io/metrics.hpp"
#include "nn/accuracy.hpp"
#include "nn/gradient_reducer.hpp"
#include "nn/rank_group.hpp"
#include "ops/common.hpp"

namespace clnn::train {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string duration_text(double seconds) {
  const long s = long(seconds + 0.5);
  std::ostringstream out;
  out << s / 60 << ":" << std::setw(2) << std::setfill('0') << s % 60;
  return out.str();
}

// The rows of the whole batch each rank trains on.
std::int64_t rows_per_rank(const Options& options) {
  const int ranks = options.communicator ? options.communicator->size() : 1;
  if (options.batch_size % ranks != 0)
    throw Error("Trainer: the batch of " + std::to_string(options.batch_size) +
                " does not split into equal shares for " + std::to_string(ranks) + " ranks");
  return options.batch_size / ranks;
}

// The graph of the model on one batch: images in, logits and loss out.
struct Network {
  Graph graph;
  Value images, labels, logits, loss;
  Network(const Model& model, std::int64_t batch, const data::ImageSet& set) {
    images = graph.input("images", {batch, 1, set.rows, set.cols});
    labels = graph.input("labels", {batch});
    logits = model(graph, images);
    if (logits.shape() != Shape{batch, set.classes})
      throw ShapeError("Trainer: the model's logits have shape " + to_string(logits.shape()) +
                       ", not [" + std::to_string(batch) + ", " + std::to_string(set.classes) +
                       "]");
    loss = softmax_cross_entropy(logits, labels);
  }
};

}  // namespace

struct Trainer::Impl {
  Impl(const Context& context, Model m, const data::ImageSet& train_set,
       const data::ImageSet& test_set, Options o)
      : ctx(context),
        model(std::move(m)),
        train(train_set),
        test(test_set),
        options(std::move(o)),
        group(options.communicator),
        rank(group.rank()),
        ranks(group.size()),
        out(rank != 0     ? silent
            : options.log ? *options.log
                          : std::cout),
        terminal(rank == 0 && !options.log && isatty(STDOUT_FILENO)),
        norm(data::pixel_statistics(train_set)),
        net(model, rows_per_rank(options), train_set),
        ex(ctx, net.graph, {net.logits, net.loss}, Mode::training),
        batcher(train_set, options.batch_size, options.seed, norm, true, options.limit),
        loss_sum(Tensor::zeros(ctx, {1})),
        correct(Tensor::zeros(ctx, {1})) {
    if (options.epochs < 1) throw Error("Trainer: epochs must be at least 1");
    // The files written after each epoch are checked now, not after the first epoch's work.
    group.on_rank0("write its files", [&] {
      if (!options.metrics_csv.empty()) {
        check_writable(options.metrics_csv);
        check_writable(detail::svg_path(options.metrics_csv));
      }
      if (!options.checkpoint.empty()) check_writable(options.checkpoint);
    });
    if (test_set.rows != train_set.rows || test_set.cols != train_set.cols)
      throw Error("Trainer: test images differ in size from training images");
    if (options.optimizer == OptimizerKind::sgd) {
      optim::SGDOptions so;
      so.lr = options.lr;
      so.momentum = options.momentum;
      so.weight_decay = options.weight_decay;
      optimizer = std::make_unique<optim::SGD>(ex, so);
    } else {
      optim::AdamOptions ao;
      ao.lr = options.lr;
      ao.weight_decay = options.weight_decay;
      optimizer = std::make_unique<optim::Adam>(ex, ao);
    }
    if (options.loss_scaling || ctx.precision() == Precision::fp16)
      scaler = std::make_unique<optim::LossScaler>(ctx);
    if (ranks > 1) {
      batcher.set_shard(rank, ranks);
      ex.set_shard(std::uint64_t(rank));
      reducer = std::make_unique<detail::GradientReducer>(ex, *options.communicator,
                                                          options.bucket_bytes);
    }
  }

  // Forward, backward and the update of one batch; with loss scaling, no update where a gradient
  // came out infinite or NaN, decided on the device. Ranks sum their gradients, so every rank
  // takes the same step.
  void train_step() {
    ex.forward();
    Executor::GradientReady gradient_ready;
    if (reducer) {
      reducer->begin_step();
      gradient_ready = [&](std::size_t p, const Tensor& g) { reducer->gradient_ready(p, g); };
    }
    if (scaler)
      ex.backward(net.loss, scaler->device_state(), gradient_ready);
    else
      ex.backward(net.loss, 1.0f, gradient_ready);
    if (reducer) reducer->finish();
    // Each rank's loss is the mean over its share: the mean of their sum is the whole batch's.
    optimizer->set_grad_scale(1.0f / float(ranks));
    if (scaler)
      scaler->step(ex, *optimizer);
    else
      optimizer->step();
  }

  // The sums of the loss and of the hits so far, over every rank.
  std::array<double, 2> metric_sums() {
    std::array<double, 2> sums{loss_sum.to_host()[0], correct.to_host()[0]};
    group.sum(sums.data(), sums.size());
    return sums;
  }

  // Every rank takes rank 0's parameters, state, optimizer state and position, once the ranks
  // have checked that they would then call collectives in step: their settings, model and data
  // agree.
  void synchronize() {
    std::int64_t floats = 0;
    for (const Value& p : ex.parameters()) floats += element_count(p.shape());
    group.check_agreement({options.epochs, options.batch_size, options.limit,
                           options.progress_steps, std::int64_t(options.bucket_bytes),
                           std::int64_t(options.seed), floats, train.count, test.count},
                          "options (epochs, batch_size, limit, progress_steps, bucket_bytes, "
                          "seed), model or data");
    group.take_rank0_state(ex, *optimizer, epoch);
    if (scaler) group.broadcast(scaler->device_state());
    synchronized = true;
  }

  float lr_at(std::int64_t epoch_index, std::int64_t step, std::int64_t steps) const {
    switch (options.schedule) {
      case Schedule::step:
        return options.lr * std::pow(options.step_gamma, float(epoch_index / options.step_epochs));
      case Schedule::cosine: {
        const double t = double(epoch_index * steps + step), total = double(options.epochs * steps);
        return float(options.lr * 0.5 * (1.0 + std::cos(M_PI * t / total)));
      }
      case Schedule::constant:
        break;
    }
    return options.lr;
  }

  void progress(std::int64_t step, std::int64_t steps, double elapsed, bool last) {
    const auto [losses, hits] = metric_sums();
    const double loss = losses / double(step * ranks);
    const double accuracy = hits / double(step * options.batch_size);
    const double rate = double(step * options.batch_size) / elapsed;
    std::ostringstream line;
    line << "epoch " << epoch + 1 << "/" << options.epochs << "  step " << step << "/" << steps
         << std::fixed << std::setprecision(4) << "  loss " << loss << "  accuracy " << accuracy
         << std::setprecision(0) << "  " << rate << " images/s  ETA "
         << duration_text(double(steps - step) * elapsed / double(step));
    if (terminal)
      out << "\r" << line.str() << (last ? "\n" : "") << std::flush;
    else
      out << line.str() << std::endl;  // flushed: logs are watched as they grow
  }

  EpochMetrics run_epoch() {
    const std::int64_t steps = batcher.batches_per_epoch();
    // The running sums' cost for the profiler: the loss added, the logits and labels read once.
    const double logits = double(element_count(net.logits.shape()));
    const double metrics_flops = 2.0 + logits;
    const double metrics_bytes = 4.0 * (3.0 + logits + double(options.batch_size));
    batcher.start_epoch(epoch);
    fill(loss_sum, 0.0f);
    fill(correct, 0.0f);
    auto& impl = detail::Access::impl(ctx);
    // Two host batches: while the device trains on one, the next is prepared and its upload
    // enqueued behind the step's kernels.
    std::vector<float> images[2], labels[2];
    Upload uploads[2][2];
    auto upload = [&](int slot) {
      uploads[slot][0] = ex.set_input_async("images", images[slot].data(), images[slot].size());
      uploads[slot][1] = ex.set_input_async("labels", labels[slot].data(), labels[slot].size());
    };
    batcher.next(images[0], labels[0]);
    upload(0);
    const auto start = Clock::now();
    for (std::int64_t step = 0; step < steps; ++step) {
      optimizer->set_lr(lr_at(epoch, step, steps));
      train_step();
      {
        detail::ProfileScope scope("metrics", metrics_flops, metrics_bytes);
        axpy(1.0f, ex.value(net.loss), loss_sum);
        detail::count_correct(impl, ex.value(net.logits), ex.value(net.labels), correct);
      }
      const int next = int((step + 1) % 2);
      uploads[next][0].wait();  // its host buffer is free once that upload is done
      uploads[next][1].wait();
      if (step + 1 < steps && batcher.next(images[next], labels[next])) upload(next);
      const bool last = step + 1 == steps;
      if ((step + 1) % options.progress_steps == 0 || last)
        progress(step + 1, steps, seconds_since(start), last);
    }
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.lr = optimizer->lr();
    const auto [losses, hits] = metric_sums();
    m.train_loss = losses / double(steps * ranks);
    m.train_accuracy = hits / double(steps * options.batch_size);
    m.seconds = seconds_since(start);
    m.images_per_second = double(steps * options.batch_size) / m.seconds;
    return m;
  }

  // The inference network and executor, made on first use.
  void ensure_eval(const data::ImageSet& set) {
    if (eval_net) return;
    eval_net = std::make_unique<Network>(model, options.batch_size, set);
    eval_ex = std::make_unique<Executor>(ctx, eval_net->graph, std::vector<Value>{eval_net->logits},
                                         Mode::inference);
  }

  Evaluation evaluate(const data::ImageSet& set) {
    // Its launches (the evaluation executor's passes too) form one row of the profile, apart
    // from the training step's.
    detail::ProfileScope scope(detail::kEvaluationScope, 0.0, 0.0);
    const std::int64_t batch = options.batch_size;
    ensure_eval(set);
    // Rank 0's batch-norm statistics are everyone's; each rank evaluates its share of the set.
    for (const Value& v : ex.states()) group.broadcast(ex.state(v.name()));
    const std::int64_t begin = set.count * rank / ranks, end = set.count * (rank + 1) / ranks;
    for (const Value& p : ex.parameters()) {
      Tensor dst = eval_ex->parameter(p.name());
      copy(ex.parameter(p.name()), dst);
    }
    for (const Value& s : ex.states()) {
      Tensor dst = eval_ex->state(s.name());
      copy(ex.state(s.name()), dst);
    }
    Evaluation e;
    e.classes = set.classes;
    e.confusion.assign(std::size_t(e.classes * e.classes), 0);
    const std::size_t pixels = std::size_t(set.rows * set.cols);
    std::vector<float> images(std::size_t(batch) * pixels);
    double loss = 0;
    for (std::int64_t first = begin; first < end; first += batch) {
      // The last batch is padded with zeros; its padding rows are not counted.
      const std::int64_t rows = std::min(batch, end - first);
      std::fill(images.begin(), images.end(), 0.0f);
      for (std::int64_t b = 0; b < rows; ++b)
        data::normalize_image(set, first + b, norm, images.data() + std::size_t(b) * pixels);
      eval_ex->set_input("images", images);
      eval_ex->forward();
      auto logits = eval_ex->value(eval_net->logits).to_host();
      for (std::int64_t b = 0; b < rows; ++b) {
        const float* row = logits.data() + b * set.classes;
        std::int64_t best = 0;
        double top = row[0];
        for (std::int64_t c = 1; c < set.classes; ++c)
          if (row[c] > row[best]) best = c, top = row[c];
        double total = 0;
        for (std::int64_t c = 0; c < set.classes; ++c) total += std::exp(double(row[c]) - top);
        const std::int64_t label = set.labels[std::size_t(first + b)];
        loss += top + std::log(total) - double(row[label]);
        ++e.confusion[std::size_t(label * set.classes + best)];
      }
    }
    if (ranks > 1) {
      std::vector<double> sums(e.confusion.begin(), e.confusion.end());
      sums.push_back(loss);
      group.sum(sums.data(), sums.size());
      loss = sums.back();
      for (std::size_t i = 0; i < e.confusion.size(); ++i) e.confusion[i] = std::int64_t(sums[i]);
    }
    std::int64_t hits = 0;
    for (std::int64_t c = 0; c < set.classes; ++c)
      hits += e.confusion[std::size_t(c * set.classes + c)];
    e.accuracy = double(hits) / double(set.count);
    e.loss = loss / double(set.count);
    return e;
  }

  Context ctx;
  Model model;
  const data::ImageSet& train;
  const data::ImageSet& test;
  Options options;
  detail::RankGroup group;  // one rank without data parallelism
  int rank, ranks;
  std::ostream silent{nullptr};  // the log of ranks other than 0
  std::ostream& out;
  bool terminal;
  data::Normalization norm;
  Network net;
  Executor ex;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<optim::LossScaler> scaler;  // null without loss scaling
  data::Batcher batcher;
  std::unique_ptr<detail::GradientReducer> reducer;  // null on one rank
  bool synchronized = false;                         // since the ranks last took rank 0's state
  Tensor loss_sum, correct;
  std::unique_ptr<Network> eval_net;
  std::unique_ptr<Executor> eval_ex;
  std::int64_t epoch = 0;
  std::vector<EpochMetrics> history;
};

Trainer::Trainer(const Context& ctx, Model model, const data::ImageSet& train,
                 const data::ImageSet& test, Options options)
    : impl_(std::make_unique<Impl>(ctx, std::move(model), train, test, std::move(options))) {}

Trainer::~Trainer() = default;

void Trainer::resume(const std::string& checkpoint) {
  auto& m = *impl_;
  m.group.on_rank0("resume from " + checkpoint, [&] {
    const TrainingPosition position = load_checkpoint(checkpoint, m.ex, m.optimizer.get());
    m.epoch = position.epoch;
    // A checkpoint of a run without loss scaling leaves this run's scaler at its start.
    if (m.scaler && position.loss_scaler) m.scaler->set_state(*position.loss_scaler);
    if (!m.options.metrics_csv.empty())
      m.history = detail::read_metrics_csv(m.options.metrics_csv, m.epoch);
  });
  if (m.ranks > 1) m.synchronize();
}

std::vector<EpochMetrics> Trainer::fit(std::int64_t until) {
  auto& m = *impl_;
  const std::int64_t last = until > 0 ? std::min(until, m.options.epochs) : m.options.epochs;
  std::vector<EpochMetrics> run;
  if (m.ranks > 1 && !m.synchronized) m.synchronize();
  while (m.epoch < last) {
    EpochMetrics metrics = m.run_epoch();
    Evaluation test = m.evaluate(m.test);
    metrics.test_loss = test.loss;
    metrics.test_accuracy = test.accuracy;
    ++m.epoch;
    m.out << std::fixed << std::setprecision(4) << "epoch " << m.epoch << ": train loss "
          << metrics.train_loss << " accuracy " << metrics.train_accuracy << ", test loss "
          << test.loss << " accuracy " << test.accuracy << std::setprecision(1) << ", "
          << metrics.seconds << " s, " << std::setprecision(0) << metrics.images_per_second
          << " images/s";
    if (m.scaler)
      m.out << ", loss scale " << m.scaler->scale() << " (" << m.scaler->skipped()
            << " steps skipped so far)";
    m.out << "\n";
    m.history.push_back(metrics);
    run.push_back(metrics);
    m.group.on_rank0("write the metrics or the checkpoint", [&] {
      if (!m.options.metrics_csv.empty()) detail::write_metrics(m.options.metrics_csv, m.history);
      if (!m.options.checkpoint.empty()) {
        TrainingPosition position{m.epoch, m.ex.step(), m.optimizer->steps(), std::nullopt};
        if (m.scaler) position.loss_scaler = m.scaler->state();
        save_checkpoint(m.options.checkpoint, m.ex, m.optimizer.get(), position);
      }
    });
  }
  return run;
}

Evaluation Trainer::evaluate(const data::ImageSet& set) {
  return impl_->evaluate(set);
}

void Trainer::export_onnx(const std::string& path) {
  impl_->ensure_eval(impl_->test);
  onnx::save(impl_->eval_net->graph, path, {impl_->eval_net->logits}, &impl_->ex);
}
std::int64_t Trainer::epoch() const {
  return impl_->epoch;
}
Executor& Trainer::executor() {
  return impl_->ex;
}

std::int64_t Trainer::parameter_count() const {
  std::int64_t count = 0;
  for (const Value& p : impl_->ex.parameters()) count += element_count(p.shape());
  return count;
}

std::string format_confusion(const Evaluation& e) {
  std::ostringstream out;
  out << "true\\pred";
  for (std::int64_t c = 0; c < e.classes; ++c) out << std::setw(6) << c;
  out << "\n";
  for (std::int64_t t = 0; t < e.classes; ++t) {
    out << std::setw(9) << t;
    for (std::int64_t c = 0; c < e.classes; ++c)
      out << std::setw(6) << e.confusion[std::size_t(t * e.classes + c)];
    out << "\n";
  }
  return out.str();
}

}  // namespace clnn::train
