// The train suite: Fashion-MNIST training of clnn-fashion's large model, batch 128, in images per
// second of the training loop (uploads, forward, backward, Adam). A full epoch on GPUs; on other
// devices the first `steps` batches (--steps), as the rate is steady after the first few.
#include <fmt/format.h>

#include <sstream>

#include "bench.hpp"
#include "clnn/clnn.hpp"
#include "models.hpp"

namespace clnn::bench {

std::vector<Record> train_suite(const Context& ctx, const Options& options) {
  const data::FashionMnist data = data::load_fashion_mnist(options.data_dir);
  const std::int64_t batch = 128;
  const std::int64_t steps = options.steps > 0                       ? options.steps
                             : ctx.device().type == DeviceType::gpu ? data.train.count / batch
                                                                     : 30;
  data::ImageSet eval = data.test;  // evaluation is not timed; a few images keep it short
  eval.count = batch;
  eval.pixels.resize(std::size_t(batch * eval.rows * eval.cols));
  eval.labels.resize(std::size_t(batch));

  train::Options o;
  o.epochs = 1;
  o.batch_size = batch;
  o.limit = steps * batch;
  o.lr = 1e-3f;
  o.progress_steps = steps;
  std::ostringstream log;
  o.log = &log;
  train::Trainer trainer(ctx, samples::fashion_model("large"), data.train, eval, o);
  // A short warm-up run builds every program before the timed one.
  {
    train::Options w = o;
    w.limit = 2 * batch;
    train::Trainer warm(ctx, samples::fashion_model("large"), data.train, eval, w);
    warm.fit();
  }
  auto metrics = trainer.fit();
  Record r;
  r["model"] = "large";
  r["batch"] = batch;
  r["steps"] = steps;
  r["full_epoch"] = steps * batch >= data.train.count - batch;
  r["images_per_second"] = metrics.at(0).images_per_second;
  r["seconds"] = metrics.at(0).seconds;
  fmt::print("large model, batch {}, {} steps: {:.0f} images/s ({:.1f} s)\n", batch, steps,
             metrics[0].images_per_second, metrics[0].seconds);
  return {r};
}

}  // namespace clnn::bench
