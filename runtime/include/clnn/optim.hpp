// Optimizers: update every parameter of an Executor on the device from its gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "clnn/executor.hpp"

namespace clnn::optim {

struct SGDOptions {
  float lr = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // L2: added to the gradient as weight_decay * param
};

// v = momentum * v + (g + wd * p);  p -= lr * (nesterov ? g + wd * p + momentum * v : v)
class SGD {
 public:
  SGD(Executor& executor, SGDOptions options);
  void step();
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

class Adam {
 public:
  Adam(Executor& executor, AdamOptions options);
  void step();
  AdamOptions& options() { return options_; }
  std::int64_t steps() const { return steps_; }

 private:
  Executor& executor_;
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
  std::int64_t steps_ = 0;
};

// Adam with decoupled weight decay.
AdamOptions adamw(float lr, float weight_decay);

}  // namespace clnn::optim
