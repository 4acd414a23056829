// Optimizers: update every parameter of an Executor on the device from its gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "clnn/executor.hpp"

namespace clnn::optim {

// What the trainer and checkpoints need of any optimizer.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual float lr() const = 0;
  virtual void set_lr(float lr) = 0;
  // The per-parameter state, named "<parameter>/<slot>", in a fixed order (live tensors).
  virtual std::vector<std::pair<std::string, Tensor>> slots() const = 0;
  // Steps taken (Adam's bias correction depends on it).
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }
  // The factor step() applies to the gradients first: 1 / the loss scale after a backward of a
  // scaled loss (LossScaler), else 1 (the default), which leaves them untouched.
  float grad_scale() const { return grad_scale_; }
  void set_grad_scale(float scale);

 protected:
  std::int64_t steps_ = 0;
  float grad_scale_ = 1.0f;
};

struct SGDOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // L2: added to the gradient as weight_decay * param
};

// v = momentum * v + (g + wd * p);  p -= lr * (nesterov ? g + wd * p + momentum * v : v)
class SGD : public Optimizer {
 public:
  SGD(Executor& executor, SGDOptions options);
  void step() override;
  float lr() const override { return options_.lr; }
  void set_lr(float lr) override { options_.lr = lr; }
  std::vector<std::pair<std::string, Tensor>> slots() const override;
  SGDOptions& options() { return options_; }

 private:
  Executor& executor_;
  SGDOptions options_;
  std::vector<Tensor> velocity_;
};

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled_weight_decay = false;  // true: AdamW (p -= lr * wd * p), else L2 in the gradient
};

class Adam : public Optimizer {
 public:
  Adam(Executor& executor, AdamOptions options);
  void step() override;
  float lr() const override { return options_.lr; }
  void set_lr(float lr) override { options_.lr = lr; }
  std::vector<std::pair<std::string, Tensor>> slots() const override;
  AdamOptions& options() { return options_; }

 private:
  Executor& executor_;
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
};

// Adam with decoupled weight decay.
AdamOptions adamw(float lr, float weight_decay);

struct LossScalerOptions {
  float initial_scale = 65536.0f;     // 2^16, as PyTorch's GradScaler
  float growth = 2.0f;                // the scale after growth_interval finite steps in a row
  float backoff = 0.5f;               // ... and after a step with a non-finite gradient
  std::int64_t growth_interval = 2000;
};

// Dynamic loss scaling for training whose gradients pass through fp16 (Precision::fp16), where
// small ones would round to zero: backward runs on scale() * loss, the optimizer takes the
// gradients times 1 / scale(), and a step with an infinite or NaN gradient (the scale too high)
// is skipped and the scale backed off. The scales are powers of two by default, so in fp32 the
// scaled gradients are the unscaled ones, exactly, times the scale.
//
//   const float scale = scaler.scale();
//   ex.backward(loss, scale);
//   if (scaler.gradients_finite(ex)) { optimizer.set_grad_scale(1.0f / scale); optimizer.step(); }
class LossScaler {
 public:
  explicit LossScaler(LossScalerOptions options = {});
  float scale() const { return scale_; }
  // Whether every gradient of the executor's last backward is finite (it reads one flag from the
  // device, so it waits for the backward); then the scale grows or backs off for the next step.
  bool gradients_finite(const Executor& executor);
  std::int64_t skipped() const { return skipped_; }  // steps found non-finite so far

 private:
  LossScalerOptions options_;
  float scale_;
  std::int64_t finite_in_a_row_ = 0, skipped_ = 0;
  Tensor found_;  // 1 where the last check found a non-finite gradient; made on first use
};

}  // namespace clnn::optim
