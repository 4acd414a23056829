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

 protected:
  std::int64_t steps_ = 0;
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

}  // namespace clnn::optim
