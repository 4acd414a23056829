// Parameter updates, one element per work-item in a grid-stride loop.

// SGD with momentum, Nesterov and L2 weight decay (PyTorch's formulation):
//   g' = g + wd * p;  v = momentum * v + g';  p -= lr * (nesterov ? g' + momentum * v : v)
// Without momentum v is not touched (it may be a placeholder).
__kernel void sgd_step(__global float* p, __global const float* g, __global float* v,
                       const ulong n, const float lr, const float momentum,
                       const float weight_decay, const int nesterov) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float grad = g[i] + weight_decay * p[i];
    if (momentum != 0.0f) {
      float velocity = momentum * v[i] + grad;
      v[i] = velocity;
      grad = nesterov ? grad + momentum * velocity : velocity;
    }
    p[i] -= lr * grad;
  }
}

// Adam / AdamW. c1 = 1 - beta1^t and c2 = 1 - beta2^t are the bias corrections for step t.
// decoupled: p -= lr * wd * p (AdamW); otherwise wd * p is added to the gradient (L2).
__kernel void adam_step(__global float* p, __global const float* g, __global float* m,
                        __global float* v, const ulong n, const float lr, const float beta1,
                        const float beta2, const float eps, const float weight_decay,
                        const int decoupled, const float c1, const float c2) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    float param = p[i];
    float grad = g[i];
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
}
