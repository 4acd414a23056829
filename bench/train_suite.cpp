// The train suite: Fashion-MNIST training of clnn-fashion's large model (batch 128 unless
// --batch), in images per second of the training loop (uploads, forward, backward, Adam). A full
// epoch on GPUs; on other devices the first `steps` batches (--steps), as the rate is steady
// after the first few. Distributed (--distributed under mpirun), the ranks train together on
// the same whole batches, and rank 0 alone over them first: the baseline of the scaling
// efficiency, total images/s / (ranks x one rank's).
#include <fmt/format.h>

#include <sstream>

#include "bench.hpp"
#include "clnn/clnn.hpp"
#include "models.hpp"

namespace clnn::bench {

namespace {

// images/s of `steps` batches, after a short warm-up run that builds every program.
train::EpochMetrics images_per_second(const Context& ctx, const data::FashionMnist& data,
                                      const data::ImageSet& eval, const Options& options,
                                      std::int64_t steps, dist::Communicator* communicator) {
  const std::int64_t batch = options.batch;
  train::Options o;
  o.epochs = 1;
  o.batch_size = batch;
  o.lr = 1e-3f;
  o.progress_steps = steps;
  std::ostringstream log;
  o.log = &log;
  o.communicator = communicator;
  o.bucket_bytes = options.bucket_bytes;
  o.limit = 2 * batch;
  train::Trainer(ctx, samples::fashion_model("large"), data.train, eval, o).fit();
  o.limit = steps * batch;
  train::Trainer trainer(ctx, samples::fashion_model("large"), data.train, eval, o);
  return trainer.fit().at(0);
}

}  // namespace

std::vector<Record> train_suite(const Context& ctx, const Options& options) {
  const data::FashionMnist data = data::load_fashion_mnist(options.data_dir);
  const std::int64_t batch = options.batch;
  const std::int64_t steps = options.steps > 0                       ? options.steps
                             : ctx.device().type == DeviceType::gpu ? data.train.count / batch
                                                                     : 30;
  data::ImageSet eval = data.test;  // evaluation is not timed; a few images keep it short
  eval.count = batch;
  eval.pixels.resize(std::size_t(batch * eval.rows * eval.cols));
  eval.labels.resize(std::size_t(batch));

  dist::Communicator* comm = options.communicator;
  const int ranks = comm ? comm->size() : 1;
  const bool reports = !comm || comm->rank() == 0;
  // One device alone over the whole batches (rank 0's, while the others wait for it).
  double alone = 0, alone_seconds = 0;
  if (reports) {
    const auto m = images_per_second(ctx, data, eval, options, steps, nullptr);
    alone = m.images_per_second;
    alone_seconds = m.seconds;
  }
  Record r;
  r["model"] = "large";
  r["batch"] = batch;
  r["steps"] = steps;
  r["full_epoch"] = steps * batch >= data.train.count - batch;
  r["images_per_second"] = alone;
  r["seconds"] = alone_seconds;
  if (reports)
    fmt::print("large model, batch {}, {} steps: {:.0f} images/s ({:.1f} s)\n", batch, steps,
               alone, alone_seconds);
  if (ranks == 1) return {r};

  comm->sum(&alone, 1);
  const auto together = images_per_second(ctx, data, eval, options, steps, comm);
  const double efficiency = together.images_per_second / (double(ranks) * alone);
  r["ranks"] = ranks;
  r["ranks_images_per_second"] = together.images_per_second;
  r["images_per_second_per_rank"] = together.images_per_second / ranks;
  r["scaling_efficiency"] = efficiency;
  r["bucket_bytes"] = options.bucket_bytes;
  if (reports)
    fmt::print("{} ranks, {} images each of every batch, buckets of {} bytes: {:.0f} images/s in "
               "total, {:.0f} a rank ({:.1f} s); scaling efficiency {:.2f} against one rank alone\n",
               ranks, batch / ranks, options.bucket_bytes, together.images_per_second,
               together.images_per_second / ranks, together.seconds, efficiency);
  return {r};
}

}  // namespace clnn::bench
