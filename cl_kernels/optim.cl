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

// Both optimizers read the gradient as grad_scale * g: 1 / the loss scale where the loss was
// scaled (optim::LossScaler), else 1, which leaves g as it is.

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
                       const int nesterov, const float grad_scale, const ulong8 ends,
                       SGD_SLOT(0), SGD_SLOT(1), SGD_SLOT(2), SGD_SLOT(3), SGD_SLOT(4),
                       SGD_SLOT(5), SGD_SLOT(6), SGD_SLOT(7)) {
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

__kernel void adam_step(const float lr, const float beta1, const float beta2, const float eps,
                        const float weight_decay, const int decoupled, const float c1,
                        const float c2, const float grad_scale, const ulong8 ends,
                        ADAM_SLOT(0), ADAM_SLOT(1), ADAM_SLOT(2), ADAM_SLOT(3), ADAM_SLOT(4),
                        ADAM_SLOT(5), ADAM_SLOT(6), ADAM_SLOT(7)) {
  FOR_EACH_SLOT_ELEMENT(at, ADAM_UPDATE)
}

// Sets *found to 1 where an element of the slots' gradients is infinite or NaN (read from the
// exponent bits: fast-math builds may fold isfinite away). Loss scaling skips such a step.
#define GRAD_SLOT(j) __global const float *g##j
#define FIND_NONFINITE(j) \
  if ((as_uint(g##j[at]) & 0x7f800000u) == 0x7f800000u) *found = 1.0f

__kernel void find_nonfinite(__global float* found, const ulong8 ends, GRAD_SLOT(0), GRAD_SLOT(1),
                             GRAD_SLOT(2), GRAD_SLOT(3), GRAD_SLOT(4), GRAD_SLOT(5),
                             GRAD_SLOT(6), GRAD_SLOT(7)) {
  FOR_EACH_SLOT_ELEMENT(at, FIND_NONFINITE)
}
