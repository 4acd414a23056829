// Parameter updates. Each launch updates up to SLOTS parameters (a training step had taken one
// launch per parameter, most too small to fill a GPU: 16 of them, 0.1 ms a step, for the large
// Fashion-MNIST model on the H200). Slot j holds parameter j's tensors and the launch's elements
// [ends[j - 1], ends[j]) (ends[-1] = 0); an unused slot repeats the last used one's tensors and
// end, so it holds no element.
#define SLOTS 8

// The slot of element i of the launch, and where that slot's elements start.
int slot_of(const ulong i, const ulong8 ends) {
  return (i >= ends.s0) + (i >= ends.s1) + (i >= ends.s2) + (i >= ends.s3) + (i >= ends.s4) +
         (i >= ends.s5) + (i >= ends.s6);
}

ulong slot_start(const int j, const ulong8 ends) {
  switch (j) {
    case 1: return ends.s0;
    case 2: return ends.s1;
    case 3: return ends.s2;
    case 4: return ends.s3;
    case 5: return ends.s4;
    case 6: return ends.s5;
    case 7: return ends.s6;
    default: return 0;
  }
}

// Calls UPDATE(j) for the slot j of element i (at: its index in that slot's tensors), for every
// element of the launch in a grid-stride loop.
#define FOR_EACH_SLOT_ELEMENT(at, UPDATE)                                      \
  for (ulong i_ = get_global_id(0); i_ < ends.s7; i_ += get_global_size(0)) { \
    const int j_ = slot_of(i_, ends);                                          \
    const ulong at = i_ - slot_start(j_, ends);                                \
    switch (j_) {                                                              \
      case 0: UPDATE(0); break;                                                \
      case 1: UPDATE(1); break;                                                \
      case 2: UPDATE(2); break;                                                \
      case 3: UPDATE(3); break;                                                \
      case 4: UPDATE(4); break;                                                \
      case 5: UPDATE(5); break;                                                \
      case 6: UPDATE(6); break;                                                \
      default: UPDATE(7); break;                                               \
    }                                                                          \
  }

// A loss scaler's state (optim::LossScaler), kept on the device so that no step waits for the
// host's decision: backward seeds the loss's gradient with SCALE_AT, find_nonfinite sets
// FOUND_AT, the update kernels skip a step where it is set and otherwise read the gradient times
// UNSCALE_AT, and update_loss_scale then moves the scale. The counters are uints.
#define SCALE_AT 0
#define FOUND_AT 1
#define UNSCALE_AT 2  // 1 / the scale
#define IN_A_ROW_AT 3  // finite steps since the scale last changed
#define SKIPPED_AT 4

// Whether a step's update is skipped: gate is the loss scaler's state, or null without one.
bool skip_step(__global const float* gate) {
  return gate && gate[FOUND_AT] != 0.0f;
}

// Both optimizers read the gradient as grad_scale * g, times 1 / the loss scale where the loss
// was scaled: grad_scale is 1 / the number of ranks summing their gradients, else 1, which
// leaves g as it is.
float gradient_factor(const float grad_scale, __global const float* gate) {
  return gate ? grad_scale * gate[UNSCALE_AT] : grad_scale;
}

// SGD with momentum, Nesterov and L2 weight decay (PyTorch's formulation):
//   g' = g + wd * p;  v = momentum * v + g';  p -= lr * (nesterov ? g' + momentum * v : v)
// Without momentum v is not touched (it may be a placeholder).
void sgd_update(__global float* p, __global const float* g, __global float* v, const ulong i,
                const float lr, const float momentum, const float weight_decay,
                const int nesterov, const float grad_scale) {
  float grad = grad_scale * g[i] + weight_decay * p[i];
  if (momentum != 0.0f) {
    float velocity = momentum * v[i] + grad;
    v[i] = velocity;
    grad = nesterov ? grad + momentum * velocity : velocity;
  }
  p[i] -= lr * grad;
}

#define SGD_SLOT(j) __global float *p##j, __global const float *g##j, __global float *v##j
#define SGD_UPDATE(j) \
  sgd_update(p##j, g##j, v##j, at, lr, momentum, weight_decay, nesterov, grad_scale)

__kernel void sgd_step(const float lr, const float momentum, const float weight_decay,
                       const int nesterov, const float scale, __global const float* gate,
                       const ulong8 ends, SGD_SLOT(0), SGD_SLOT(1), SGD_SLOT(2), SGD_SLOT(3),
                       SGD_SLOT(4), SGD_SLOT(5), SGD_SLOT(6), SGD_SLOT(7)) {
  if (skip_step(gate)) return;
  const float grad_scale = gradient_factor(scale, gate);
  FOR_EACH_SLOT_ELEMENT(at, SGD_UPDATE)
}

// Adam / AdamW. c1 = 1 - beta1^t and c2 = 1 - beta2^t are the bias corrections for step t.
// decoupled: p -= lr * wd * p (AdamW); otherwise wd * p is added to the gradient (L2).
void adam_update(__global float* p, __global const float* g, __global float* m, __global float* v,
                 const ulong i, const float lr, const float beta1, const float beta2,
                 const float eps, const float weight_decay, const int decoupled, const float c1,
                 const float c2, const float grad_scale) {
  float param = p[i];
  float grad = grad_scale * g[i];
  if (decoupled)
    param -= lr * weight_decay * param;
  else
    grad += weight_decay * param;
  const float mi = beta1 * m[i] + (1.0f - beta1) * grad;
  const float vi = beta2 * v[i] + (1.0f - beta2) * grad * grad;
  m[i] = mi;
  v[i] = vi;
  p[i] = param - lr * (mi / c1) / (sqrt(vi / c2) + eps);
}

#define ADAM_SLOT(j) \
  __global float *p##j, __global const float *g##j, __global float *m##j, __global float *v##j
#define ADAM_UPDATE(j) \
  adam_update(p##j, g##j, m##j, v##j, at, lr, beta1, beta2, eps, weight_decay, decoupled, c1, \
              c2, grad_scale)

// The step's t is one more than the steps taken (*taken; a step skipped by loss scaling is not
// taken), and corrections[2 (t - 1)] and [2 (t - 1) + 1] are its c1 and c2, computed on the host
// in double for the first `known` steps; from there on both round to 1 in float.
__kernel void adam_step(const float lr, const float beta1, const float beta2, const float eps,
                        const float weight_decay, const int decoupled,
                        __global const float* corrections, const uint known,
                        __global const uint* taken, const float scale,
                        __global const float* gate, const ulong8 ends, ADAM_SLOT(0),
                        ADAM_SLOT(1), ADAM_SLOT(2), ADAM_SLOT(3), ADAM_SLOT(4), ADAM_SLOT(5),
                        ADAM_SLOT(6), ADAM_SLOT(7)) {
  if (skip_step(gate)) return;
  const float grad_scale = gradient_factor(scale, gate);
  const uint t = *taken + 1;
  const float c1 = t <= known ? corrections[2 * (t - 1)] : 1.0f;
  const float c2 = t <= known ? corrections[2 * (t - 1) + 1] : 1.0f;
  FOR_EACH_SLOT_ELEMENT(at, ADAM_UPDATE)
}

// After an optimizer's update launches: one more step taken, unless the gate skipped it. (This
// and update_loss_scale are launches of one work-group, of which the first work-item works.)
__kernel void count_step(__global uint* taken, __global const float* gate) {
  if (get_global_id(0) == 0 && !skip_step(gate)) *taken += 1;
}

// Sets a loss scaler's FOUND_AT to 1 where an element of the slots' gradients is infinite or NaN
// (read from the exponent bits: fast-math builds may fold isfinite away): that step is skipped.
#define GRAD_SLOT(j) __global const float *g##j
#define FIND_NONFINITE(j) \
  if ((as_uint(g##j[at]) & 0x7f800000u) == 0x7f800000u) state[FOUND_AT] = 1.0f

__kernel void find_nonfinite(__global float* state, const ulong8 ends, GRAD_SLOT(0), GRAD_SLOT(1),
                             GRAD_SLOT(2), GRAD_SLOT(3), GRAD_SLOT(4), GRAD_SLOT(5),
                             GRAD_SLOT(6), GRAD_SLOT(7)) {
  FOR_EACH_SLOT_ELEMENT(at, FIND_NONFINITE)
}

// After a step checked by find_nonfinite: a step skipped backs the scale off (never below the
// smallest normal float: a scale that keeps failing says the gradients themselves are not
// finite) and counts it; growth_interval finite steps in a row grow it (where that stays
// finite). FOUND_AT is cleared for the next step.
__kernel void update_loss_scale(__global float* state, const float growth, const float backoff,
                                const uint growth_interval) {
  if (get_global_id(0) != 0) return;
  __global uint* counters = (__global uint*)state;
  float scale = state[SCALE_AT];
  if (state[FOUND_AT] != 0.0f) {
    scale = fmax(scale * backoff, FLT_MIN);
    counters[IN_A_ROW_AT] = 0;
    counters[SKIPPED_AT] += 1;
  } else if (counters[IN_A_ROW_AT] + 1 == growth_interval) {
    const float grown = scale * growth;
    if ((as_uint(grown) & 0x7f800000u) != 0x7f800000u) scale = grown;
    counters[IN_A_ROW_AT] = 0;
  } else {
    counters[IN_A_ROW_AT] += 1;
  }
  state[SCALE_AT] = scale;
  state[UNSCALE_AT] = 1.0f / scale;
  state[FOUND_AT] = 0.0f;
}
