// Optimizers: update every parameter of an Executor on the device from its gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "clnn/executor.hpp"

namespace clnn::optim {

class LossScaler;

// What the trainer and checkpoints need of any optimizer.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Updates every parameter from its gradient (enqueued; nothing waits for the device).
  void step() { update(nullptr); }
  virtual float lr() const = 0;
  virtual void set_lr(float lr) = 0;
  // The per-parameter state, named "<parameter>/<slot>", in a fixed order (live tensors).
  virtual std::vector<std::pair<std::string, Tensor>> slots() const = 0;
  // Steps taken (Adam's bias correction depends on it); one that loss scaling skipped is not.
  // The count is kept on the device, where the skipping is decided: reading it waits for the
  // queue.
  std::int64_t steps() const;
  void set_steps(std::int64_t steps);
  // The factor step() applies to the gradients first, 1 by default: 1 / the number of ranks
  // whose gradients were summed. (A loss scale is undone apart: LossScaler::step.)
  float grad_scale() const { return grad_scale_; }
  void set_grad_scale(float scale);

 protected:
  explicit Optimizer(const Executor& executor);
  // Enqueues the update kernels. gate: a LossScaler's device state, whose step they skip where
  // it found a non-finite gradient and whose scale they undo; null: none.
  virtual void enqueue_update(const Tensor* gate) = 0;
  // No fewer than the steps taken: the steps set last plus the updates enqueued since.
  std::int64_t steps_bound() const { return steps_bound_; }
  const Tensor& taken() const { return taken_; }  // steps() on the device

  const Executor& executor_;
  float grad_scale_ = 1.0f;

 private:
  friend class LossScaler;
  // enqueue_update, then one more step taken unless the gate skipped it.
  void update(const Tensor* gate);

  Tensor taken_;  // [1]: the steps taken, a uint's bits
  std::int64_t steps_bound_ = 0;
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
  float lr() const override { return options_.lr; }
  void set_lr(float lr) override { options_.lr = lr; }
  std::vector<std::pair<std::string, Tensor>> slots() const override;
  SGDOptions& options() { return options_; }

 private:
  void enqueue_update(const Tensor* gate) override;

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
  float lr() const override { return options_.lr; }
  void set_lr(float lr) override { options_.lr = lr; }
  std::vector<std::pair<std::string, Tensor>> slots() const override;
  AdamOptions& options() { return options_; }

 private:
  void enqueue_update(const Tensor* gate) override;
  // Makes corrections_ hold the bias corrections of every step up to t (or up to where both
  // round to 1).
  void cover_corrections(std::int64_t t);

  AdamOptions options_;
  std::vector<Tensor> m_, v_;
  Tensor corrections_;      // c1 and c2 of steps 1, 2, ..., known_ (cl_kernels/optim.cl)
  std::int64_t known_ = 0;  // steps corrections_ covers
  bool saturated_ = false;  // from known_ + 1 on both corrections round to 1
};

// Adam with decoupled weight decay.
AdamOptions adamw(float lr, float weight_decay);

struct LossScalerOptions {
  float initial_scale = 65536.0f;     // 2^16, as PyTorch's GradScaler
  float growth = 2.0f;                // the scale after growth_interval finite steps in a row
  float backoff = 0.5f;               // ... and after a step with a non-finite gradient
  std::int64_t growth_interval = 2000;
};

// What a loss scaler carries from one step to the next (checkpoints keep it).
struct LossScalerState {
  float scale = 65536.0f;
  std::int64_t finite_in_a_row = 0;  // since the scale last changed
  std::int64_t skipped = 0;          // steps skipped so far
};

// Dynamic loss scaling for training whose gradients pass through fp16 (Precision::fp16), where
// small ones would round to zero: backward runs on scale * loss, the optimizer takes the
// gradients times 1 / scale, and a step with an infinite or NaN gradient (the scale too high) is
// skipped and the scale backed off. The scales are powers of two by default, so in fp32 the
// scaled gradients are the unscaled ones, exactly, times the scale.
//
// Its state lives on the device, which decides each step: nothing waits for the host.
//
//   ex.backward(loss, scaler.device_state());
//   scaler.step(ex, optimizer);
class LossScaler {
 public:
  LossScaler(const Context& ctx, LossScalerOptions options = {});
  // The state on the device; its first element is the scale, which backward reads.
  const Tensor& device_state() const { return state_; }
  // After a backward of the scaled loss: the optimizer's step, unless a gradient is infinite or
  // NaN, on the gradients times 1 / scale; then the scale grows or backs off for the next step.
  void step(const Executor& executor, Optimizer& optimizer);
  // These read the device: they wait for the queue.
  float scale() const;
  std::int64_t skipped() const;  // steps found non-finite so far
  LossScalerState state() const;
  void set_state(const LossScalerState& state);

 private:
  LossScalerOptions options_;
  Tensor state_;  // cl_kernels/optim.cl's SCALE_AT, FOUND_AT, UNSCALE_AT, IN_A_ROW_AT, SKIPPED_AT
  bool interrupted_ = false;  // the last step() threw part of the way
};

}  // namespace clnn::optim
